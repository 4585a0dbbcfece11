// Command peercompare prints the table of docs/benchmarks.md that sets
// evento beside the floor (the raw driver) and the peer library
// (github.com/hallgren/eventsourcing) on SQLite and PostgreSQL:
//
//	cd bench && go run ./cmd/peercompare -scale 0.1 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/eventogo/evento/bench"
	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/sqlite"
)

func main() {
	scale := flag.Float64("scale", 0.1, "multiply the workload sizes by `f`")
	runs := flag.Int("runs", 5, "runs of each workload")
	workloads := flag.String("workloads", "W1,W2,W3,W5,W6", "comma-separated workloads")
	stores := flag.String("stores", "sqlite-full,sqlite-normal,postgres", "comma-separated: sqlite-full, sqlite-normal, postgres")
	dsn := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL `DSN`")
	dir := flag.String("dir", os.TempDir(), "`directory` for the SQLite files")
	verbose := flag.Bool("v", false, "print progress to standard error")
	flag.Parse()

	names, err := benchwork.ParseWorkloads(*workloads)
	if err != nil {
		fail(err)
	}
	var targets []bench.Target
	for _, s := range strings.Split(*stores, ",") {
		switch s {
		case "sqlite-full":
			targets = append(targets, bench.SQLiteTarget(*dir, sqlite.SynchronousFull))
		case "sqlite-normal":
			targets = append(targets, bench.SQLiteTarget(*dir, sqlite.SynchronousNormal))
		case "postgres":
			targets = append(targets, bench.PostgresTarget(*dsn))
		default:
			fail(fmt.Errorf("unknown store %q", s))
		}
	}
	z := benchwork.DefaultSizes().Scale(*scale)
	ms, err := bench.Compare(context.Background(), targets, names, z, *runs, func(s string) {
		if *verbose {
			fmt.Fprintln(os.Stderr, s)
		}
	})
	if err != nil {
		fail(err)
	}
	for _, n := range names {
		fmt.Printf("%-12s %s\n", n, benchwork.Describe(n, z))
	}
	fmt.Printf("(scale %g, %d run(s) each, %s, %d CPUs; vs FLOOR = evento time / raw driver time, vs PEER = evento time / peer time)\n\n",
		*scale, *runs, runtime.Version(), runtime.NumCPU())
	if err := benchwork.WriteTable(os.Stdout, ms); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peercompare:", err)
	os.Exit(1)
}
