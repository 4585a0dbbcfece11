package bench_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eventogo/evento/bench"
	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/sqlite"
	"github.com/jackc/pgx/v5"
)

func postgresDSN() string {
	if v := os.Getenv("EVENTO_POSTGRES_DSN"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func postgresUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, postgresDSN())
	if err != nil {
		return false
	}
	c.Close(ctx)
	return true
}

func sizes(tb testing.TB, def float64) benchwork.Sizes {
	scale := def
	if v := os.Getenv("EVENTO_BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			tb.Fatalf("EVENTO_BENCH_SCALE=%q", v)
		}
		scale = f
	}
	return benchwork.DefaultSizes().Scale(scale)
}

// TestPeerSmoke runs the peer comparison tiny, to keep the module's code
// exercised; it measures nothing.
func TestPeerSmoke(t *testing.T) {
	targets := []bench.Target{bench.SQLiteTarget(t.TempDir(), sqlite.SynchronousNormal)}
	if postgresUp() {
		targets = append(targets, bench.PostgresTarget(postgresDSN()))
	}
	z := benchwork.DefaultSizes().Scale(0.0025)
	ms, err := bench.Compare(context.Background(), targets, bench.PeerWorkloads, z, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if len(m.Library) != 1 || len(m.Floor) != 1 || len(m.Peer) != 1 || m.Peer[0].Ops != m.Library[0].Ops {
			t.Errorf("%s on %s: library %v floor %v peer %v", m.Workload, m.Store, m.Library, m.Floor, m.Peer)
		}
	}
}

// BenchmarkPeer runs W1, W2, W3, W5 and W6 on SQLite (FULL and NORMAL)
// and PostgreSQL through evento, the floor and the peer, and reports the
// three rates and the ratios as custom metrics. Sizes are the issue's
// times $EVENTO_BENCH_SCALE (default 0.05).
func BenchmarkPeer(b *testing.B) {
	type target struct {
		name string
		make func(b *testing.B) (bench.Target, bool)
	}
	targets := []target{
		{"sqlite-full", func(b *testing.B) (bench.Target, bool) {
			return bench.SQLiteTarget(b.TempDir(), sqlite.SynchronousFull), true
		}},
		{"sqlite-normal", func(b *testing.B) (bench.Target, bool) {
			return bench.SQLiteTarget(b.TempDir(), sqlite.SynchronousNormal), true
		}},
		{"postgres", func(b *testing.B) (bench.Target, bool) {
			return bench.PostgresTarget(postgresDSN()), postgresUp()
		}},
	}
	for _, w := range bench.PeerWorkloads {
		b.Run(w, func(b *testing.B) {
			for _, tg := range targets {
				b.Run(tg.name, func(b *testing.B) {
					t, ok := tg.make(b)
					if !ok {
						b.Skip("PostgreSQL is not reachable (EVENTO_POSTGRES_DSN)")
					}
					z := sizes(b, 0.05)
					var lib, floor, peer []benchwork.Result
					for range b.N {
						ms, err := bench.Compare(context.Background(), []bench.Target{t}, []string{w}, z, 1, nil)
						if err != nil {
							b.Fatal(err)
						}
						lib = slices.Concat(lib, ms[0].Library)
						floor = slices.Concat(floor, ms[0].Floor)
						peer = slices.Concat(peer, ms[0].Peer)
					}
					unit := lib[0].Unit
					l, f, p := benchwork.Summarize(lib), benchwork.Summarize(floor), benchwork.Summarize(peer)
					b.ReportMetric(l.Median, unit+"/s")
					b.ReportMetric(f.Median, "floor-"+unit+"/s")
					b.ReportMetric(p.Median, "peer-"+unit+"/s")
					b.ReportMetric(benchwork.Ratio(l, f), "x-floor")
					b.ReportMetric(benchwork.Ratio(l, p), "x-peer")
				})
			}
		})
	}
}
