package benchwork

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventogo/evento"
)

// Workloads lists the workload names Run knows, in report order. W8 (append
// latency at 1M and 5M stored events) is not among them: it runs on demand
// only, see docs/benchmarks.md.
var Workloads = []string{"W1", "W2", "W3", "W4", "W4-shared", "W5", "W5-snapshot", "W6", "W7"}

// Describe returns a one-line description of a workload at sizes z.
func Describe(name string, z Sizes) string {
	switch name {
	case "W1":
		return fmt.Sprintf("append-new: %d new aggregates × 1 event, one writer", z.NewAggregates)
	case "W2":
		return fmt.Sprintf("append-stream: 1 aggregate, %d single-event commits", z.StreamCommits)
	case "W3":
		return fmt.Sprintf("append-batch: %d aggregates × 1 commit of %d events", z.BatchAggregates, z.BatchSize)
	case "W4":
		return fmt.Sprintf("concurrent: %d writers × %d commits, distinct aggregates", z.Writers, z.CommitsPerWriter)
	case "W4-shared":
		return fmt.Sprintf("concurrent: %d writers × %d successful commits, ONE aggregate, retry on conflict", z.Writers, z.CommitsPerWriter)
	case "W5":
		return fmt.Sprintf("load: aggregate of %d events through a projection, no snapshot", z.LoadEvents)
	case "W5-snapshot":
		return fmt.Sprintf("load: aggregate of %d events, from a snapshot", z.LoadEvents)
	case "W6":
		return fmt.Sprintf("global read: %d events in pages of %d", z.ReadEvents, z.PageSize)
	case "W7":
		return fmt.Sprintf("catch-up: subscription drains %d events, no-op handler", z.ReadEvents)
	}
	if n, ok := w8Level(name); ok {
		return fmt.Sprintf("growth: %d single-event appends with %d events stored (see p50/p99)", z.GrowthAppends, n)
	}
	return name
}

// W8 measures append latency with a store already holding a given number
// of events: "W8-0", "W8-1M" and "W8-5M" (any "W8-N", with an optional k or
// M suffix, is accepted). It is not in Workloads: filling 5M events takes
// long, so it runs only when named.
var W8Levels = []string{"W8-0", "W8-1M", "W8-5M"}

// w8Level parses the stored-event count of a W8 workload name.
func w8Level(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "W8-")
	if !ok || s == "" {
		return 0, false
	}
	mult := 1
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1000, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1000000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n * mult, true
}

// ParseWorkloads reads a comma-separated list of workload names ("all" or
// empty: every one but W8; "W8": the three W8 levels).
func ParseWorkloads(s string) ([]string, error) {
	if s == "" || s == "all" {
		return slices.Clone(Workloads), nil
	}
	var out []string
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if strings.EqualFold(w, "W8") {
			out = append(out, W8Levels...)
			continue
		}
		if _, ok := w8Level(strings.ToUpper(w)); ok {
			out = append(out, strings.ToUpper(w))
			continue
		}
		i := slices.IndexFunc(Workloads, func(k string) bool { return strings.EqualFold(k, w) })
		if i < 0 {
			return nil, fmt.Errorf("%w: unknown workload %q, want some of %s", evento.ErrInvalidArgument, w, strings.Join(Workloads, ","))
		}
		if !slices.Contains(out, Workloads[i]) {
			out = append(out, Workloads[i])
		}
	}
	return out, nil
}

// Measure is every run of one workload on one backend.
type Measure struct {
	Workload string   `json:"workload"`
	Store    string   `json:"store"`
	Library  []Result `json:"library"`
	Floor    []Result `json:"floor,omitempty"`
	// Peer holds the peer library's runs, when measured (bench/ module).
	Peer []Result `json:"peer,omitempty"`
}

// Summary is the median, min and max of a list of rates.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summarize returns the summary of the rates of rs.
func Summarize(rs []Result) Summary {
	if len(rs) == 0 {
		return Summary{}
	}
	rates := make([]float64, len(rs))
	for i, r := range rs {
		rates[i] = r.Rate()
	}
	slices.Sort(rates)
	m := rates[len(rates)/2]
	if len(rates)%2 == 0 {
		m = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
	}
	return Summary{Median: m, Min: rates[0], Max: rates[len(rates)-1]}
}

