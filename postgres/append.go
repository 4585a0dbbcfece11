package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/oklog/ulid/v2"
)

// Append writes the events of c atomically and on success sets Position,
// RoutingKey and Timestamp (to the stored microsecond, or to now when it
// was zero) on each of them.
//
// The whole append is one statement, so one round trip in its own
// transaction: it reads the aggregate's last event, and inserts every event
// of the commit (unnested from arrays) only when that event is at the
// expected version. UNIQUE(aggregate_type, aggregate_id, version) is the
// real guard: a concurrent writer of the same version makes one of the two
// fail with a unique violation (SQLSTATE 23505), reported as
// evento.ErrVersionConflict. A commit that creates its aggregate (expected
// version 0) is a bare INSERT: the version key refuses it when the
// aggregate has events, and the whole statement then runs to tell why.
//
// The transaction id that orders the events is assigned by the INSERT,
// after the statement's snapshot saw the aggregate's last event committed;
// so the transaction that wrote that event has a smaller id, and an
// aggregate's events are in version order in the global order too.
//
// A retry of a commit that was stored (say the connection broke during the
// commit and the caller could not know) fails with
// evento.ErrAlreadyAppended, not with a version conflict, and stores
// nothing twice: the event ids are unique, and the first one is found at
// its place.
//
// Appends of one executor that arrive while others are being written are
// grouped (group commit): once the append being written is done, the next
// statement takes every commit queued at that moment, in one transaction
// and one WAL flush, with the same per-commit version check; each commit gets
// its own outcome. When that statement fails on a unique violation (a
// concurrent writer of another executor, a retried commit, a reused id) the
// batch's commits are written again one by one, so that each learns its
// own error. A lone append takes the one-commit statement at once.
//
// A context done before its commit is taken withdraws the commit (Append
// returns the context's error, nothing is stored). Once taken, the
// statement is cancelled only when every appender of its batch has given
// up.
//
// Unless the executor was made [WithoutNotify], a committed append is then
// notified (pg_notify) from a goroutine of the executor, so that the
// listeners of [Executor.Wake], in every process, hear of it; appends
// that commit while a notification is on its way share the next one.
func (x *Executor) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return x.queue.Wait(x.queue.Add(ctx, c), x.turns, x.writeBatch, nil)
}

// written is what a successful write assigned to the commit's events; it
// is copied onto them only once the transaction has committed.
type written struct {
	routingKey string
	positions  []cursor.Position
	timestamps []time.Time
}

func (w written) apply(c *evento.Commit) {
	for i, e := range c.Events {
		e.Position = w.positions[i]
		e.RoutingKey = w.routingKey
		e.Timestamp = w.timestamps[i]
	}
}

// encoded is a commit's events as the append statements take them: one
// array per column.
type encoded struct {
	ids        []pgtype.UUID // pgx knows the type from the Go value, in every query mode
	names      []string
	data       [][]byte
	metadata   [][]byte
	timestamps []time.Time // to the microsecond PostgreSQL stores
}

// encode appends c's events to the arrays of e, stamping those without a
// timestamp with now.
func (e *encoded) encode(c *evento.Commit, now time.Time) error {
	for _, ev := range c.Events {
		md, err := ev.Metadata.MarshalBinary()
		if err != nil {
			return err
		}
		ts := ev.Timestamp
		if ts.IsZero() {
			ts = now
		}
		e.ids = append(e.ids, pgtype.UUID{Bytes: ev.ID, Valid: true})
		e.names = append(e.names, ev.Name)
		e.data = append(e.data, ev.Data)
		e.metadata = append(e.metadata, md)
		e.timestamps = append(e.timestamps, time.UnixMicro(ts.UnixMicro()).UTC())
	}
	return nil
}

// write runs the append statement on q: the pool (a transaction of its
// own) or a transaction the caller opened.
//
// On the pool, a commit that creates its aggregate (expected version 0)
// takes the statement without the read of the aggregate's last event:
// versions are dense from 1, so the first event's version is free exactly
// when the aggregate has no event, and the unique version key checks that
// as the INSERT runs (a concurrent creator waits for the first to commit,
// then fails). When that statement fails (it breaks a unique key, say),
// the append statement runs instead, in a transaction of its own, and
// answers as it always does: a version conflict, ErrAlreadyAppended for a
// retry, the taken event id. In a caller's transaction a failed statement would end
// the transaction, so the append statement runs at once.
func (x *Executor) write(ctx context.Context, q querier, c *evento.Commit) (written, error) {
	if c.ExpectedVersion == 0 && q == querier(x.pool) {
		if w, err := x.writeWith(ctx, q, c, true); err == nil {
			return w, nil
		}
	}
	return x.writeWith(ctx, q, c, false)
}

