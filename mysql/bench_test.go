package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	driver "github.com/go-sql-driver/mysql"
)

// The append benchmarks measure what the serialised position counter
// costs. Each runs with one writer and with eight concurrent writers, and
// appends one event per commit to a new aggregate:
//
//   - Append is the executor: version check, START TRANSACTION, counter
//     UPDATE, INSERT, COMMIT.
//   - FloorInsert is the raw driver's floor: one autocommit INSERT into a
//     copy of the events table whose position is AUTO_INCREMENT (no
//     version check, no transaction of our own, no counter, and no
//     commit-order guarantee).
//   - FloorTx wraps that INSERT in START TRANSACTION ... COMMIT: the same
//     transaction shape as Append without the version check and the
//     counter, so Append minus FloorTx is the counter's own cost.
//   - CounterBatched is not what the executor does: it measures the same
//     counter with the UPDATE and the INSERT sent as one multi-statement
//     round trip (multiStatements=true, positions from LAST_INSERT_ID()),
//     which shortens the time the counter stays locked by a round trip.

var benchWriters = []int{1, 8}

func BenchmarkAppend(b *testing.B) {
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			x := open(b)
			ctx := context.Background()
			commits := make([]*evento.Commit, b.N)
			for i := range commits {
				commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
			}
			concurrently(b, writers, func(i int) error { return x.Append(ctx, commits[i]) })
		})
	}
}

func BenchmarkFloorInsert(b *testing.B) {
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, insert, commits := floor(b)
			ctx := context.Background()
			concurrently(b, writers, func(i int) error {
				_, err := db.ExecContext(ctx, insert, floorArgs(commits[i])...)
				return err
			})
		})
	}
}

func BenchmarkFloorTx(b *testing.B) {
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, insert, commits := floor(b)
			ctx := context.Background()
			concurrently(b, writers, func(i int) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, insert, floorArgs(commits[i])...); err != nil {
					tx.Rollback()
					return err
				}
				return tx.Commit()
			})
		})
	}
}

func BenchmarkCounterBatched(b *testing.B) {
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			dsn := freshDatabase(b)
			openDSN(b, dsn)
			cfg, err := driver.ParseDSN(dsn)
			if err != nil {
				b.Fatal(err)
			}
			cfg.InterpolateParams, cfg.MultiStatements = true, true
			db, err := sql.Open("mysql", cfg.FormatDSN())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			db.SetMaxIdleConns(16)
			commits := make([]*evento.Commit, b.N)
			for i := range commits {
				commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
			}
			const batch = "START TRANSACTION;" +
				" UPDATE evento_counter SET value = LAST_INSERT_ID(value + 1) WHERE id = 1;" +
				" INSERT INTO evento_events" +
				" (position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)" +
				" VALUES (LAST_INSERT_ID(), ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			ctx := context.Background()
			concurrently(b, writers, func(i int) error {
				conn, err := db.Conn(ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				e := commits[i].Events[0]
				var v int64
				err = conn.QueryRowContext(ctx, "SELECT version FROM evento_events WHERE aggregate_type = ? AND aggregate_id = ?"+
					" ORDER BY version DESC LIMIT 1", e.AggregateType, e.AggregateID).Scan(&v)
				if !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("version check: %v", err)
				}
				if _, err := conn.ExecContext(ctx, batch, floorArgs(commits[i])...); err != nil {
					conn.ExecContext(ctx, "ROLLBACK")
					return err
				}
				_, err = conn.ExecContext(ctx, "COMMIT")
				return err
			})
		})
	}
}

// BenchmarkAppendBatch appends commits of 100 events to new aggregates,
// with one writer, and reports the time per event.
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
			mustAppend(b, x, newCommit(typ, fmt.Sprint(typ, i), 0, 5000))
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

// BenchmarkFloorReadPage is the floor under BenchmarkReadPage/all: the same
// page of 1000 events in one SELECT through the raw driver, scanned into
// plain values, without the counter read that bounds the executor's reads
// or the decoding of metadata.
func BenchmarkFloorReadPage(b *testing.B) {
	dsn := freshDatabase(b)
	x := openDSN(b, dsn)
	for i := range 4 {
		mustAppend(b, x, newCommit("A", fmt.Sprint("A", i), 0, 5000))
	}
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var (
		position, version, timestamp int64
		id, typ, agg, name, data, md []byte
		rk                           sql.NullString
	)
	b.ResetTimer()
	for i := range b.N {
		after := int64(i%20) * 1000
		rows, err := db.Query("SELECT position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp"+
			" FROM evento_events WHERE position > ? ORDER BY position LIMIT 1001", after)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&position, &id, &typ, &agg, &version, &name, &rk, &data, &md, &timestamp); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		if n < 1000 {
			b.Fatalf("page of %d rows", n)
		}
	}
}

// concurrently runs op for 0..b.N-1 on writers goroutines and times it.
func concurrently(b *testing.B, writers int, op func(i int) error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// floor returns a database with a copy of the events table whose position
// is AUTO_INCREMENT, through the same DSN settings as Open
// (interpolateParams), the INSERT of one event into it, and b.N commits.
func floor(b *testing.B) (*sql.DB, string, []*evento.Commit) {
	dsn := freshDatabase(b)
	openDSN(b, dsn) // creates the events table to copy
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxIdleConns(16)
	for _, stmt := range []string{
		"CREATE TABLE floor_events LIKE evento_events",
		"ALTER TABLE floor_events MODIFY position BIGINT UNSIGNED NOT NULL AUTO_INCREMENT",
	} {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
	}
	return db, "INSERT INTO floor_events" +
		" (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)" +
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", commits
}

func floorArgs(c *evento.Commit) []any {
	e := c.Events[0]
	return []any{e.ID[:], e.AggregateType, e.AggregateID, e.Version, e.Name, nil, e.Data, nil, time.Now().UnixMicro()}
}
