package benchwork_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/sqlite"
)

// BenchmarkCatchUpSettled is W7 on a store filled once, before the timer
// starts: each iteration drains the whole log with a new subscription, so
// that after the first one the store's background work after the fill
// (Pebble's compactions, PostgreSQL's autovacuum) no longer competes with
// the catch-up, as it does in W7 of BenchmarkWorkloads. Select with e.g.
//
//	go test ./internal/benchwork -run '^$' -bench 'CatchUpSettled/pebble' -benchtime 10x
func BenchmarkCatchUpSettled(b *testing.B) {
	backends := map[string]func(b *testing.B) (benchwork.Backend, bool){
		"sqlite-normal": func(b *testing.B) (benchwork.Backend, bool) {
			return benchwork.SQLite(b.TempDir(), sqlite.SynchronousNormal), true
		},
		"pebble": func(b *testing.B) (benchwork.Backend, bool) { return benchwork.Pebble(b.TempDir()), true },
		"postgres": func(b *testing.B) (benchwork.Backend, bool) {
			dsn, ok := postgresDSN(b)
			return benchwork.Postgres(dsn), ok
		},
	}
	for _, name := range []string{"sqlite-normal", "pebble", "postgres"} {
		b.Run(name, func(b *testing.B) {
			be, ok := backends[name](b)
			if !ok {
				return
			}
			ctx := context.Background()
			x, done, err := be.OpenStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer done()
			s := evento.New(x)
			z := benchSizes(b)
			if err := benchwork.FillStore(ctx, s, z); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			rate := 0.0
			for i := range b.N {
				r, err := benchwork.W7(ctx, s, z, fmt.Sprint("settled-", i), z.ReadEvents)
				if err != nil {
					b.Fatal(err)
				}
				rate += r.Rate()
			}
			b.ReportMetric(rate/float64(b.N), "events/s")
		})
	}
}
