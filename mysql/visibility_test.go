package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/mysql"
)

// Committed positions always form a dense prefix of the log, so a reader
// that sees position p+1 but not p has seen a commit without an earlier
// one. MariaDB builds a statement's read view without stopping commits,
// and a single SELECT can see exactly that when two appends commit while
// its view is being built; the executor's reads, bounded by a counter
// value read in an earlier statement, must never. Half of the readers run
// single-statement SELECTs for comparison: their holes are logged, not
// failed (they are the server's behaviour, and rare: about one in 20,000
// reads on the development machine).
func TestReadsNeverSeeAHole(t *testing.T) {
	if testing.Short() {
		t.Skip("visibility test skipped with -short")
	}
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)
	single := sqlOpen(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	appendUntilDone(ctx, t, &wg, x)
	var executorReads, behind, singleReads, singleHoles atomic.Int64
	for r := range 8 {
		wg.Go(func() {
			var after uint64
			for i := 0; ctx.Err() == nil; i++ {
				var seen []uint64
				var err error
				// Every other executor read starts 150 positions back, more
				// than a page (100) behind the counter value the executor
				// knows, so that it is first bounded by that value (see
				// Read).
				from := after
				if r%2 == 1 && i%2 == 1 && after > 150 {
					from = after - 150
					behind.Add(1)
				}
				if r%2 == 0 {
					seen, err = readSingleStatement(single, after)
					singleReads.Add(1)
				} else {
					var page *cursor.Page[*evento.Event]
					page, err = x.Read(context.Background(), evento.Query{Args: cursor.Forward(100, cursor.Encode(cursor.Position{Seq: from}))})
					if err == nil {
						seen = positions(page.Nodes())
					}
					executorReads.Add(1)
				}
				if err != nil {
					t.Error(err)
					return
				}
				for _, p := range seen {
					if p != from+1 {
						if r%2 == 0 {
							singleHoles.Add(1)
						} else {
							t.Errorf("Read after position %d returned %d: position %d was not visible", from, p, from+1)
						}
						break
					}
					from = p
				}
				after = max(after, from)
			}
		})
	}
	wg.Wait()
	t.Logf("executor reads: %d (%d from 150 positions back), no hole; single-statement reads: %d, %d with a hole",
		executorReads.Load(), behind.Load(), singleReads.Load(), singleHoles.Load())
}

// appendUntilDone starts, in wg, eight writers that append commits of 1 to
// 3 events to their own aggregate of type "t" ("w0" to "w7") through x
// until ctx is done.
func appendUntilDone(ctx context.Context, t *testing.T, wg *sync.WaitGroup, x *mysql.Executor) {
	for w := range 8 {
		wg.Go(func() {
			var version int64
			for ctx.Err() == nil {
				n := 1 + int(version)%3
				if err := x.Append(context.Background(), newCommit("t", fmt.Sprint("w", w), version, n)); err != nil {
					t.Error(err)
					return
				}
				version += int64(n)
			}
		})
	}
}

// readSingleStatement reads the positions after after with one SELECT.
func readSingleStatement(db *sql.DB, after uint64) ([]uint64, error) {
	rows, err := db.Query("SELECT position FROM evento_events WHERE position > ? ORDER BY position LIMIT 50", after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var p uint64
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Readers of two aggregates out of eight walk exactly their events in
// global order while eight writers append through another executor: their
// reads run behind the counter value their executor knows, and a short
// page is completed once the counter has moved (see Read). Checked, once
// the writers stop, against the whole log.
func TestFilteredReadsBehindNeverSkip(t *testing.T) {
	if testing.Short() {
		t.Skip("visibility test skipped with -short")
	}
	dsn := freshDatabase(t)
	x, writer := openDSN(t, dsn), openDSN(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	appendUntilDone(ctx, t, &wg, writer)
	filters := []evento.Filter{{AggregateType: "t", AggregateID: "w1"}, {AggregateType: "t", AggregateID: "w2"}}
	walked := make([][]uint64, 4)
	for r := range walked {
		wg.Go(func() {
			var after cursor.Value
			for ctx.Err() == nil {
				page, err := x.Read(context.Background(), evento.Query{Filters: filters, Args: cursor.Forward(5, after)})
				if err != nil {
					t.Error(err)
					return
				}
				walked[r] = append(walked[r], positions(page.Nodes())...)
				if page.PageInfo.EndCursor != "" {
					after = page.PageInfo.EndCursor
				}
			}
		})
	}
	wg.Wait()
	var all []uint64
	for after := cursor.Value(""); ; {
		page, err := x.Read(context.Background(), evento.Query{Filters: filters, Args: cursor.Forward(1000, after)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, positions(page.Nodes())...)
		if !page.PageInfo.HasNextPage {
			break
		}
		after = page.PageInfo.EndCursor
	}
	for r, seen := range walked {
		if len(seen) == 0 || len(seen) > len(all) {
			t.Errorf("reader %d walked %d events of %d", r, len(seen), len(all))
			continue
		}
		for i, p := range seen {
			if p != all[i] {
				t.Errorf("reader %d: event %d of its walk is at position %d, want %d (the log's next event of w1 or w2)", r, i, p, all[i])
				break
			}
		}
	}
	t.Logf("%d events of w1 and w2; readers walked %d, %d, %d and %d of them", len(all), len(walked[0]), len(walked[1]), len(walked[2]), len(walked[3]))
}