func medianDuration(rs []Result, f func(Result) time.Duration) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func medianInt(rs []Result, f func(Result) int) int {
	if len(rs) == 0 {
		return 0
	}
	ns := make([]int, len(rs))
	for i, r := range rs {
		ns[i] = f(r)
	}
	slices.Sort(ns)
	return ns[len(ns)/2]
}

// Run runs each named workload runs times on b, each run on a fresh store
// (and a fresh floor, right after it, in the same process), and returns
// the measures in the order of names. progress, if not nil, is told what
// runs.
func Run(ctx context.Context, b Backend, names []string, z Sizes, runs int, progress func(string)) ([]*Measure, error) {
	ms := make([]*Measure, len(names))
	for i, n := range names {
		ms[i] = &Measure{Workload: n, Store: b.Name}
	}
	for run := range runs {
		for i, n := range names {
			if progress != nil {
				progress(fmt.Sprintf("%s %s run %d/%d", b.Name, n, run+1, runs))
			}
			lib, floor, err := runOnce(ctx, b, n, z)
			if err != nil {
				return ms, fmt.Errorf("%s on %s: %w", n, b.Name, err)
			}
			ms[i].Library = append(ms[i].Library, lib)
			if floor != nil {
				ms[i].Floor = append(ms[i].Floor, *floor)
			}
		}
	}
	return ms, nil
}

// runOnce runs workload n once through the library and once through the
// floor, each on a fresh store.
func runOnce(ctx context.Context, b Backend, n string, z Sizes) (lib Result, floor *Result, err error) {
	exec, closeStore, err := b.OpenStore(ctx)
	if err != nil {
		return Result{}, nil, err
	}
	lib, err = RunLibrary(ctx, evento.New(exec), n, z)
	err = errors.Join(err, closeStore())
	if err != nil || b.OpenFloor == nil {
		return lib, nil, err
	}
	f, err := b.OpenFloor(ctx)
	if err != nil {
		return lib, nil, err
	}
	r, err := RunFloor(ctx, f, n, z)
	err = errors.Join(err, f.Close())
	if err != nil || r == nil {
		return lib, nil, err
	}
	return lib, r, nil
}

// LoadID is the aggregate W5 loads.
const LoadID = "load"

// RunLibrary runs workload n through s, which must be empty, including the
// untimed setup it needs.
func RunLibrary(ctx context.Context, s *evento.Store, n string, z Sizes) (Result, error) {
	switch n {
	case "W1":
		return W1(ctx, s, z)
	case "W2":
		return W2(ctx, s, z)
	case "W3":
		return W3(ctx, s, z)
	case "W4":
		return W4Distinct(ctx, s, z)
	case "W4-shared":
		return W4Shared(ctx, s, z)
	case "W5", "W5-snapshot":
		if err := FillAggregate(ctx, s, LoadID, z.LoadEvents, z.FillBatch); err != nil {
			return Result{}, err
		}
		if n == "W5" {
			return W5(ctx, s, z, LoadID)
		}
		return W5Snapshot(ctx, s, z, LoadID)
	case "W6":
		if err := FillStore(ctx, s, z); err != nil {
			return Result{}, err
		}
		return W6(ctx, s, z, z.ReadEvents)
	case "W7":
		if err := FillStore(ctx, s, z); err != nil {
			return Result{}, err
		}
		return W7(ctx, s, z, "bench", z.ReadEvents)
	}
	if level, ok := w8Level(n); ok {
		fill := z
		fill.ReadEvents, fill.FillBatch = level, 1000
		if err := FillStore(ctx, s, fill); err != nil {
			return Result{}, err
		}
		g := z
		g.NewAggregates = z.GrowthAppends
		return W1(ctx, s, g)
	}
	return Result{}, fmt.Errorf("%w: unknown workload %q", evento.ErrInvalidArgument, n)
}

