package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
)

// Group commit (see Append): appendTurns statements of one executor write
// at the same time, each taking the commits queued when it starts, at most
// batchLimits of them, never two of one aggregate.
//
// One turn makes the largest batches: with 8 writers on distinct
// aggregates (W4 of docs/benchmarks.md) one turn stored 11.5k commits/s,
// two 8.4k, four 6.9k, eight 8.1k, and one statement per append, as
// before group commit, 8.5k.
const appendTurns = 1

// batchLimits bound the commits of one statement.
var batchLimits = groupcommit.Limits{MaxCommits: 64, MaxEvents: 10_000, DistinctAggregates: true}

// writeBatch takes the queued commits and writes them; it reports whether
// there were any. The caller holds a write turn.
func (x *Executor) writeBatch() bool {
	return x.queue.WriteBatch(batchLimits, func(r *groupcommit.Request) {
		x.writeEach(r.Ctx, []*groupcommit.Request{r})
	}, x.writeMany)
}

// committed hands a stored commit its positions and finishes it.
func (x *Executor) committed(r *groupcommit.Request, w written) {
	w.apply(r.Commit)
	x.noteAppend(w.positions[0].Tx)
	r.Finish(nil)
}

// announce wakes this process's subscriptions and notifies the others of
// appends committed in transaction tx.
func (x *Executor) announce(tx uint64) {
	x.wake.Fire()
	if x.notifier != nil {
		x.notifier.notify(tx)
	}
}

// writeMany writes the commits of batch, of distinct aggregates, in one
// statement and finishes each of them.
func (x *Executor) writeMany(ctx context.Context, batch []*groupcommit.Request) {
	if len(batch) == 0 {
		return
	}
	var (
		types    = make([]string, len(batch))
		aggIDs   = make([]string, len(batch))
		expected = make([]int64, len(batch))
		keys     = make([]*string, len(batch))
		commitNo []int64
		ordinal  []int64
		e        encoded
		now      = time.Now()
	)
	for i, r := range batch {
		c := r.Commit
		types[i], aggIDs[i], expected[i] = c.AggregateType, c.AggregateID, c.ExpectedVersion
		if c.RoutingKey != "" {
			keys[i] = &c.RoutingKey
		}
		if err := e.encode(c, now); err != nil {
			// No event of the batch is written yet: encode the others
			// again without this one.
			r.Finish(err)
			x.writeMany(ctx, append(batch[:i:i], batch[i+1:]...))
			return
		}
		for j := range c.Events {
			commitNo = append(commitNo, int64(i+1))
			ordinal = append(ordinal, int64(j+1))
		}
	}
	type aggregate struct{ typ, id string }
	index := make(map[aggregate]int, len(batch))
	results := make([]written, len(batch))
	at := 0
	for i, r := range batch {
		index[aggregate{r.Commit.AggregateType, r.Commit.AggregateID}] = i
		n := len(r.Commit.Events)
		results[i] = written{positions: make([]cursor.Position, n), timestamps: e.timestamps[at : at+n]}
		at += n
	}
	stored := make([]int, len(batch))
	err := func() error {
		rows, err := x.pool.Query(ctx, x.stmt.appendBatch, types, aggIDs, expected, keys,
			commitNo, ordinal, e.ids, e.names, e.data, e.metadata, e.timestamps)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a       aggregate
				p       cursor.Position
				seq     int64
				version int64
				key     *string
			)
			if err := rows.Scan(&p.Tx, &seq, &a.typ, &a.id, &version, &key); err != nil {
				return err
			}
			i, ok := index[a]
			if !ok {
				return fmt.Errorf("stored an event of %s/%s, which is not in the batch", a.typ, a.id)
			}
			j := version - batch[i].Commit.ExpectedVersion - 1
			if j < 0 || j >= int64(len(batch[i].Commit.Events)) {
				return fmt.Errorf("stored unexpected version %d of %s/%s", version, a.typ, a.id)
			}
			p.Seq = uint64(seq)
			results[i].positions[j] = p
			if key != nil {
				results[i].routingKey = *key
			}
			stored[i]++
		}
		return rows.Err()
	}()
	if err != nil {
		if _, unique := uniqueViolation(err); unique {
			// Some commit collided with a write elsewhere: nothing of the
			// batch was stored; write the commits one by one, each with
			// its own outcome.
			x.writeEach(ctx, batch)
			return
		}
		for _, r := range batch {
			r.Fail(err)
		}
		return
	}
	var tx uint64
	for i, r := range batch {
		c := r.Commit
		switch stored[i] {
		case len(c.Events):
			x.committed(r, results[i])
			tx = results[i].positions[0].Tx
		case 0:
			r.Finish(x.refused(ctx, x.pool, c))
		default:
			r.Fail(fmt.Errorf("stored %d of %d events", stored[i], len(c.Events)))
		}
	}
	if tx != 0 {
		x.announce(tx)
	}
}

// writeEach writes the commits of batch one statement each.
func (x *Executor) writeEach(ctx context.Context, batch []*groupcommit.Request) {
	var tx uint64
	for _, r := range batch {
		w, err := x.write(ctx, x.pool, r.Commit)
		if err != nil {
			r.Finish(err)
			continue
		}
		x.committed(r, w)
		tx = max(tx, w.positions[0].Tx)
	}
	if tx != 0 {
		x.announce(tx)
	}
}

// batchStatement appends several commits of distinct aggregates in one
// statement: the commits as arrays ($1–$4: aggregate type, id, expected
// version, routing key), and their events as arrays ($5: the commit's
// 1-based index, $6: the event's 1-based place in its commit, then the
// columns). Each commit's events are inserted only when its aggregate is at
// the expected version, under the same rules as appendStatement's.
func batchStatement(n names) string {
	return `WITH c AS (` +
		`SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])` +
		` WITH ORDINALITY AS c (aggregate_type, aggregate_id, expected, routing_key, cn)),` +
		` ok AS (SELECT c.cn, c.aggregate_type, c.aggregate_id, c.expected,` +
		` CASE WHEN c.expected = 0 THEN c.routing_key ELSE l.routing_key END AS routing_key` +
		` FROM c LEFT JOIN LATERAL (SELECT version, routing_key, tx_id FROM ` + n.events + ` AS last` +
		` WHERE last.aggregate_type = c.aggregate_type AND last.aggregate_id = c.aggregate_id` +
		` ORDER BY version DESC LIMIT 1) AS l ON true` +
		` WHERE COALESCE(l.version, 0) = c.expected AND COALESCE(l.tx_id < ` + n.currentTx + `(), true))` +
		` INSERT INTO ` + n.events +
		` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)` +
		` SELECT e.id, ok.aggregate_type, ok.aggregate_id, ok.expected + e.k, e.name, ok.routing_key,` +
		` e.data, e.metadata, e.ts` +
		` FROM unnest($5::bigint[], $6::bigint[], $7::uuid[], $8::text[], $9::bytea[], $10::bytea[], $11::timestamptz[])` +
		` WITH ORDINALITY AS e (cn, k, id, name, data, metadata, ts, ord)` +
		` JOIN ok ON ok.cn = e.cn` +
		` ORDER BY e.ord` +
		` RETURNING tx_id, seq, aggregate_type, aggregate_id, version, routing_key`
}
