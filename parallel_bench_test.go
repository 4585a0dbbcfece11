package evento_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// BenchmarkParallelCatchUp drains 2,000 events of 200 aggregates with a
// handler that sleeps 1 ms (an I/O-bound handler), sequentially and over 4
// and 8 partitions, on SQLite, and checks that every aggregate's events
// were handled in version order.
//
//	go test -run '^$' -bench ParallelCatchUp -benchtime 3x .
func BenchmarkParallelCatchUp(b *testing.B) {
	const aggregates, perAggregate = 200, 10
	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { exec.Close() })
	st := evento.New(exec)
	for v := range perAggregate {
		for a := range aggregates {
			if _, err := st.Aggregate(fmt.Sprintf("acc-%d", a), int64(v)).Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	total := aggregates * perAggregate
	runs := 0 // every run drains the log with a new subscription key
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			for range b.N {
				var (
					mu   sync.Mutex
					last = make(map[string]int64)
					seen int
					bad  error
				)
				runs++
				sub := evento.NewSubscription(fmt.Sprintf("bench-%d", runs), evento.On(func(_ context.Context, e evento.Typed[MoneyDeposited]) error {
					time.Sleep(time.Millisecond)
					mu.Lock()
					defer mu.Unlock()
					if e.Version != last[e.AggregateID]+1 && bad == nil {
						bad = fmt.Errorf("%s: version %d after %d", e.AggregateID, e.Version, last[e.AggregateID])
					}
					last[e.AggregateID] = e.Version
					seen++
					return nil
				})).Parallel(n, nil)
				if err := sub.Execute(ctx, st); err != nil {
					b.Fatal(err)
				}
				if bad != nil || seen != total {
					b.Fatalf("handled %d of %d events; order: %v", seen, total, bad)
				}
			}
			b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
