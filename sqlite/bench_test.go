package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

// syncModes runs a benchmark with each synchronous setting: FULL (the
// default, an fsync per commit) and NORMAL.
var syncModes = []struct {
	name   string
	mode   sqlite.Synchronous
	pragma string
}{{"sync=full", sqlite.SynchronousFull, "FULL"}, {"sync=normal", sqlite.SynchronousNormal, "NORMAL"}}

// BenchmarkAppendNew appends one event to a new aggregate per iteration.
func BenchmarkAppendNew(b *testing.B) {
	for _, sm := range syncModes {
		b.Run(sm.name, func(b *testing.B) {
			benchmarkAppendOne(b, sm.mode, func(i int) *evento.Commit {
				return newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
			})
		})
	}
}

// BenchmarkAppendStream appends one event per iteration to one aggregate,
// at the expected version.
func BenchmarkAppendStream(b *testing.B) {
	for _, sm := range syncModes {
		b.Run(sm.name, func(b *testing.B) {
			benchmarkAppendOne(b, sm.mode, func(i int) *evento.Commit {
				return newCommit("bench", "stream", int64(i), 1)
			})
		})
	}
}

func benchmarkAppendOne(b *testing.B, mode sqlite.Synchronous, commit func(i int) *evento.Commit) {
	x := open(b, sqlite.WithSynchronous(mode))
	ctx := context.Background()
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = commit(i)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := x.Append(ctx, commits[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch appends commits of 100 events to new aggregates and
// reports the time per event.
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

// BenchmarkReadSeveralFilters drains, in forward pages of 1000, the events
// of two names of one aggregate type (two thirds of that type) out of
// 100,000 events of two types: a subscription's catch-up with handlers for
// two event names. With filters=65 the read also names 63 event names that
// no event has, more filters than a read unites.
func BenchmarkReadSeveralFilters(b *testing.B) {
	x := open(b)
	for i := range 2 {
		for _, typ := range []string{"A", "B"} {
			appendVersions(b, x, typ, fmt.Sprint(typ, i), 25_000)
		}
	}
	for _, n := range []int{2, 65} {
		filters := []evento.Filter{{AggregateType: "A", Name: "Event1"}, {AggregateType: "A", Name: "Event2"}}
		for i := len(filters); i < n; i++ {
			filters = append(filters, evento.Filter{AggregateType: "A", Name: fmt.Sprint("Missing", i)})
		}
		b.Run(fmt.Sprint("filters=", n), func(b *testing.B) {
			ctx := context.Background()
			events := 0
			for b.Loop() {
				events = 0
				var after cursor.Value
				for {
					page, err := x.Read(ctx, evento.Query{Filters: filters, Args: cursor.Forward(1000, after)})
					if err != nil {
						b.Fatal(err)
					}
					events += len(page.Edges)
					if !page.PageInfo.HasNextPage {
						break
					}
					after = page.PageInfo.EndCursor
				}
			}
			if events != 33_334 {
				b.Fatalf("read %d events, want 33334", events)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
		})
	}
}

// BenchmarkFloorInsert is the floor under BenchmarkAppendNew: the same
// single-row INSERT into the same table and indexes, with the same file
// settings as Open, straight through database/sql in autocommit mode: no
// version check, no transaction of our own, no metadata encoding.
func BenchmarkFloorInsert(b *testing.B) {
	for _, sm := range syncModes {
		b.Run(sm.name, func(b *testing.B) {
			dsn := "file:" + filepath.Join(b.TempDir(), "floor.db") + "?_pragma=busy_timeout(10000)" +
				"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sm.pragma + ")&_pragma=foreign_keys(1)"
			db, err := sql.Open("sqlite", dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			if _, err := sqlite.New(ctx, db); err != nil {
				b.Fatal(err)
			}
			stmt, err := db.PrepareContext(ctx, `INSERT INTO evento_events`+
				` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)`+
				` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			commits := make([]*evento.Commit, b.N)
			for i := range commits {
				commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
			}
			now := time.Now().UnixMicro()
			b.ResetTimer()
			for i := range b.N {
				e := commits[i].Events[0]
				if _, err := stmt.ExecContext(ctx, e.ID[:], e.AggregateType, e.AggregateID, e.Version, e.Name,
					nil, e.Data, nil, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendConcurrent appends one event to a new aggregate per
// iteration from 8 goroutines, which share transactions (group commit).
// Compare with BenchmarkFloorInsert, one autocommit INSERT per event.
func BenchmarkAppendConcurrent(b *testing.B) {
	const writers = 8
	for _, sm := range syncModes {
		b.Run(sm.name, func(b *testing.B) {
			x := open(b, sqlite.WithSynchronous(sm.mode))
			ctx := context.Background()
			commits := make([]*evento.Commit, b.N)
			for i := range commits {
				commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if err := x.Append(ctx, commits[i]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkTableVariants measures what the events table's design costs a
// single-event append with synchronous NORMAL, where appends are bound by
// the pages each commit writes to the WAL: the same INSERT, autocommit,
// into the events table's columns and unique keys ("unique", the floor of
// docs/benchmarks.md), with or without AUTOINCREMENT, and with the two
// read indexes of the type and the type and name ("read-indexes", the
// executor's table) or one index (aggregate_type, position, name) in their
// place ("one-type-index", which would serve reads of a type and name by
// walking the type's entries). Compare the variants within one run, and
// repeat the run to see its spread.
func BenchmarkTableVariants(b *testing.B) {
	table := func(autoincrement string) string {
		return `CREATE TABLE ev (position INTEGER PRIMARY KEY` + autoincrement + `, id BLOB NOT NULL UNIQUE,` +
			` aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,` +
			` routing_key TEXT, data BLOB, metadata BLOB, timestamp INTEGER NOT NULL,` +
			` UNIQUE (aggregate_type, aggregate_id, version))`
	}
	readIndexes := []string{`CREATE INDEX ev_type ON ev (aggregate_type, position)`,
		`CREATE INDEX ev_type_name ON ev (aggregate_type, name, position)`}
	oneIndex := []string{`CREATE INDEX ev_type ON ev (aggregate_type, position, name)`}
	for _, v := range []struct {
		name string
		ddl  []string
	}{
		{"unique", []string{table(" AUTOINCREMENT")}},
		{"unique/no-autoincrement", []string{table("")}},
		{"read-indexes", append([]string{table(" AUTOINCREMENT")}, readIndexes...)},
		{"read-indexes/no-autoincrement", append([]string{table("")}, readIndexes...)},
		{"one-type-index", append([]string{table(" AUTOINCREMENT")}, oneIndex...)},
		{"one-type-index/no-autoincrement", append([]string{table("")}, oneIndex...)},
	} {
		b.Run(v.name, func(b *testing.B) {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "t.db")+
				"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for _, ddl := range v.ddl {
				if _, err := db.Exec(ddl); err != nil {
					b.Fatal(err)
				}
			}
			stmt, err := db.Prepare(`INSERT INTO ev (id, aggregate_type, aggregate_id, version, name, data, timestamp)` +
				` VALUES (?, 'bench', ?, 1, 'Happened', ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			data := []byte(`{"n":1}`)
			for i := 0; b.Loop(); i++ {
				if _, err := stmt.Exec(ulid.Make().Bytes(), fmt.Sprint("agg-", i), data, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
