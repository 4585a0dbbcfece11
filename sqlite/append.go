package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// Append writes the events of c atomically, in one BEGIN IMMEDIATE
// transaction, and on success sets Position, RoutingKey and Timestamp (to
// the stored microsecond, or to now when it was zero) on each of them.
//
// The version check reads the aggregate's current version under SQLite's
// write lock, so no other writer can move it before the commit; the
// UNIQUE(aggregate_type, aggregate_id, version) constraint enforces the
// same rule in the database. A context cancelled before COMMIT rolls
// everything back; once COMMIT starts it is not interrupted.
func (x *Executor) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := x.lockWriter(ctx); err != nil {
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	}
	defer x.unlockWriter()
	wc, err := x.writerConn(ctx)
	if err != nil {
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	}
	if _, err := wc.begin.ExecContext(ctx); err != nil {
		x.rollback(ctx)
		return fmt.Errorf("evento: append to %s/%s: begin: %w", c.AggregateType, c.AggregateID, err)
	}
	w, err := x.write(ctx, wc, c)
	if err != nil {
		x.rollback(ctx)
		return err
	}
	if _, err := wc.commit.ExecContext(context.WithoutCancel(ctx)); err != nil {
		x.rollback(ctx)
		return fmt.Errorf("evento: append to %s/%s: commit: %w", c.AggregateType, c.AggregateID, err)
	}
	for i, e := range c.Events {
		e.Position = cursor.Position{Seq: uint64(w.positions[i])}
		e.RoutingKey = w.routingKey
		e.Timestamp = time.UnixMicro(w.timestamps[i]).UTC()
	}
	x.wake.Fire()
	return nil
}

// written is what a successful write assigned to the commit's events; it
// is copied onto them only once the transaction has committed.
type written struct {
	routingKey string
	positions  []int64
	timestamps []int64
}

// write checks the aggregate's version and inserts the events, inside the
// open transaction.
func (x *Executor) write(ctx context.Context, wc *writer, c *evento.Commit) (written, error) {
	var (
		current    int64
		routingKey sql.NullString
	)
	err := wc.state.QueryRowContext(ctx, c.AggregateType, c.AggregateID).Scan(&current, &routingKey)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		routingKey = sql.NullString{String: c.RoutingKey, Valid: c.RoutingKey != ""}
	case err != nil:
		return written{}, fmt.Errorf("evento: append to %s/%s: read version: %w", c.AggregateType, c.AggregateID, err)
	}
	if current != c.ExpectedVersion {
		return written{}, x.versionConflict(ctx, wc.conn, c, current)
	}

	w := written{
		routingKey: routingKey.String,
		positions:  make([]int64, len(c.Events)),
		timestamps: make([]int64, len(c.Events)),
	}
	now := time.Now().UnixMicro()
	for i, e := range c.Events {
		metadata, err := e.Metadata.MarshalBinary()
		if err != nil {
			return written{}, err
		}
		w.timestamps[i] = now
		if !e.Timestamp.IsZero() {
			w.timestamps[i] = e.Timestamp.UnixMicro()
		}
		res, err := wc.event.ExecContext(ctx, e.ID[:], c.AggregateType, c.AggregateID, e.Version, e.Name,
			routingKey, e.Data, metadata, w.timestamps[i])
		if err != nil {
			if isUniqueViolation(err) {
				return written{}, x.uniqueViolation(ctx, wc.conn, c, i)
			}
			return written{}, fmt.Errorf("evento: append to %s/%s: insert version %d: %w",
				c.AggregateType, c.AggregateID, e.Version, err)
		}
		if w.positions[i], err = res.LastInsertId(); err != nil {
			return written{}, fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
		}
	}
	return w, nil
}

// versionConflict explains why the aggregate is not at the commit's
// expected version: this very commit was stored before (a retry), or
// another writer moved the aggregate on.
func (x *Executor) versionConflict(ctx context.Context, conn *sql.Conn, c *evento.Commit, current int64) error {
	first := c.Events[0]
	owner, found, err := x.eventOwner(ctx, conn, first.ID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	case found && owner.is(first):
		return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
			evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, first.ID, first.Version)
	}
	return fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
}

// uniqueViolation explains the unique constraint that event i of the commit
// broke: its id is taken (by an event stored earlier, or by an earlier event
// of the same commit), or, should the version check ever be bypassed, its
// version is.
func (x *Executor) uniqueViolation(ctx context.Context, conn *sql.Conn, c *evento.Commit, i int) error {
	e := c.Events[i]
	owner, found, err := x.eventOwner(ctx, conn, e.ID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	case !found:
		return fmt.Errorf("%w: %s/%s already holds version %d",
			evento.ErrVersionConflict, c.AggregateType, c.AggregateID, e.Version)
	}
	return fmt.Errorf("%w: event id %s of %s/%s version %d is already used by %s/%s version %d",
		evento.ErrInvalidArgument, e.ID, c.AggregateType, c.AggregateID, e.Version,
		owner.aggregateType, owner.aggregateID, owner.version)
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
func (x *Executor) eventOwner(ctx context.Context, conn *sql.Conn, id ulid.ULID) (eventOwner, bool, error) {
	var o eventOwner
	err := conn.QueryRowContext(ctx, x.stmt.eventOwner, id[:]).Scan(&o.aggregateType, &o.aggregateID, &o.version)
	if errors.Is(err, sql.ErrNoRows) {
		return eventOwner{}, false, nil
	}
	return o, err == nil, err
}
