package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/postgres"
	"github.com/oklog/ulid/v2"
)

// tailer follows the log from its last position until stop is closed and
// then reads once more to the end, as a subscription does, and returns the
// ids it saw.
type tailer func(ctx context.Context, stop <-chan struct{}) ([]ulid.ULID, error)

// naiveTailer reads the events table with its own SQL, ordered by the
// query's columns and without the horizon. order is "seq" (the identity
// column alone) or "tx_id, seq" (the executor's order, unbounded).
func naiveTailer(t *testing.T, x *postgres.Executor, order string) tailer {
	conn := connect(t)
	var query string
	switch order {
	case "seq":
		query = `SELECT id, $1::xid8, seq FROM ` + x.EventsTable() + ` WHERE seq > $2 ORDER BY seq LIMIT 1000`
	default:
		query = `SELECT id, tx_id, seq FROM ` + x.EventsTable() +
			` WHERE (tx_id, seq) > ($1::xid8, $2) ORDER BY tx_id, seq LIMIT 1000`
	}
	return func(ctx context.Context, stop <-chan struct{}) ([]ulid.ULID, error) {
		var (
			seen    []ulid.ULID
			lastTx  uint64
			lastSeq int64
		)
		for {
			finished := false
			select {
			case <-stop:
				finished = true
			default:
			}
			rows, err := conn.Query(ctx, query, lastTx, lastSeq)
			if err != nil {
				return nil, err
			}
			n := 0
			for rows.Next() {
				var id [16]byte
				if err := rows.Scan(&id, &lastTx, &lastSeq); err != nil {
					return nil, err
				}
				seen = append(seen, id)
				n++
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			if finished && n == 0 {
				return seen, nil
			}
		}
	}
}

// readTailer follows the log through Read, with its horizon.
func readTailer(x *postgres.Executor) tailer {
	return func(ctx context.Context, stop <-chan struct{}) ([]ulid.ULID, error) {
		var (
			seen  []ulid.ULID
			after cursor.Value
		)
		for {
			finished := false
			select {
			case <-stop:
				finished = true
			default:
			}
			page, err := x.Read(ctx, evento.Query{Args: cursor.Forward(1000, after)})
			if err != nil {
				return nil, err
			}
			for _, e := range page.Nodes() {
				seen = append(seen, e.ID)
			}
			if n := len(page.Edges); n > 0 {
				after = page.PageInfo.EndCursor
			}
			if finished && len(page.Edges) == 0 {
				return seen, nil
			}
		}
	}
}

// missed counts the committed events a tailer did not see.
func missed(committed []*evento.Event, seen []ulid.ULID) int {
	got := make(map[ulid.ULID]bool, len(seen))
	for _, id := range seen {
		got[id] = true
	}
	n := 0
	for _, e := range committed {
		if !got[e.ID] {
			n++
		}
	}
	return n
}

// The stress run again, with three readers tailing the log at once: one
// through Read, and two that page by naive orders without the horizon. The
// naive ones lose events: a transaction that draws a smaller seq (or
// transaction id) can commit after one that drew a larger one, once the
// reader has moved past it. Read, bounded by the horizon, loses none. The
// race is real but not certain in a given run, so the test tries a few
// times and skips, saying so, if the naive readers were lucky every time.
func TestNaiveOrderingLosesEvents(t *testing.T) {
	if testing.Short() && !testenv.ServersRequired() {
		t.Skip("stress test: skipped with -short outside CI")
	}
	const writers, commits, attempts = 8, 500, 3
	naiveMissed := map[string]int{}
	for attempt := 1; attempt <= attempts; attempt++ {
		x := open(t)
		names := []string{"Read (horizon)", "naive seq", "naive tx_id, seq"}
		tailers := map[string]tailer{
			names[0]: readTailer(x),
			names[1]: naiveTailer(t, x, "seq"),
			names[2]: naiveTailer(t, x, "tx_id, seq"),
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string][]ulid.ULID{}
		for name, tail := range tailers {
			wg.Go(func() {
				ids, err := tail(t.Context(), stop)
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				mu.Lock()
				seen[name] = ids
				mu.Unlock()
			})
		}
		committed := appendConcurrently(t, x, writers, commits)
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
		report := fmt.Sprintf("attempt %d, %d events committed:", attempt, len(committed))
		for _, name := range names {
			n := missed(committed, seen[name])
			report += fmt.Sprintf(" %s missed %d (saw %d);", name, n, len(seen[name]))
			if name == "Read (horizon)" {
				if n != 0 || len(seen[name]) != len(committed) {
					t.Errorf("Read with the horizon missed %d events and saw %d of %d", n, len(seen[name]), len(committed))
				}
				continue
			}
			naiveMissed[name] += n
		}
		t.Log(report)
		if naiveMissed["naive seq"] > 0 && naiveMissed["naive tx_id, seq"] > 0 {
			return
		}
	}
	t.Skipf("the naive readers happened not to lose an event in %d attempts (missed: %v); the race they lose is timing-dependent",
		attempts, naiveMissed)
}
