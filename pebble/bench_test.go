package pebble_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento/pebble"
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
