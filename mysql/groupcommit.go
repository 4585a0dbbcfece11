package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
	"github.com/eventogo/evento/internal/sqlstore"
)

// batchLimits bound the commits of one group-commit transaction; two
// commits of one aggregate never share one (the second would only fail
// the shared INSERT).
var batchLimits = groupcommit.Limits{MaxCommits: 64, MaxEvents: 10_000, DistinctAggregates: true}

// writeBatch takes the queued commits and writes them; it reports whether
// there were any. The caller holds the write turn.
func (x *Executor) writeBatch() bool {
	return x.queue.WriteBatch(batchLimits, func(r *groupcommit.Request) {
		r.Finish(x.appendOne(r.Ctx, r.Commit))
	}, x.writeMany)
}

// checkedCommit is a commit of a batch that passed its version check, with
// its encoded rows.
type checkedCommit struct {
	r          *groupcommit.Request
	routingKey string
	rows       eventRows
}

// writeMany writes the commits of batch, of distinct aggregates, in one
// transaction that holds the position counter once, and finishes each of
// them.
func (x *Executor) writeMany(ctx context.Context, batch []*groupcommit.Request) {
	conn, err := x.db.Conn(ctx)
	if err != nil {
		for _, r := range batch {
			r.Finish(appendError(ctx, r.Commit, "", err))
		}
		return
	}
	defer conn.Close()
	// The version checks run in autocommit mode, before the transaction,
	// as a lone append's do (see write), in one query for the batch. As
	// there, commits that create their aggregate go without one: the
	// shared INSERT checks them, and when it finds a duplicate key every
	// commit is written again on its own, with its check. So a create of
	// an aggregate that exists (a retry, a taken id) costs its batch one
	// rolled-back INSERT and a transaction per commit; the version query
	// it saves runs for every batch of creates.
	states, err := x.aggregateStates(ctx, conn, batch)
	if err != nil {
		for _, r := range batch {
			r.Finish(appendError(ctx, r.Commit, "read version", err))
		}
		return
	}
	var checked []checkedCommit
	for i, r := range batch {
		c := r.Commit
		current, routingKey := states[i].version, states[i].routingKey
		switch {
		case current != c.ExpectedVersion:
			r.Finish(x.versionConflict(ctx, conn, c, current))
			continue
		case current == 0:
			routingKey = sql.NullString{String: c.RoutingKey, Valid: c.RoutingKey != ""}
		}
		rows, err := x.encode(c, routingKey)
		if err != nil {
			if c.ExpectedVersion == 0 {
				// Its version was not read: alone, the commit answers a
				// conflict when its aggregate exists, as a lone append
				// does, and else the failure.
				r.Finish(x.appendOne(ctx, c))
				continue
			}
			r.Finish(err)
			continue
		}
		checked = append(checked, checkedCommit{r: r, routingKey: routingKey.String, rows: rows})
	}
	if len(checked) == 0 {
		return
	}
	parts := make([]eventRows, len(checked))
	for i, cc := range checked {
		parts[i] = cc.rows
	}
	rows := mergeRows(parts, x.maxStatement)
	fail := func(step string, err error) {
		for _, cc := range checked {
			cc.r.Finish(appendError(ctx, cc.r.Commit, step, err))
		}
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION"); err != nil {
		sqlstore.Rollback(ctx, conn)
		fail("begin", err)
		return
	}
	first, err := x.reservePositions(ctx, conn, len(rows.timestamps))
	if err != nil {
		sqlstore.Rollback(ctx, conn)
		fail("reserve positions", err)
		return
	}
	if err := x.insert(ctx, conn, rows, first); err != nil {
		// Roll back first: the counter stays locked until then.
		sqlstore.Rollback(ctx, conn)
		if isDuplicateKey(err) || isPacketTooLarge(err) {
			// Nothing of the batch is stored: each commit on its own
			// learns its own outcome.
			for _, cc := range checked {
				cc.r.Finish(x.appendOne(ctx, cc.r.Commit))
			}
			return
		}
		fail("insert", err)
		return
	}
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		sqlstore.Rollback(ctx, conn)
		for _, cc := range checked {
			cc.r.Finish(commitError(cc.r.Commit, err))
		}
		return
	}
	pos := first
	for _, cc := range checked {
		for i, e := range cc.r.Commit.Events {
			e.Position = cursor.Position{Seq: uint64(pos)}
			e.RoutingKey = cc.routingKey
			e.Timestamp = time.UnixMicro(cc.rows.timestamps[i]).UTC()
			pos++
		}
		cc.r.Finish(nil)
	}
	x.wake.Fire()
}

// aggregateVersion is an aggregate's current version (0 when it has no
// events) and routing key.
type aggregateVersion struct {
	version    int64
	routingKey sql.NullString
}

// aggregateStates reads what aggregateState reads for the aggregate of
// every commit of batch that does not create its aggregate, in one round
// trip: a UNION ALL of that query, one branch per commit, each tagged with
// the commit's index. A commit that creates its aggregate (expected
// version 0) is given version 0 without a read; when every commit of
// batch creates its aggregate, nothing is read.
func (x *Executor) aggregateStates(ctx context.Context, db querier, batch []*groupcommit.Request) ([]aggregateVersion, error) {
	states := make([]aggregateVersion, len(batch))
	var q strings.Builder
	args := make([]any, 0, 2*len(batch))
	for i, r := range batch {
		if r.Commit.ExpectedVersion == 0 {
			continue
		}
		if len(args) > 0 {
			q.WriteString(" UNION ALL ")
		}
		q.WriteString("(SELECT " + strconv.Itoa(i) + ", " + strings.TrimPrefix(x.stmt.aggregateState, "SELECT ") + ")")
		args = append(args, r.Commit.AggregateType, r.Commit.AggregateID)
	}
	if len(args) == 0 {
		return states, nil
	}
	rows, err := db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i int
			s aggregateVersion
		)
		if err := rows.Scan(&i, &s.version, &s.routingKey); err != nil {
			return nil, err
		}
		if i < 0 || i >= len(states) {
			return nil, fmt.Errorf("version query returned commit %d of %d", i, len(states))
		}
		states[i] = s
	}
	return states, rows.Err()
}
