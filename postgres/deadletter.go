package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// Dead letters live in the dead_letters table, one row per subscription key
// and event id, with the encoded event, the handler's error and the time
// it was parked, on the database's clock. They are written by Acknowledge,
// in the transaction that moves the cursor past them, with the
// acknowledgement's time.

var (
	_ evento.DeadLetterStore = (*Executor)(nil)
	_ evento.TxAcknowledger  = (*Executor)(nil)
)

// ackStatements are the statements of the acknowledgements that record an
// error or park events, of the dead letters, and of the subscription list.
type ackStatements struct {
	// acknowledgeAt stores the cursor and the lag, fenced, and returns the
	// acknowledgement's time. $1 cursor, $2 lag, $3 key, $4 owner,
	// $5 epoch.
	acknowledgeAt string
	// acknowledgeError also records the last error, with the same time as
	// updated_at: clock_timestamp() is read once, in the FROM clause.
	// $1 cursor, $2 lag, $3 error_event_id, $4 error_message,
	// $5 error_fatal, $6 key, $7 owner, $8 epoch.
	acknowledgeError string
	// park upserts one dead letter. $1 key, $2 event_id, $3 event,
	// $4 error, $5 parked_at.
	park string
	// deadLetters lists a key's dead letters, oldest first. $1 key,
	// $2 limit.
	deadLetters string
	// deleteDeadLetter removes one. $1 key, $2 event_id.
	deleteDeadLetter string
	// listSubscriptions returns every key's state, sorted byte by byte.
	listSubscriptions string
}

func newAckStatements(n names) ackStatements {
	s, d := n.subscriptions, n.deadLetters
	return ackStatements{
		acknowledgeAt: `UPDATE ` + s + ` SET cursor = $1, lag = $2, updated_at = pg_catalog.clock_timestamp()` +
			` WHERE "key" = $3 AND owner = $4 AND epoch = $5 RETURNING updated_at`,
		acknowledgeError: `UPDATE ` + s + ` SET cursor = $1, lag = $2, updated_at = ack.at,` +
			` error_event_id = $3, error_message = $4, error_at = ack.at, error_fatal = $5` +
			` FROM (SELECT pg_catalog.clock_timestamp() AS at) AS ack` +
			` WHERE "key" = $6 AND owner = $7 AND epoch = $8 RETURNING updated_at`,
		park: `INSERT INTO ` + d + ` ("key", event_id, event, error, parked_at) VALUES ($1, $2, $3, $4, $5)` +
			` ON CONFLICT ("key", event_id) DO UPDATE SET event = excluded.event, error = excluded.error,` +
			` parked_at = excluded.parked_at`,
		deadLetters: `SELECT event_id, event, error, parked_at FROM ` + d +
			` WHERE "key" = $1 ORDER BY parked_at, event_id COLLATE "C" LIMIT $2`,
		deleteDeadLetter: `DELETE FROM ` + d + ` WHERE "key" = $1 AND event_id = $2`,
		listSubscriptions: `SELECT "key", ` + sqlstore.StatusColumns(dialect) + ` FROM ` + s +
			` ORDER BY "key" COLLATE "C"`,
	}
}

// DeadLetters returns up to limit (1 to 10000) events parked under key,
// oldest first: by parked time, then event id, byte by byte. Another limit
// fails with an error matching evento.ErrInvalidArgument.
func (x *Executor) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	if err := sqlstore.CheckDeadLetterLimit(limit); err != nil {
		return nil, err
	}
	rows, err := x.pool.Query(ctx, x.stmt.acks.deadLetters, key, limit)
	if err != nil {
		return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
	}
	defer rows.Close()
	var out []*evento.DeadLetter
	for rows.Next() {
		dl := &evento.DeadLetter{Key: key}
		if err := rows.Scan(&dl.EventID, &dl.Event, &dl.Error, &dl.ParkedAt); err != nil {
			return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
		}
		if dl.Event == nil {
			dl.Event = []byte{}
		}
		dl.ParkedAt = dl.ParkedAt.UTC()
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
	}
	return out, nil
}

// DeleteDeadLetter removes the event eventID parked under key. It fails
// with an error matching evento.ErrNotFound when there is none.
func (x *Executor) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	tag, err := x.pool.Exec(ctx, x.stmt.acks.deleteDeadLetter, key, eventID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("%w: dead letter %s of %s", evento.ErrNotFound, eventID, key)
	}
	return nil
}

