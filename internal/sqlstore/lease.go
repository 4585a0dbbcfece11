package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Execer runs statements: *sql.DB, *sql.Conn and *sql.Tx all do.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Leases runs the lease statements that SQL executors keeping times as unix
// microseconds from the Go clock share: everything after the acquisition,
// which differs per engine, and the dead letters. Every write names the key,
// the owner and the epoch, so a worker whose lease moved on changes nothing.
//
// The statements take these arguments, in this order:
//
//	Holder            key                      -> owner, expires_at
//	Renew             expires_at, key, owner, epoch
//	Release           key, owner, epoch
//	Acknowledge       cursor, lag, updated_at, key, owner, epoch
//	AcknowledgeError  cursor, lag, updated_at, error_event_id, error_message, error_at, error_fatal, key, owner, epoch
//	Status            key                      -> the columns of StatusColumns
//	List                                       -> key, the columns of StatusColumns (every key, sorted by key)
//	Park              key, event_id, event, error, parked_at (an upsert on (key, event_id))
//	DeadLetters       key, limit               -> event_id, event, error, parked_at (by parked_at, event_id)
//	DeleteDeadLetter  key, event_id
type Leases struct {
	// DB is the executor's database.
	DB *sql.DB
	// SQL holds the statements, built from the executor's table names.
	SQL LeaseStatements
	// Lock, when set, waits for this process's write turn and returns the
	// function that ends it; every write of Leases runs in a turn, a whole
	// transaction included. SQLite admits one writer at a time and has its
	// writers wait on such a lock rather than in its busy handler.
	Lock func(ctx context.Context) (unlock func(), err error)
	// Fenced runs one fenced write on q (the database, or the transaction
	// of an acknowledgement) and reports whether the lease (l's key, owner
	// and epoch) is still current after it. Engines differ in how they
	// tell: SQLite counts matched rows, MySQL counts changed rows and must
	// look when none changed.
	Fenced func(ctx context.Context, q Execer, l *evento.Lease, query string, args ...any) (current bool, err error)
}

// statusColumns are the columns the Status and List statements return
// after the key, in this order.
var statusColumns = []string{"owner", "epoch", "expires_at", "cursor", "lag", "updated_at",
	"error_event_id", "error_message", "error_at", "error_fatal"}

// StatusColumns returns the comma-separated column list that the Status
// and List statements select after the key, each column quoted for d
// (MySQL reserves cursor and lag).
func StatusColumns(d Dialect) string {
	var b strings.Builder
	for i, c := range statusColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c))
	}
	return b.String()
}

// LeaseStatements are the statements [Leases] runs; see [Leases] for their
// arguments.
type LeaseStatements struct {
	Holder, Renew, Release, Acknowledge, AcknowledgeError, Status, List string
	Park, DeadLetters, DeleteDeadLetter                                 string
}

// MaxDeadLetters bounds the limit of one DeadLetters call.
const MaxDeadLetters = 10000

// CheckAck validates what an acknowledgement asks to store beyond the
// cursor: every parked event needs an id and its encoded event. It fails
// with an error wrapping evento.ErrInvalidArgument.
func CheckAck(ack evento.Ack) error {
	for i, dl := range ack.Park {
		switch {
		case dl == nil:
			return fmt.Errorf("%w: dead letter %d is nil", evento.ErrInvalidArgument, i)
		case dl.EventID == "":
			return fmt.Errorf("%w: dead letter %d has no event id", evento.ErrInvalidArgument, i)
		case dl.Event == nil:
			return fmt.Errorf("%w: dead letter %s has no event", evento.ErrInvalidArgument, dl.EventID)
		}
	}
	return nil
}

// CheckDeadLetterLimit validates the limit of a DeadLetters call: 1 to
// [MaxDeadLetters]. It fails with an error wrapping
// evento.ErrInvalidArgument.
func CheckDeadLetterLimit(limit int) error {
	if limit < 1 || limit > MaxDeadLetters {
		return fmt.Errorf("%w: dead letter limit %d outside 1..%d", evento.ErrInvalidArgument, limit, MaxDeadLetters)
	}
	return nil
}

// Held reports who holds the lease on key that an acquisition could not
// take, as an error matching evento.ErrLeaseHeld.
func (s Leases) Held(ctx context.Context, key string) error {
	var (
		holder    sql.NullString
		expiresAt int64
	)
	if err := s.DB.QueryRowContext(ctx, s.SQL.Holder, key).Scan(&holder, &expiresAt); err != nil {
		return fmt.Errorf("%w: %s", evento.ErrLeaseHeld, key)
	}
	return fmt.Errorf("%w: %s is held by %s until %s", evento.ErrLeaseHeld, key, holder.String,
		time.UnixMicro(expiresAt).UTC().Format(time.RFC3339Nano))
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (s Leases) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: lease ttl must be positive", evento.ErrInvalidArgument)
	}
	expiresAt := time.Now().Add(ttl).UnixMicro()
	if err := s.write(ctx, "renew", l, s.SQL.Renew, expiresAt, l.Key, l.Owner, l.Epoch); err != nil {
		return err
	}
	l.ExpiresAt = time.UnixMicro(expiresAt).UTC()
	return nil
}

