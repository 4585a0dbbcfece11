package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/eventogo/evento/internal/benchwork"
)

var benchCommand = &command{
	name:    "bench",
	args:    "[flags]",
	summary: "run the benchmark workloads and print one table",
	help: `
Runs the benchmark workloads (docs/benchmarks.md) on fresh, empty stores
that it creates and deletes, never on an existing store: through evento,
and right after through the raw driver with no library in between (the
floor), in the same process. It prints, per workload and store, the
library's rate (median of the runs, min–max), the floor's, the ratio
library time / floor time (×1.00 = no overhead), the library's median
p50/p99 latency per op and, for W4-shared, the version conflicts.

Workloads: W1 append-new, W2 append-stream, W3 append-batch (commits of
10 events), W4 8 concurrent writers on distinct aggregates, W4-shared 8
writers on one aggregate retrying on conflict, W5 load of one aggregate
through a projection, W5-snapshot the same from a snapshot, W6 global read
in pages, W7 subscription catch-up. -scale multiplies their sizes (1 = the
issue's sizes: 20,000 aggregates for W1, 100,000 events for W6, ...).
W8 (append latency, p50/p99, with 0, 1M and 5M events already stored; or
W8-N for N stored events, e.g. W8-200k) runs only when named: filling
millions of events takes minutes.

Here --store takes bench specs, comma-separated, not the spec of a store:
  sqlite[:DIR][?synchronous=full|normal]  SQLite files in DIR (default
                                          -dir), synchronous FULL by default
  sqlite-normal[:DIR]                     SQLite with synchronous NORMAL
  pebble[:DIR]                            Pebble directories in DIR
  postgres://USER@HOST:PORT/DB            a new schema per run on that
                                          server, dropped afterwards
  mysql://USER:PASS@HOST:PORT             a new database per run, dropped
                                          afterwards
The default is sqlite,sqlite-normal,pebble. $EVENTO_STORE is not read.`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		workloads := fs.String("workloads", "all", "comma-separated `list` of workloads (W1,W2,W3,W4,W4-shared,W5,W5-snapshot,W6,W7)")
		scale := fs.Float64("scale", 0.1, "multiply the workload sizes by `f`")
		runs := fs.Int("runs", 5, "runs of each workload (the table shows their median)")
		dir := fs.String("dir", os.TempDir(), "`directory` for the SQLite and Pebble stores")
		chunk := fs.Int("chunk", 0, "W7: the subscription's chunk `size` (0: the library's default, 100, growing to 1,000 while it catches up); W7's floor reads pages of 1,000 or of a larger chunk")
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) > 0 {
				return usageErrorf("bench takes no arguments, got %q", args)
			}
			names, err := benchwork.ParseWorkloads(*workloads)
			if err != nil {
				return usageErrorf("-workloads: %v", err)
			}
			if *scale <= 0 || *runs < 1 || *chunk < 0 {
				return usageErrorf("-scale must be positive, -runs at least 1 and -chunk not negative")
			}
			specs := c.store
			if specs == "" {
				specs = "sqlite,sqlite-normal,pebble"
			}
			var backends []benchwork.Backend
			for _, spec := range strings.Split(specs, ",") {
				b, err := benchwork.ParseBackend(strings.TrimSpace(spec), *dir)
				if err != nil {
					return usageErrorf("--store: %v", err)
				}
				backends = append(backends, b)
			}
			z := benchwork.DefaultSizes().Scale(*scale)
			z.SubscriptionChunk = *chunk
			var all []*benchwork.Measure
			for _, b := range backends {
				ms, err := benchwork.Run(ctx, b, names, z, *runs, func(s string) {
					c.log.InfoContext(ctx, "bench", "running", s)
				})
				if err != nil {
					return err
				}
				all = append(all, ms...)
			}
			return printBench(c, names, z, *scale, *runs, all)
		}
	},
}

// benchView is the JSON output of bench.
type benchView struct {
	Scale     float64           `json:"scale"`
	Runs      int               `json:"runs"`
	Sizes     benchwork.Sizes   `json:"sizes"`
	GoVersion string            `json:"go_version"`
	CPUs      int               `json:"cpus"`
	Results   []benchResultView `json:"results"`
}

type benchResultView struct {
	Workload    string             `json:"workload"`
	Store       string             `json:"store"`
	Unit        string             `json:"unit"`
	Library     benchwork.Summary  `json:"library_per_second"`
	Floor       *benchwork.Summary `json:"floor_per_second,omitempty"`
	FloorRatio  float64            `json:"floor_ratio,omitempty"`
	LibraryRuns []benchwork.Result `json:"library_runs"`
	FloorRuns   []benchwork.Result `json:"floor_runs,omitempty"`
}

func printBench(c *cli, names []string, z benchwork.Sizes, scale float64, runs int, ms []*benchwork.Measure) error {
	if c.json() {
		v := benchView{Scale: scale, Runs: runs, Sizes: z, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
			Results: make([]benchResultView, 0, len(ms))}
		for _, m := range ms {
			r := benchResultView{Workload: m.Workload, Store: m.Store, Library: benchwork.Summarize(m.Library),
				LibraryRuns: m.Library, FloorRuns: m.Floor}
			if len(m.Library) > 0 {
				r.Unit = m.Library[0].Unit
			}
			if len(m.Floor) > 0 {
				f := benchwork.Summarize(m.Floor)
				r.Floor, r.FloorRatio = &f, benchwork.Ratio(r.Library, f)
			}
			v.Results = append(v.Results, r)
		}
		return writeJSON(c.stdout, v)
	}
	for _, n := range names {
		fmt.Fprintf(c.stdout, "%-12s %s\n", n, benchwork.Describe(n, z))
	}
	fmt.Fprintf(c.stdout, "(scale %g, %d run(s) each, %s, %d CPUs; vs FLOOR = library time / raw driver time)\n\n",
		scale, runs, runtime.Version(), runtime.NumCPU())
	return benchwork.WriteTable(c.stdout, ms)
}
