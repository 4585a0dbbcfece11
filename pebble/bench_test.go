package pebble_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
	"github.com/oklog/ulid/v2"
)

// BenchmarkDurableAppend measures commits of one event per second with 1,
// 4 and 16 concurrent writers, each on its own aggregate, with every
// commit synced (the default) and, for contrast, WithoutSync. Group commit
// lets concurrent writers share one sync, so durable throughput grows with
// the number of writers; the ratios against one writer are logged at the
// end of each mode.
func BenchmarkDurableAppend(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []pebble.Option
	}{{"sync", nil}, {"nosync", []pebble.Option{pebble.WithoutSync()}}} {
		rates := make(map[int]float64)
		for _, writers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode.name, writers), func(b *testing.B) {
				rates[writers] = benchmarkAppend(b, writers, mode.opts...)
			})
		}
		if rates[1] > 0 {
			b.Logf("%s: 4 writers = %.2fx, 16 writers = %.2fx the commits/s of 1 writer",
				mode.name, rates[4]/rates[1], rates[16]/rates[1])
		}
	}
}

// benchmarkAppend runs b.N commits spread over writers goroutines and
// returns the commits per second.
func benchmarkAppend(b *testing.B, writers int, opts ...pebble.Option) float64 {
	x, err := pebble.Open(b.TempDir(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		n := b.N / writers
		if w < b.N%writers {
			n++
		}
		wg.Go(func() {
			id := fmt.Sprintf("writer-%d", w)
			for v := range n {
				if err := x.Append(context.Background(), newCommit("bench/Account", id, int64(v), 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rate := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(rate, "commits/s")
	return rate
}

// BenchmarkRead reads pages of 1,000 events, the reads a catch-up makes,
// from stores of 20,000 events of two aggregate types in three layouts:
// commits of 10 events whose type alternates (global: through the event
// table; type: one type, through the type index), one type only
// (type-alone), and single-event commits whose type alternates
// (type-interleaved, where no two events of a type lie together). Each
// store is compacted before its reads. It reports events read per second,
// and allocations per page of 1,000 events.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	fill := func(b *testing.B, commits, size int, typeOf func(i int) string) *pebble.Executor {
		x, err := pebble.Open(b.TempDir(), pebble.WithoutSync())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { x.Close() })
		for i := range commits {
			c := newCommit(typeOf(i), fmt.Sprintf("aggregate-%d", i), 0, size)
			for _, e := range c.Events {
				e.Metadata = evento.Metadata{ID: ulid.Make().String()}
			}
			if err := x.Append(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		if err := pebble.Settle(x); err != nil {
			b.Fatal(err)
		}
		return x
	}
	alternate := func(i int) string { return []string{"bench/Account", "bench/Order"}[i%2] }
	account := []evento.Filter{{AggregateType: "bench/Account"}}
	for _, bc := range []struct {
		name    string
		store   func(b *testing.B) *pebble.Executor
		filters []evento.Filter
	}{
		{"global", func(b *testing.B) *pebble.Executor { return fill(b, 2_000, 10, alternate) }, nil},
		{"type", func(b *testing.B) *pebble.Executor { return fill(b, 2_000, 10, alternate) }, account},
		{"type-alone", func(b *testing.B) *pebble.Executor {
			return fill(b, 2_000, 10, func(int) string { return "bench/Account" })
		}, account},
		{"type-interleaved", func(b *testing.B) *pebble.Executor { return fill(b, 20_000, 1, alternate) }, account},
	} {
		b.Run(bc.name, func(b *testing.B) {
			x := bc.store(b)
			b.ReportAllocs()
			events := 0
			after := cursor.Value("")
			for b.Loop() {
				p, err := x.Read(ctx, evento.Query{Filters: bc.filters, Args: cursor.Forward(1000, after)})
				if err != nil {
					b.Fatal(err)
				}
				events += len(p.Edges)
				after = p.PageInfo.EndCursor
				if !p.PageInfo.HasNextPage {
					after = ""
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