// ReleaseLease frees l so that another worker can take it at once.
// Releasing a lease that was already lost is not an error.
func (s Leases) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	err := s.write(ctx, "release", l, s.SQL.Release, l.Key, l.Owner, l.Epoch)
	if errors.Is(err, evento.ErrLeaseLost) {
		return nil
	}
	return err
}

// Acknowledge stores ack's cursor and lag for l's key, with the time, and
// sets l.Cursor. ack.Error, when set, becomes the key's last error, with
// the same time; ack.Park is stored in the key's dead letters, parked at
// that time, in the same transaction. It fails with an error matching
// evento.ErrLeaseLost, having stored nothing, when l's epoch is no longer
// current. It does not extend the lease.
//
// Without parked events the acknowledgement is one fenced statement, which
// is atomic on its own; with them it is a transaction.
func (s Leases) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	if err := CheckAck(ack); err != nil {
		return err
	}
	if len(ack.Park) > 0 {
		return s.AcknowledgeTx(ctx, l, ack, nil)
	}
	query, args := s.ackStatement(l, ack, time.Now().UnixMicro())
	if err := s.write(ctx, "acknowledge", l, query, args...); err != nil {
		return err
	}
	l.Cursor = ack.Cursor
	return nil
}

// AcknowledgeTx begins a transaction and first runs the fenced
// acknowledgement of ack in it (the same writes as Acknowledge), which
// locks the lease's row, or the whole database on SQLite, until the
// transaction ends. Then it calls fn, when not nil, with a context that
// carries the *sql.Tx (see evento.TxFrom), and commits when fn returns nil.
// When the lease is no longer current it fails with an error matching
// evento.ErrLeaseLost without calling fn; when fn fails it returns fn's
// error; either way it rolls back and nothing of ack or of fn's writes
// remains. It sets l.Cursor on success only.
//
// The transaction is not bound to ctx, so that it ends here, by the
// COMMIT or the ROLLBACK, before the write turn ends, rather than by a
// rollback that database/sql would start on its own once ctx is done.
// Every statement in it still honours ctx; a COMMIT that started is not
// interrupted.
func (s Leases) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(ctx context.Context) error) error {
	if err := CheckAck(ack); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: %w", l.Key, err)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: %w", l.Key, err)
	}
	defer unlock()
	tx, err := s.DB.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: begin: %w", l.Key, err)
	}
	// After a successful Commit this Rollback does nothing; it runs before
	// unlock, so the write turn ends with the transaction.
	defer tx.Rollback()

	now := time.Now().UnixMicro()
	query, args := s.ackStatement(l, ack, now)
	current, err := s.Fenced(ctx, tx, l, query, args...)
	switch {
	case err != nil:
		return fmt.Errorf("evento: acknowledge lease %s: %w", l.Key, err)
	case !current:
		return leaseLost(l)
	}
	for _, dl := range ack.Park {
		if _, err := tx.ExecContext(ctx, s.SQL.Park, l.Key, dl.EventID, dl.Event, dl.Error, now); err != nil {
			return fmt.Errorf("evento: acknowledge lease %s: park event %s: %w", l.Key, dl.EventID, err)
		}
	}
	if fn != nil {
		if err := fn(evento.ContextWithTx(ctx, tx)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("evento: acknowledge lease %s: commit: %w", l.Key, err)
	}
	l.Cursor = ack.Cursor
	return nil
}

// DeleteDeadLetterTx deletes the dead letter of key and eventID in a
// transaction taken in a write turn, calls fn with a context that carries
// it (a *sql.Tx), and commits when fn returns nil. It fails with an error
// matching evento.ErrNotFound, having called nothing, when there is none.
func (s Leases) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	defer unlock()
	tx, err := s.DB.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: begin: %w", eventID, key, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.SQL.DeleteDeadLetter, key, eventID)
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(fmt.Errorf("%w: dead letter %s of %s", evento.ErrNotFound, eventID, key), err)
	}
	if fn != nil {
		if err := fn(evento.ContextWithTx(ctx, tx)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: commit: %w", eventID, key, err)
	}
	return nil
}

// ackStatement returns the fenced UPDATE that stores ack at time now, and
// its arguments. A recorded error is stored with the same time as the
// acknowledgement, so that its At equals the status's UpdatedAt.
func (s Leases) ackStatement(l *evento.Lease, ack evento.Ack, now int64) (string, []any) {
	if e := ack.Error; e != nil {
		return s.SQL.AcknowledgeError, []any{string(ack.Cursor), ack.Lag.Microseconds(), now,
			e.EventID, e.Message, now, e.Fatal, l.Key, l.Owner, l.Epoch}
	}
	return s.SQL.Acknowledge, []any{string(ack.Cursor), ack.Lag.Microseconds(), now, l.Key, l.Owner, l.Epoch}
}