// RunFloor runs workload n through f, which must be empty. It returns nil
// for a workload without a floor (W5-snapshot).
func RunFloor(ctx context.Context, f Floor, n string, z Sizes) (*Result, error) {
	var (
		r   Result
		err error
	)
	switch n {
	case "W1":
		r, err = FloorW1(ctx, f, z)
	case "W2":
		r, err = FloorW2(ctx, f, z)
	case "W3":
		r, err = FloorW3(ctx, f, z)
	case "W4":
		r, err = FloorW4Distinct(ctx, f, z)
	case "W4-shared":
		r, err = FloorW4Shared(ctx, f, z)
	case "W5":
		if err := FloorFillAggregate(ctx, f, LoadID, z.LoadEvents, z.FillBatch); err != nil {
			return nil, err
		}
		r, err = FloorW5(ctx, f, z, LoadID)
	case "W6", "W7":
		if err := FloorFillStore(ctx, f, z); err != nil {
			return nil, err
		}
		// W7's floor reads in pages as large as the subscription's
		// largest read: a worker catching up grows its reads up to 1,000
		// events (PageSize), or reads a larger chunk as it is.
		page := z.PageSize
		if n == "W7" {
			page = max(z.SubscriptionChunk, z.PageSize)
		}
		r, err = FloorRead(ctx, f, page, z.ReadEvents)
	default:
		level, ok := w8Level(n)
		if !ok {
			return nil, nil
		}
		fill := z
		fill.ReadEvents, fill.FillBatch = level, 1000
		if err := FloorFillStore(ctx, f, fill); err != nil {
			return nil, err
		}
		g := z
		g.NewAggregates = z.GrowthAppends
		r, err = FloorW1(ctx, f, g)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Rate formats a rate with a unit suffix: 1234 → "1.23k".
func Rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// span formats a summary as "median (min–max)".
func span(s Summary) string {
	return fmt.Sprintf("%s (%s–%s)", Rate(s.Median), Rate(s.Min), Rate(s.Max))
}

// Ratio returns how many times longer the library takes than the
// reference (floor or peer) for the same work: reference rate over library
// rate, of the medians. 0 when either is missing.
func Ratio(lib, ref Summary) float64 {
	if lib.Median == 0 || ref.Median == 0 {
		return 0
	}
	return ref.Median / lib.Median
}

func ratioString(r float64) string {
	if r == 0 {
		return "—"
	}
	return fmt.Sprintf("×%.2f", r)
}

func latency(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}

// WriteTable prints one aligned table of ms: per workload and store the
// library's rate (median of the runs, min–max), the floor's, the ratio
// library time / floor time, the library's median p50 and p99, the median
// conflicts, and the peer's columns when any measure has them.
func WriteTable(w io.Writer, ms []*Measure) error {
	peer := slices.ContainsFunc(ms, func(m *Measure) bool { return len(m.Peer) > 0 })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "WORKLOAD\tSTORE\tUNIT/S\tLIBRARY median (min–max)\tFLOOR median (min–max)\tvs FLOOR"
	if peer {
		head += "\tPEER median (min–max)\tvs PEER"
	}
	fmt.Fprintln(tw, head+"\tp50\tp99\tCONFLICTS\tRUNS")
	for _, m := range ms {
		lib, fl := Summarize(m.Library), Summarize(m.Floor)
		unit := ""
		if len(m.Library) > 0 {
			unit = m.Library[0].Unit
		}
		floor := "—"
		if len(m.Floor) > 0 {
			floor = span(fl)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", m.Workload, m.Store, unit, span(lib), floor, ratioString(Ratio(lib, fl)))
		if peer {
			p := Summarize(m.Peer)
			ps := "—"
			if len(m.Peer) > 0 {
				ps = span(p)
			}
			line += fmt.Sprintf("\t%s\t%s", ps, ratioString(Ratio(lib, p)))
		}
		conflicts := "—"
		if m.Workload == "W4-shared" {
			conflicts = fmt.Sprint(medianInt(m.Library, func(r Result) int { return r.Conflicts }))
			if len(m.Floor) > 0 {
				conflicts += fmt.Sprintf(" (floor %d)", medianInt(m.Floor, func(r Result) int { return r.Conflicts }))
			}
		}
		line += fmt.Sprintf("\t%s\t%s\t%s\t%d",
			latency(medianDuration(m.Library, func(r Result) time.Duration { return r.P50 })),
			latency(medianDuration(m.Library, func(r Result) time.Duration { return r.P99 })),
			conflicts, len(m.Library))
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}