// writeWith runs the append statement on q, or createEvents when create
// is set; the errors of createEvents are the statement's own, for write to
// run the append statement instead.
func (x *Executor) writeWith(ctx context.Context, q querier, c *evento.Commit, create bool) (written, error) {
	stmt := x.stmt.appendEvents
	if create {
		stmt = x.stmt.createEvents
	}
	explain := func(err error) error {
		if create {
			return err
		}
		return x.appendError(ctx, q, c, err)
	}
	n := len(c.Events)
	var (
		e          encoded
		routingKey *string
	)
	if c.RoutingKey != "" {
		routingKey = &c.RoutingKey
	}
	if err := e.encode(c, time.Now()); err != nil {
		return written{}, err
	}
	w := written{positions: make([]cursor.Position, n), timestamps: e.timestamps}
	rows, err := q.Query(ctx, stmt, c.AggregateType, c.AggregateID, c.ExpectedVersion, routingKey,
		e.ids, e.names, e.data, e.metadata, e.timestamps)
	if err != nil {
		return written{}, explain(err)
	}
	defer rows.Close()
	stored := 0
	for rows.Next() {
		var (
			p       cursor.Position
			seq     int64
			version int64
			key     *string
		)
		if err := rows.Scan(&p.Tx, &seq, &version, &key); err != nil {
			return written{}, fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
		}
		i := version - c.ExpectedVersion - 1
		if i < 0 || i >= int64(n) {
			return written{}, fmt.Errorf("evento: append to %s/%s: stored unexpected version %d", c.AggregateType, c.AggregateID, version)
		}
		p.Seq = uint64(seq)
		w.positions[i] = p
		if key != nil {
			w.routingKey = *key
		}
		stored++
	}
	if err := rows.Err(); err != nil {
		return written{}, explain(err)
	}
	if stored == 0 {
		return written{}, x.refused(ctx, q, c)
	}
	if stored != n {
		return written{}, fmt.Errorf("evento: append to %s/%s: stored %d of %d events", c.AggregateType, c.AggregateID, stored, n)
	}
	return w, nil
}

// appendError explains a failed append statement: a unique violation is a
// retry, a conflict or a reused id; anything else is passed on.
func (x *Executor) appendError(ctx context.Context, q querier, c *evento.Commit, err error) error {
	switch constraint, ok := uniqueViolation(err); {
	case !ok:
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	case constraint == x.names.versionKey:
		if already := x.alreadyAppended(ctx, q, c); already != nil {
			return already
		}
		return fmt.Errorf("%w: %s/%s already holds version %d (a concurrent commit)",
			evento.ErrVersionConflict, c.AggregateType, c.AggregateID, c.ExpectedVersion+1)
	case constraint == x.names.idKey:
		return x.reusedID(ctx, q, c)
	}
	return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
}

// refused explains an append statement that inserted nothing: the commit
// was stored before (a retry), the aggregate is not at the expected
// version, or, inside a caller's transaction, the transaction is older than
// the aggregate's last commit.
func (x *Executor) refused(ctx context.Context, q querier, c *evento.Commit) error {
	if already := x.alreadyAppended(ctx, q, c); already != nil {
		return already
	}
	var (
		current int64
		tx      uint64
	)
	err := q.QueryRow(ctx, x.stmt.aggregateState, c.AggregateType, c.AggregateID).Scan(&current, &tx)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("evento: append to %s/%s: read version: %w", c.AggregateType, c.AggregateID, err)
	case current == c.ExpectedVersion && inCallerTx(q):
		return fmt.Errorf("%w: %s/%s was last written by transaction %d, after this transaction started; retry in a new transaction",
			evento.ErrVersionConflict, c.AggregateType, c.AggregateID, tx)
	}
	return fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
}

// inCallerTx reports whether q is a transaction the caller opened.
func inCallerTx(q querier) bool {
	_, ok := q.(pgx.Tx)
	return ok
}

// alreadyAppended returns ErrAlreadyAppended when the commit's first event
// is stored at its place, and nil otherwise (or when it cannot tell).
func (x *Executor) alreadyAppended(ctx context.Context, q querier, c *evento.Commit) error {
	first := c.Events[0]
	owner, found, err := x.eventOwner(ctx, q, first.ID)
	if err != nil || !found || !owner.is(first) {
		return nil
	}
	return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
		evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, first.ID, first.Version)
}

// reusedID explains a violation of the unique event id: a retry of this
// commit, or an id that another event holds.
func (x *Executor) reusedID(ctx context.Context, q querier, c *evento.Commit) error {
	if already := x.alreadyAppended(ctx, q, c); already != nil {
		return already
	}
	for _, e := range c.Events {
		owner, found, err := x.eventOwner(ctx, q, e.ID)
		switch {
		case err != nil:
			return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
		case found:
			return fmt.Errorf("%w: event id %s of %s/%s version %d is already used by %s/%s version %d",
				evento.ErrInvalidArgument, e.ID, c.AggregateType, c.AggregateID, e.Version,
				owner.aggregateType, owner.aggregateID, owner.version)
		}
	}
	return fmt.Errorf("%w: an event id of %s/%s is already used", evento.ErrInvalidArgument, c.AggregateType, c.AggregateID)
}

// eventOwner is where a stored event id sits.
type eventOwner struct {
	aggregateType string
	aggregateID   string
	version       int64
}

// is reports whether the stored event is e's place: same aggregate, same
// version.
func (o eventOwner) is(e *evento.Event) bool {
	return o.aggregateType == e.AggregateType && o.aggregateID == e.AggregateID && o.version == e.Version
}

// eventOwner returns where the event id is stored, and false when no event
// holds it.
func (x *Executor) eventOwner(ctx context.Context, q querier, id ulid.ULID) (eventOwner, bool, error) {
	var o eventOwner
	err := q.QueryRow(ctx, x.stmt.eventOwner, pgtype.UUID{Bytes: id, Valid: true}).Scan(&o.aggregateType, &o.aggregateID, &o.version)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventOwner{}, false, nil
	}
	return o, err == nil, err
}
