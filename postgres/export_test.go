package postgres

import (
	"context"

	"github.com/eventogo/evento"
	"github.com/jackc/pgx/v5"
)

// AppendInTx runs Append's statement inside tx, which the caller commits or
// rolls back, and sets the events' positions as the statement assigned
// them. Tests use it to hold a writer's transaction open.
func (x *Executor) AppendInTx(ctx context.Context, tx pgx.Tx, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	w, err := x.write(ctx, tx, c)
	if err != nil {
		return err
	}
	w.apply(c)
	return nil
}

// EventsTable returns the quoted, schema-qualified name of the events
// table, for tests that read it with their own SQL.
func (x *Executor) EventsTable() string { return x.names.events }

// HoldAppends takes every write turn, so that appends queue until release
// is called: tests use it to make a group-commit batch of known commits.
func (x *Executor) HoldAppends() (release func()) {
	for range cap(x.turns) {
		x.turns <- struct{}{}
	}
	return func() {
		for range cap(x.turns) {
			<-x.turns
		}
	}
}

// QueuedAppends is the number of appends waiting for a write turn.
func (x *Executor) QueuedAppends() int { return x.queue.Len() }

// ReadStatement returns the SQL and arguments Read runs for q.
func (x *Executor) ReadStatement(q evento.Query) (string, []any, error) { return x.readStatement(&q) }
