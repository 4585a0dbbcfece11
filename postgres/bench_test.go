package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"
)

// BenchmarkAppendNew appends one event to a new aggregate per iteration.
func BenchmarkAppendNew(b *testing.B) {
	x := open(b)
	ctx := context.Background()
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := x.Append(ctx, commits[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch appends commits of 100 events to new aggregates, one
// statement each, and reports the time per event.
func BenchmarkAppendBatch(b *testing.B) {
	const size = 100
	x := open(b)
	ctx := context.Background()
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = newCommit("bench", fmt.Sprint("batch-", i), 0, size)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := x.Append(ctx, commits[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
}

// BenchmarkFloorInsert is the floor under BenchmarkAppendNew: the same
// single-row INSERT into the same table and indexes straight through pgx in
// autocommit mode, with no version check and no metadata encoding.
func BenchmarkFloorInsert(b *testing.B) {
	x := open(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn())
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	insert := `INSERT INTO ` + x.EventsTable() +
		` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)` +
		` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
	}
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		e := commits[i].Events[0]
		if _, err := pool.Exec(ctx, insert, [16]byte(e.ID), e.AggregateType, e.AggregateID, e.Version, e.Name,
			nil, e.Data, nil, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadPage reads forward pages of 1000 events out of 20,000, all
// events or those of one aggregate type.
func BenchmarkReadPage(b *testing.B) {
	x := open(b)
	for i := range 2 {
		for _, typ := range []string{"A", "B"} {
			c := newCommit(typ, fmt.Sprint(typ, i), 0, 5000)
			md := evento.Metadata{ID: ulid.Make().String(), RequestedBy: "bench"}
			for _, e := range c.Events {
				e.Metadata = md
			}
			mustAppend(b, x, c)
		}
	}
	for _, q := range []struct {
		name    string
		filters []evento.Filter
		events  int
	}{{"all", nil, 20_000}, {"type", []evento.Filter{{AggregateType: "A"}}, 10_000}} {
		b.Run(q.name, func(b *testing.B) {
			ctx := context.Background()
			var after cursor.Value
			for i := range b.N {
				if i%(q.events/1000) == 0 {
					after = ""
				}
				page, err := x.Read(ctx, evento.Query{Filters: q.filters, Args: cursor.Forward(1000, after)})
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Edges) != 1000 {
					b.Fatalf("page of %d events", len(page.Edges))
				}
				after = page.PageInfo.EndCursor
			}
		})
	}
}

// BenchmarkCatchUp drains 100,000 events of one aggregate type with a new
// subscription whose handler does nothing, with the default chunk (100,
// growing while the worker catches up) and with ChunkSize(1000), on a fresh
// table (as right after a bulk load), on one
// whose rows were read once (their commit status is then stored in the
// rows: "hinted") and on an analyzed one (ANALYZE also reads most rows
// here). It reports events/s; each iteration drains the whole log under a
// new key.
func BenchmarkCatchUp(b *testing.B) {
	const events = 100_000
	prepare := map[string]string{
		"fresh":    "",
		"hinted":   "SELECT count(*) FROM %s",
		"analyzed": "ANALYZE %s",
	}
	for _, table := range []string{"fresh", "hinted", "analyzed"} {
		for _, chunk := range []int{evento.DefaultChunkSize, 1000} {
			b.Run(fmt.Sprintf("table=%s/chunk=%d", table, chunk), func(b *testing.B) {
				x := open(b)
				ctx := context.Background()
				for i := range events / 1000 {
					mustAppend(b, x, newCommit("Order", fmt.Sprint("order-", i), 0, 1000))
				}
				if sql := prepare[table]; sql != "" {
					if _, err := connect(b).Exec(ctx, fmt.Sprintf(sql, x.EventsTable())); err != nil {
						b.Fatal(err)
					}
				}
				st := evento.New(x)
				b.ResetTimer()
				for i := range b.N {
					n := 0
					sub := evento.NewSubscription(fmt.Sprint("catch-up-", i)).ChunkSize(chunk).
						OnAll("Order", func(context.Context, *evento.Event) error { n++; return nil })
					if err := sub.Execute(ctx, st); err != nil {
						b.Fatal(err)
					}
					if n != events {
						b.Fatalf("handled %d events, want %d", n, events)
					}
				}
				b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkCatchUpTypes drains the events of two aggregate types out of
// three (two thirds of a log of 30,000 or 120,000 events, in commits of 100
// that take turns) with a new subscription whose handler does nothing, on
// a fresh table and on an analyzed one: the reads of several filters. A
// rate that falls as the log grows is a page that costs more the further
// it is into the log. It reports events/s.
func BenchmarkCatchUpTypes(b *testing.B) {
	types := []string{"Order", "Invoice", "Shipment"}
	for _, events := range []int{30_000, 120_000} {
		for _, table := range []string{"fresh", "analyzed"} {
			b.Run(fmt.Sprintf("events=%d/table=%s", events, table), func(b *testing.B) {
				x := open(b)
				ctx := context.Background()
				for i := range events / 100 {
					mustAppend(b, x, newCommit(types[i%3], fmt.Sprint("agg-", i), 0, 100))
				}
				if table == "analyzed" {
					if _, err := connect(b).Exec(ctx, "ANALYZE "+x.EventsTable()); err != nil {
						b.Fatal(err)
					}
				}
				st := evento.New(x)
				want := events / 3 * 2
				b.ResetTimer()
				for i := range b.N {
					n := 0
					handle := func(context.Context, *evento.Event) error { n++; return nil }
					sub := evento.NewSubscription(fmt.Sprint("catch-up-", i)).OnAll("Order", handle).OnAll("Invoice", handle)
					if err := sub.Execute(ctx, st); err != nil {
						b.Fatal(err)
					}
					if n != want {
						b.Fatalf("handled %d events, want %d", n, want)
					}
				}
				b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkCatchUpLargeAggregate reads, in pages of 1,000, the events of
// one aggregate together with those of another type, in 400 commits each,
// interleaved: commits of 100 events of both (an aggregate of 40,000
// events), or of 1 event of the aggregate and 100 of the other type. A
// page that ends on the other type's event gives the aggregate's member of
// the read a cursor that is not one of its events, which it must translate
// to a version.
func BenchmarkCatchUpLargeAggregate(b *testing.B) {
	for _, size := range []int{100, 1} {
		b.Run(fmt.Sprintf("aggregate=%d", 400*size), func(b *testing.B) {
			x := open(b)
			ctx := context.Background()
			const commits = 400
			for i := range commits {
				mustAppend(b, x, newCommit("Ledger", "main", int64(i*size), size))
				mustAppend(b, x, newCommit("Order", fmt.Sprint("order-", i), 0, 100))
			}
			want := commits * (size + 100)
			q := evento.Query{Filters: []evento.Filter{{AggregateType: "Ledger", AggregateID: "main"}, {AggregateType: "Order"}}}
			b.ResetTimer()
			for range b.N {
				n := 0
				after := cursor.Value("")
				for {
					q.Args = cursor.Forward(1000, after)
					p, err := x.Read(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					n += len(p.Edges)
					if !p.PageInfo.HasNextPage {
						break
					}
					after = p.PageInfo.EndCursor
				}
				if n != want {
					b.Fatalf("read %d events, want %d", n, want)
				}
			}
			b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkReadFromOwnEvent reads pages of one aggregate of 1,000 events
// from the cursor of one of its own last events, as a load from a
// snapshot does: the read that a cursor of another event (which calls the
// schema's version_at function) must not slow down.
func BenchmarkReadFromOwnEvent(b *testing.B) {
	x := open(b)
	ctx := context.Background()
	for i := range 20 {
		mustAppend(b, x, newCommit("Order", fmt.Sprint("order-", i), 0, 1))
		mustAppend(b, x, newCommit("Ledger", "main", int64(i*50), 50))
	}
	ledger := []evento.Filter{{AggregateType: "Ledger", AggregateID: "main"}}
	events := readAll(b, x, evento.Query{Filters: ledger})
	for i := 0; b.Loop(); i++ {
		q := evento.Query{Filters: ledger, Args: cursor.Forward(100, events[len(events)-1-i%2].Cursor())}
		if _, err := x.Read(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