// write runs a fenced write on the database, in a write turn, and turns
// "not current" into ErrLeaseLost.
func (s Leases) write(ctx context.Context, op string, l *evento.Lease, query string, args ...any) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	}
	current, err := s.Fenced(ctx, s.DB, l, query, args...)
	unlock()
	switch {
	case err != nil:
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	case !current:
		return leaseLost(l)
	}
	return nil
}

// lock starts a write turn when the engine has them.
func (s Leases) lock(ctx context.Context) (func(), error) {
	if s.Lock == nil {
		return func() {}, nil
	}
	return s.Lock(ctx)
}

func leaseLost(l *evento.Lease) error {
	return fmt.Errorf("%w: %s by %s at epoch %d", evento.ErrLeaseLost, l.Key, l.Owner, l.Epoch)
}

// SubscriptionStatus returns the stored state of key, or an error matching
// evento.ErrNotFound.
func (s Leases) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	st := &evento.SubscriptionStatus{Key: key}
	err := scanStatus(s.DB.QueryRowContext(ctx, s.SQL.Status, key).Scan, st, false)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: subscription status %s: %w", key, err)
	}
	return st, nil
}

// Subscriptions returns the stored state of every subscription key, sorted
// by key as the List statement sorts them.
func (s Leases) Subscriptions(ctx context.Context) ([]*evento.SubscriptionStatus, error) {
	rows, err := s.DB.QueryContext(ctx, s.SQL.List)
	if err != nil {
		return nil, fmt.Errorf("evento: list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*evento.SubscriptionStatus
	for rows.Next() {
		st := new(evento.SubscriptionStatus)
		if err := scanStatus(rows.Scan, st, true); err != nil {
			return nil, fmt.Errorf("evento: list subscriptions: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: list subscriptions: %w", err)
	}
	return out, nil
}

// scanStatus reads one row of [StatusColumns], preceded by the key when
// withKey is set, into st.
func scanStatus(scan func(dest ...any) error, st *evento.SubscriptionStatus, withKey bool) error {
	var (
		owner, errorEventID, errorMessage sql.NullString
		position                          []byte
		expiresAt, lag, updatedAt         int64
		errorAt                           sql.NullInt64
		errorFatal                        bool
	)
	dest := []any{&owner, &st.Epoch, &expiresAt, &position, &lag, &updatedAt,
		&errorEventID, &errorMessage, &errorAt, &errorFatal}
	if withKey {
		dest = append([]any{&st.Key}, dest...)
	}
	if err := scan(dest...); err != nil {
		return err
	}
	st.Owner = owner.String
	st.Cursor = cursor.Value(position)
	st.Lag = time.Duration(lag) * time.Microsecond
	st.ExpiresAt = UnixMicroOrZero(expiresAt)
	st.UpdatedAt = UnixMicroOrZero(updatedAt)
	if errorAt.Int64 != 0 {
		st.LastError = &evento.SubscriptionError{
			EventID: errorEventID.String,
			Message: errorMessage.String,
			At:      time.UnixMicro(errorAt.Int64).UTC(),
			Fatal:   errorFatal,
		}
	}
	return nil
}

// DeadLetters returns up to limit (1 to [MaxDeadLetters]) events parked
// under key, oldest first: by parked time, then event id.
func (s Leases) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	if err := CheckDeadLetterLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, s.SQL.DeadLetters, key, limit)
	if err != nil {
		return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
	}
	defer rows.Close()
	var out []*evento.DeadLetter
	for rows.Next() {
		var (
			dl       = &evento.DeadLetter{Key: key}
			msg      []byte
			parkedAt int64
		)
		if err := rows.Scan(&dl.EventID, &dl.Event, &msg, &parkedAt); err != nil {
			return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
		}
		if dl.Event == nil {
			dl.Event = []byte{}
		}
		dl.Error = string(msg)
		dl.ParkedAt = time.UnixMicro(parkedAt).UTC()
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: dead letters of %s: %w", key, err)
	}
	return out, nil
}

// DeleteDeadLetter removes the event eventID parked under key, in a write
// turn. It fails with an error matching evento.ErrNotFound when there is
// none.
func (s Leases) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	res, err := s.DB.ExecContext(ctx, s.SQL.DeleteDeadLetter, key, eventID)
	unlock()
	if err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	case n == 0:
		return fmt.Errorf("%w: dead letter %s of %s", evento.ErrNotFound, eventID, key)
	}
	return nil
}

// UnixMicroOrZero converts a stored time in unix microseconds, where 0 means
// none.
func UnixMicroOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