// DeleteDeadLetterTx deletes the dead letter of key and eventID in a
// transaction, calls fn with a context that carries it (a pgx.Tx, see
// evento.TxFrom) and commits when fn returns nil. It fails with an error
// matching evento.ErrNotFound, having called nothing, when there is no such
// dead letter; the row stays locked until the transaction ends, so two
// replays of one event cannot both commit.
func (x *Executor) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(ctx context.Context) error) error {
	tx, err := x.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: begin: %w", eventID, key, err)
	}
	defer rollbackAck(ctx, tx)
	tag, err := tx.Exec(ctx, x.stmt.acks.deleteDeadLetter, key, eventID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("%w: dead letter %s of %s", evento.ErrNotFound, eventID, key)
	}
	if fn != nil {
		if err := fn(evento.ContextWithTx(ctx, tx)); err != nil {
			return err
		}
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: commit: %w", eventID, key, err)
	}
	return nil
}

// AcknowledgeTx stores ack as Acknowledge does, in a transaction that fn
// shares: it begins the transaction, runs the fenced acknowledgement in it
// first, which locks the subscription's row until the transaction ends,
// calls fn with a context that carries the transaction, and commits when
// fn returns nil. When the lease is no longer current it fails with an
// error matching evento.ErrLeaseLost without calling fn; when fn fails it
// returns fn's error. Either way it rolls back, and nothing of ack or of
// fn's writes remains. It sets l.Cursor on success only. A COMMIT that
// started is not interrupted by ctx.
//
// The handler reaches the transaction with
//
//	tx, ok := evento.TxFrom[pgx.Tx](ctx)
//
// and writes through it. It must not commit or roll back tx itself, and
// must not write the rows it writes through tx through other connections
// too: they would wait for tx's row locks, which are held until fn
// returns. While fn runs, another worker's takeover of the lease waits for
// the subscription's row. The transaction has written, so it holds back
// the horizon of every reader of the global log (see the package
// documentation) until it ends: keep fn short.
func (x *Executor) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(ctx context.Context) error) error {
	if err := sqlstore.CheckAck(ack); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: %w", l.Key, err)
	}
	tx, err := x.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: begin: %w", l.Key, err)
	}
	defer rollbackAck(ctx, tx)
	if _, err := x.acknowledgeIn(ctx, tx, l, ack); err != nil {
		return err
	}
	if fn != nil {
		if err := fn(evento.ContextWithTx(ctx, tx)); err != nil {
			return err
		}
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: commit: %w", l.Key, err)
	}
	l.Cursor = ack.Cursor
	return nil
}

// ackQuerier runs the statements of an acknowledgement: the pool, or a
// transaction.
type ackQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// acknowledgeIn runs the fenced acknowledgement of ack on q and parks
// ack.Park with its time, which it returns. On the pool it must not park:
// only a transaction makes the two writes atomic.
func (x *Executor) acknowledgeIn(ctx context.Context, q ackQuerier, l *evento.Lease, ack evento.Ack) (time.Time, error) {
	var (
		at  time.Time
		err error
	)
	if e := ack.Error; e != nil {
		err = q.QueryRow(ctx, x.stmt.acks.acknowledgeError, string(ack.Cursor), ack.Lag.Microseconds(),
			e.EventID, validText(e.Message), e.Fatal, l.Key, l.Owner, l.Epoch).Scan(&at)
	} else {
		err = q.QueryRow(ctx, x.stmt.acks.acknowledgeAt, string(ack.Cursor), ack.Lag.Microseconds(),
			l.Key, l.Owner, l.Epoch).Scan(&at)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return time.Time{}, leaseLost(l)
	case err != nil:
		return time.Time{}, fmt.Errorf("evento: acknowledge lease %s: %w", l.Key, err)
	}
	if len(ack.Park) == 0 {
		return at, nil
	}
	b := &pgx.Batch{}
	for _, dl := range ack.Park {
		b.Queue(x.stmt.acks.park, l.Key, dl.EventID, dl.Event, validText(dl.Error), at)
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return time.Time{}, fmt.Errorf("evento: acknowledge lease %s: park events: %w", l.Key, err)
	}
	return at, nil
}

// ackRollbackTimeout bounds a ROLLBACK that runs after the caller's context was
// cancelled.
const ackRollbackTimeout = 10 * time.Second

// rollbackAck ends tx whatever happened to ctx; after a commit it does
// nothing. When the ROLLBACK fails, pgx closes the connection.
func rollbackAck(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackRollbackTimeout)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// validText returns s as PostgreSQL's text can hold it: valid UTF-8
// without NUL bytes, every other byte sequence replaced by U+FFFD.
func validText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
