package benchwork_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/sqlite"
)

// peakHeap runs fn while sampling the live heap every millisecond, and
// returns the largest sample above the heap measured (after a GC) before
// fn started.
func peakHeap(fn func() error) (uint64, error) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		peak uint64
		mu   sync.Mutex
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
		}
	}()
	err := fn()
	close(stop)
	<-done
	if peak < base.HeapAlloc {
		return 0, err
	}
	return peak - base.HeapAlloc, err
}

// BenchmarkMemory reports the peak heap growth of W6 (global read) and W7
// (catch-up) over stores of 20,000 and 100,000 events on SQLite, to show
// that neither grows with the size of the log:
//
//	go test ./internal/benchwork -run '^$' -bench Memory -benchtime 1x
func BenchmarkMemory(b *testing.B) {
	for _, events := range []int{20_000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			ctx := context.Background()
			be := benchwork.SQLite(b.TempDir(), sqlite.SynchronousNormal)
			exec, closeStore, err := be.OpenStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer closeStore()
			st := evento.New(exec)
			z := benchwork.DefaultSizes()
			z.ReadEvents = events
			if err := benchwork.FillStore(ctx, st, z); err != nil {
				b.Fatal(err)
			}
			var w6, w7 uint64
			for i := range b.N {
				p, err := peakHeap(func() error { _, err := benchwork.W6(ctx, st, z, events); return err })
				if err != nil {
					b.Fatal(err)
				}
				w6 = max(w6, p)
				p, err = peakHeap(func() error {
					_, err := benchwork.W7(ctx, st, z, fmt.Sprintf("memory-%d", i), events)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				w7 = max(w7, p)
			}
			b.ReportMetric(float64(w6)/(1<<20), "W6-peak-MiB")
			b.ReportMetric(float64(w7)/(1<<20), "W7-peak-MiB")
		})
	}
}
