package benchwork_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/sqlite"
	"github.com/jackc/pgx/v5"
)

// tiny are sizes of about 50, so that the smoke test exercises every
// workload in well under a second per store.
func tiny() benchwork.Sizes {
	z := benchwork.DefaultSizes().Scale(0.0025)
	z.Writers = 4
	return z
}

// TestWorkloadsSmoke runs every workload once, tiny, through the library
// and the floor, and checks the counts they report. It measures nothing.
func TestWorkloadsSmoke(t *testing.T) {
	backends := []benchwork.Backend{
		benchwork.SQLite(t.TempDir(), sqlite.SynchronousNormal),
		benchwork.Pebble(t.TempDir()),
	}
	if dsn, ok := postgresDSN(t); ok {
		backends = append(backends, benchwork.Postgres(dsn))
	}
	z := tiny()
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			ms, err := benchwork.Run(context.Background(), b, benchwork.Workloads, z, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{
				"W1": z.NewAggregates, "W2": z.StreamCommits, "W3": z.BatchAggregates * z.BatchSize,
				"W4": z.Writers * z.CommitsPerWriter, "W4-shared": z.Writers * z.CommitsPerWriter,
				"W5": z.Loads, "W5-snapshot": z.Loads, "W6": z.ReadEvents, "W7": z.ReadEvents,
			}
			for _, m := range ms {
				if len(m.Library) != 1 || m.Library[0].Ops != want[m.Workload] || m.Library[0].Duration <= 0 {
					t.Errorf("%s: library %+v, want %d ops", m.Workload, m.Library, want[m.Workload])
				}
				wantFloor := 1
				if m.Workload == "W5-snapshot" {
					wantFloor = 0
				}
				if len(m.Floor) != wantFloor || (wantFloor == 1 && m.Floor[0].Ops != want[m.Workload]) {
					t.Errorf("%s: floor %+v, want %d runs of %d ops", m.Workload, m.Floor, wantFloor, want[m.Workload])
				}
			}
			var buf bytes.Buffer
			if err := benchwork.WriteTable(&buf, ms); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(buf.String(), "\n"); got != len(ms)+1 {
				t.Errorf("table has %d lines, want %d:\n%s", got, len(ms)+1, buf.String())
			}
		})
	}
}

func TestParse(t *testing.T) {
	if _, err := benchwork.ParseWorkloads("W1,w4-shared"); err != nil {
		t.Error(err)
	}
	if w, err := benchwork.ParseWorkloads("W8,W8-20k"); err != nil || len(w) != 4 || w[3] != "W8-20K" {
		t.Errorf("ParseWorkloads(W8,W8-20k) = %q, %v", w, err)
	}
	if _, err := benchwork.ParseWorkloads("W9"); err == nil {
		t.Error("W9 accepted")
	}
	for spec, name := range map[string]string{
		"sqlite": "sqlite(FULL)", "sqlite-normal": "sqlite(NORMAL)", "sqlite:/tmp?synchronous=normal": "sqlite(NORMAL)",
		"pebble:/tmp": "pebble", "postgres://u@h/db": "postgres", "mysql://root@127.0.0.1:3306": "mariadb",
	} {
		b, err := benchwork.ParseBackend(spec, t.TempDir())
		if err != nil || b.Name != name {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q", spec, b.Name, err, name)
		}
	}
	if _, err := benchwork.ParseBackend("redis://x", ""); err == nil {
		t.Error("redis accepted")
	}
}

func postgresDSN(tb testing.TB) (string, bool) {
	dsn := testenv.DSN("EVENTO_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		testenv.Unavailable(tb, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
		return "", false
	}
	conn.Close(ctx)
	return dsn, true
}

// benchSizes are the sizes of the go test benchmarks: the issue's, scaled
// by $EVENTO_BENCH_SCALE (default 0.1, so that a -bench run fits a CI
// machine; set 1 for the sizes).
func benchSizes(b *testing.B) benchwork.Sizes {
	scale := 0.1
	if v := os.Getenv("EVENTO_BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			b.Fatalf("EVENTO_BENCH_SCALE=%q: want a positive number", v)
		}
		scale = f
	}
	return benchwork.DefaultSizes().Scale(scale)
}

// BenchmarkWorkloads runs each workload on each store: per iteration a
// fresh store through the library and then a fresh floor, reporting the
// library's rate, the floor's and their ratio (library time / floor time)
// as custom metrics. Select with e.g.
//
//	go test ./internal/benchwork -run '^$' -bench 'Workloads/W1/sqlite' -benchtime 3x
func BenchmarkWorkloads(b *testing.B) {
	backends := []func(b *testing.B) (benchwork.Backend, bool){
		func(b *testing.B) (benchwork.Backend, bool) {
			return benchwork.SQLite(b.TempDir(), sqlite.SynchronousFull), true
		},
		func(b *testing.B) (benchwork.Backend, bool) {
			return benchwork.SQLite(b.TempDir(), sqlite.SynchronousNormal), true
		},
		func(b *testing.B) (benchwork.Backend, bool) { return benchwork.Pebble(b.TempDir()), true },
		func(b *testing.B) (benchwork.Backend, bool) {
			dsn, ok := postgresDSN(b)
			return benchwork.Postgres(dsn), ok
		},
	}
	names := []string{"sqlite-full", "sqlite-normal", "pebble", "postgres"}
	for _, w := range benchwork.Workloads {
		b.Run(w, func(b *testing.B) {
			for i, open := range backends {
				b.Run(names[i], func(b *testing.B) {
					be, ok := open(b)
					if !ok {
						return
					}
					z := benchSizes(b)
					var libRate, floorRate float64
					unit := ""
					for range b.N {
						ms, err := benchwork.Run(context.Background(), be, []string{w}, z, 1, nil)
						if err != nil {
							b.Fatal(err)
						}
						m := ms[0]
						unit = m.Library[0].Unit
						libRate += m.Library[0].Rate()
						if len(m.Floor) > 0 {
							floorRate += m.Floor[0].Rate()
						}
					}
					b.ReportMetric(libRate/float64(b.N), unit+"/s")
					if floorRate > 0 {
						b.ReportMetric(floorRate/float64(b.N), "floor-"+unit+"/s")
						b.ReportMetric(floorRate/libRate, "x-floor")
					}
				})
			}
		})
	}
}
