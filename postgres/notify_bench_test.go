package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

// reportLatencies reports the median and the 99th percentile of ds, in
// milliseconds.
func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.999999) - 1
		return float64(ds[max(i, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkAppendLatency measures how long an event appended through one
// executor takes to reach the handler of a subscription started on
// another: from just before Append to the handler. Each iteration appends
// one event after a random pause of up to 100ms (not timed), so that
// appends do not fall in step with the worker's polls, and waits for the
// handler before the next one.
//
// push is the default: the subscription polls once a minute and is woken
// by the notification. poll makes the subscription's executor
// WithoutNotify, so only its 100ms poll finds the events.
func BenchmarkAppendLatency(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []postgres.Option
		poll time.Duration
	}{
		{"push", nil, time.Minute},
		{"poll", []postgres.Option{postgres.WithoutNotify()}, 100 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			schema := freshSchema(b)
			reader := openIn(b, schema, bc.opts...)
			writer := openIn(b, schema)
			var (
				t0        atomic.Int64
				latencies = make(chan time.Duration, 1)
			)
			handle := func(context.Context, *evento.Event) error {
				latencies <- time.Since(time.Unix(0, t0.Load()))
				return nil
			}
			ctx := context.Background()
			w, err := evento.NewSubscription("latency").OnAll("bench", handle).PollInterval(bc.poll).
				Start(ctx, evento.New(reader))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Shutdown(context.Background())
			await := func() time.Duration {
				select {
				case d := <-latencies:
					return d
				case <-time.After(10 * time.Second):
					b.Fatal("the handler did not see the event within 10s")
					return 0
				}
			}
			commits := make([]*evento.Commit, b.N+1)
			for i := range commits {
				commits[i] = newCommit("bench", "agg", int64(i), 1)
			}
			// The first event starts the worker up.
			t0.Store(time.Now().UnixNano())
			if err := writer.Append(ctx, commits[0]); err != nil {
				b.Fatal(err)
			}
			await()
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				time.Sleep(rand.N(100 * time.Millisecond))
				b.StartTimer()
				t0.Store(time.Now().UnixNano())
				if err := writer.Append(ctx, commits[i+1]); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, await())
			}
			b.StopTimer()
			reportLatencies(b, ds)
		})
	}
}

// BenchmarkNotifyAppend measures what notifying costs an append: one
// event to a new aggregate per append, with and without notify, from one
// writer and from eight concurrent writers (each on a connection of its
// own). In both cases another executor listens on the store's channel, as
// a subscription would. appends/s is the throughput of all writers
// together.
func BenchmarkNotifyAppend(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []postgres.Option
	}{
		{"notify", nil},
		{"without", []postgres.Option{postgres.WithoutNotify()}},
	} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode.name, writers), func(b *testing.B) {
				benchmarkAppendWriters(b, writers, mode.opts)
			})
		}
	}
}

func benchmarkAppendWriters(b *testing.B, writers int, opts []postgres.Option) {
	ctx := context.Background()
	schema := freshSchema(b)
	listening(b, openIn(b, schema))
	cfg, err := pgxpool.ParseConfig(dsn())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(writers)
	cfg.MinConns = int32(writers)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	x, err := postgres.New(ctx, pool, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	commits := make([]*evento.Commit, b.N)
	for i := range commits {
		commits[i] = newCommit("bench", fmt.Sprint("agg-", i), 0, 1)
	}
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		failed atomic.Pointer[error]
	)
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := x.Append(ctx, commits[i]); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
