package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// Read returns one page of the events that match q, in global order:
// (tx_id, seq). A malformed cursor fails with an error matching
// cursor.ErrInvalid.
//
// A read of the global log, or of any set of aggregates, returns only
// events below the horizon: events whose writing transaction is older than
// every transaction still running. A transaction that is still running may
// yet commit events that sort before the events of younger transactions
// that have committed; holding those back is what guarantees that a reader
// that has seen a position never later discovers an event before it, so
// that pages and subscription cursors are stable. A read confined to one
// aggregate has no such bound and sees every committed event, its own
// writes included: Append keeps an aggregate's events in version order in
// the global order, and commits them one version after the other, so no
// event of the aggregate can appear before one already visible. A cursor
// from such a read resumes reads of that aggregate safely; resuming a read
// of the global log from it may miss events of other aggregates that
// commit late.
//
// Reads of the global log see this executor's own appends: when the
// horizon has not yet passed the newest of them, because another writer's
// transaction is still running, the read waits for it, up to a second.
//
// Every read runs with PostgreSQL's generic plan (see genericPlan), in
// one round trip still; a read of several filters is a union of the reads
// of each filter (see readStatement).
func (x *Executor) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	one := sqlstore.OneAggregate(q.Filters)
	if !one {
		if err := x.awaitOwnWrites(ctx); err != nil {
			return nil, err
		}
	}
	query, args, err := x.readStatement(&q)
	if err != nil {
		return nil, err
	}
	var events []*evento.Event
	br := x.pool.SendBatch(ctx, genericPlan(query, args))
	if _, err = br.Exec(); err == nil {
		events, err = scanEvents(q.Args.Limit()+1, br.Query)
	}
	if err = errors.Join(err, br.Close()); err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	return cursor.Build(q.Args, events, (*evento.Event).Cursor), nil
}

// scanEvents runs query and reads every row it returns, up to n of them
// expected: through a rowDecoder when the rows come in the form it reads,
// else through scanEvent.
func scanEvents(n int, query func() (pgx.Rows, error)) ([]*evento.Event, error) {
	rows, err := query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := make([]*evento.Event, 0, min(n, 1024))
	var d *rowDecoder
	for first := true; rows.Next(); first = false {
		if first && decodable(rows.FieldDescriptions()) {
			d = &rowDecoder{}
		}
		var (
			e   *evento.Event
			err error
		)
		if d != nil {
			e, err = d.decode(rows.RawValues())
		} else {
			e, err = scanEvent(rows)
		}
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// readStatement returns the statement of q and its arguments: a read of one
// aggregate pages by version without the horizon, any other read in global
// order below it. A read of several filters (of more than one aggregate)
// is the union of a read of each filter, one page of each, through the
// index of its shape (sqlstore.Keyset.UnionStatement; a filter of one
// aggregate pages by version): every page is then a range read of each
// filter's index, whatever the table's statistics. Filters that others
// cover are dropped first, so that the union's exclusions stay few.
func (x *Executor) readStatement(q *evento.Query) (string, []any, error) {
	q, err := sqlstore.Simplified(q)
	if err != nil {
		return "", nil, err
	}
	switch {
	case sqlstore.OneAggregate(q.Filters):
		return x.stmt.aggregate.Statement(dialect, x.stmt.selectEvents, q)
	case len(q.Filters) > 1:
		return x.stmt.ordered.UnionStatement(dialect, x.stmt.union, q)
	}
	return x.stmt.ordered.Statement(dialect, x.stmt.selectEvents, q)
}

// genericPlan returns a batch that runs the read query with the plan
// PostgreSQL builds without looking at the values of its parameters, cached
// on the connection with the prepared statement. The batch goes in one
// round trip and one implicit transaction; set_config(..., true) sets
// plan_cache_mode for that transaction only (SET LOCAL would do the same
// but warn, in the server's log, that it runs outside a transaction
// block).
//
// Read uses it for every read: each is a range read, in global order, of
// the one index that answers it (the primary key for no filter, the index
// of a single filter's shape, the version key for one aggregate), or a
// union of such reads, one per filter; the generic plan is that read,
// whatever the cursor (a filter with a routing key has two such indexes,
// and the generic plan picks one of them for every value). Left to choose
// a plan per page, PostgreSQL plans each one again (about as long as
// running it: a third of the time of a 100-event page) and, on a table
// not analyzed yet (right after a bulk load, until autovacuum gets to it),
// can pick a bitmap scan of every remaining matching row plus a sort, for
// each page: a catch-up then takes time quadratic in the log's length.
// docs/subscriptions.md has the numbers.
func genericPlan(query string, args []any) *pgx.Batch {
	var b pgx.Batch
	b.Queue("SELECT pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true)")
	b.Queue(query, args...)
	return &b
}
