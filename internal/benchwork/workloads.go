// Package benchwork holds the benchmark workloads that the go test
// benchmarks, the `evento bench` command and the peer comparison under
// bench/ share: W1..W7 of docs/benchmarks.md run through an evento.Store,
// and the same rows written and read by the raw driver with no library in
// between (the floor, see [Floor]).
//
// Every workload takes its sizes from [Sizes], so that tests run tiny
// versions of them; none of them asserts anything about speed.
package benchwork

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// AggregateType is the aggregate type of every event the workloads write.
const AggregateType = "bench/Item"

// Happened is the one event the workloads append: a small payload, close
// to a typical domain event.
type Happened struct {
	N    int    `cbor:"1,keyasint" json:"n"`
	Note string `cbor:"2,keyasint" json:"note"`
}

// AggregateType implements evento.EventData.
func (Happened) AggregateType() string { return AggregateType }

// EventName implements evento.EventData.
func (Happened) EventName() string { return "Happened" }

// note is the payload's text: 32 bytes.
const note = "benchmark payload, 32 bytes ...."

// Sizes are the workloads' sizes; [DefaultSizes] are those of the issue.
type Sizes struct {
	NewAggregates     int `json:"new_aggregates"`     // W1: new aggregates, one event each
	StreamCommits     int `json:"stream_commits"`     // W2: single-event commits to one aggregate
	BatchAggregates   int `json:"batch_aggregates"`   // W3: aggregates, one commit each ...
	BatchSize         int `json:"batch_size"`         // W3: ... of this many events
	Writers           int `json:"writers"`            // W4: concurrent writers
	CommitsPerWriter  int `json:"commits_per_writer"` // W4: successful commits each writer makes
	LoadEvents        int `json:"load_events"`        // W5: events of the loaded aggregate
	Loads             int `json:"loads"`              // W5: loads timed
	ReadEvents        int `json:"read_events"`        // W6 and W7: events in the store
	PageSize          int `json:"page_size"`          // W6: events per page
	FillBatch         int `json:"fill_batch"`         // events per commit when filling a store (untimed)
	SubscriptionChunk int `json:"subscription_chunk"` // W7: subscription chunk size; 0 keeps the library's default
	GrowthAppends     int `json:"growth_appends"`     // W8: appends timed at each stored-event level
}

// DefaultSizes returns the sizes of the issue.
func DefaultSizes() Sizes {
	return Sizes{
		NewAggregates:    20000,
		StreamCommits:    10000,
		BatchAggregates:  2000,
		BatchSize:        10,
		Writers:          8,
		CommitsPerWriter: 250,
		LoadEvents:       10000,
		Loads:            20,
		ReadEvents:       100000,
		PageSize:         1000,
		FillBatch:        1000,
		GrowthAppends:    2000,
	}
}

// Scale multiplies every count by f (at least 1 each); the batch size,
// writer count, page size and fill batch stay.
func (s Sizes) Scale(f float64) Sizes {
	sc := func(n int) int { return max(1, int(float64(n)*f+0.5)) }
	s.NewAggregates = sc(s.NewAggregates)
	s.StreamCommits = sc(s.StreamCommits)
	s.BatchAggregates = sc(s.BatchAggregates)
	s.CommitsPerWriter = sc(s.CommitsPerWriter)
	s.GrowthAppends = sc(s.GrowthAppends)
	s.LoadEvents = sc(s.LoadEvents)
	s.Loads = max(3, sc(s.Loads))
	s.ReadEvents = sc(s.ReadEvents)
	s.PageSize = min(s.PageSize, max(10, s.ReadEvents/10))
	s.FillBatch = min(s.FillBatch, max(10, s.ReadEvents/10))
	return s
}

// Result is one timed run of one workload.
type Result struct {
	// Ops counts what the workload did, in Unit.
	Ops int `json:"ops"`
	// Unit names an op: "events", "commits", "loads".
	Unit string `json:"unit"`
	// Duration is the time the ops took.
	Duration time.Duration `json:"duration_ns"`
	// Conflicts counts version conflicts (W4 on one aggregate).
	Conflicts int `json:"conflicts,omitempty"`
	// P50 and P99 are per-op latencies, where the workload measures them.
	P50 time.Duration `json:"p50_ns,omitempty"`
	P99 time.Duration `json:"p99_ns,omitempty"`
}

// Rate returns ops per second.
func (r Result) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Duration.Seconds()
}

// latencies collects per-op durations.
type latencies []time.Duration

func (l latencies) percentiles() (p50, p99 time.Duration) {
	if len(l) == 0 {
		return 0, 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99)
}

func result(ops int, unit string, d time.Duration, l latencies) Result {
	p50, p99 := l.percentiles()
	return Result{Ops: ops, Unit: unit, Duration: d, P50: p50, P99: p99}
}

func payload(n int) Happened { return Happened{N: n, Note: note} }

// W1 appends NewAggregates new aggregates of one event each, one writer.
func W1(ctx context.Context, s *evento.Store, z Sizes) (Result, error) {
	lat := make(latencies, 0, z.NewAggregates)
	start := time.Now()
	for i := range z.NewAggregates {
		t := time.Now()
		if _, err := s.CreateWithID(fmt.Sprintf("new-%d", i)).Event(payload(i)).Commit(ctx); err != nil {
			return Result{}, fmt.Errorf("W1: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.NewAggregates, "events", time.Since(start), lat), nil
}

// W2 appends StreamCommits single-event commits to one aggregate, each at
// the expected version.
func W2(ctx context.Context, s *evento.Store, z Sizes) (Result, error) {
	lat := make(latencies, 0, z.StreamCommits)
	start := time.Now()
	for i := range z.StreamCommits {
		t := time.Now()
		if _, err := s.Aggregate("stream", int64(i)).Event(payload(i)).Commit(ctx); err != nil {
			return Result{}, fmt.Errorf("W2: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.StreamCommits, "events", time.Since(start), lat), nil
}

// W3 appends one commit of BatchSize events to each of BatchAggregates new
// aggregates. Ops are events; latencies are per commit.
func W3(ctx context.Context, s *evento.Store, z Sizes) (Result, error) {
	lat := make(latencies, 0, z.BatchAggregates)
	start := time.Now()
	for i := range z.BatchAggregates {
		t := time.Now()
		b := s.CreateWithID(fmt.Sprintf("batch-%d", i))
		for j := range z.BatchSize {
			b.Event(payload(j))
		}
		if _, err := b.Commit(ctx); err != nil {
			return Result{}, fmt.Errorf("W3: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.BatchAggregates*z.BatchSize, "events", time.Since(start), lat), nil
}

// W4Distinct runs Writers writers, each appending CommitsPerWriter
// single-event commits to an aggregate of its own.
func W4Distinct(ctx context.Context, s *evento.Store, z Sizes) (Result, error) {
	return concurrently(z, func(w int, lat *latencies) (int, error) {
		id := fmt.Sprintf("writer-%d", w)
		for i := range z.CommitsPerWriter {
			t := time.Now()
			if _, err := s.Aggregate(id, int64(i)).Event(payload(i)).Commit(ctx); err != nil {
				return 0, fmt.Errorf("W4 distinct: %w", err)
			}
			*lat = append(*lat, time.Since(t))
		}
		return 0, nil
	})
}

// W4Shared runs Writers writers that each make CommitsPerWriter successful
// single-event commits to ONE aggregate: on a version conflict a writer
// reads the aggregate's last version and tries again. Ops are successful
// commits; Conflicts counts the retries.
func W4Shared(ctx context.Context, s *evento.Store, z Sizes) (Result, error) {
	const id = "shared"
	return concurrently(z, func(w int, lat *latencies) (int, error) {
		conflicts := 0
		for i := range z.CommitsPerWriter {
			t := time.Now()
			for {
				v, err := lastVersion(ctx, s, id)
				if err != nil {
					return 0, err
				}
				_, err = s.Aggregate(id, v).Event(payload(i)).Commit(ctx)
				if err == nil {
					break
				}
				if !errors.Is(err, evento.ErrVersionConflict) {
					return 0, fmt.Errorf("W4 shared: %w", err)
				}
				conflicts++
			}
			*lat = append(*lat, time.Since(t))
		}
		return conflicts, nil
	})
}

// lastVersion reads an aggregate's current version (0 if it has no event).
func lastVersion(ctx context.Context, s *evento.Store, id string) (int64, error) {
	page, err := s.Read(ctx, evento.Query{
		Filters: []evento.Filter{{AggregateType: AggregateType, AggregateID: id}},
		Args:    cursor.Backward(1, ""),
	})
	if err != nil {
		return 0, fmt.Errorf("W4 shared: read version: %w", err)
	}
	if len(page.Edges) == 0 {
		return 0, nil
	}
	return page.Edges[0].Node.Version, nil
}

// concurrently runs z.Writers copies of fn and sums what they report.
func concurrently(z Sizes, fn func(w int, lat *latencies) (conflicts int, err error)) (Result, error) {
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		all       latencies
		conflicts int
		firstErr  error
	)
	start := time.Now()
	for w := range z.Writers {
		wg.Go(func() {
			var lat latencies
			c, err := fn(w, &lat)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			conflicts += c
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	r := result(z.Writers*z.CommitsPerWriter, "commits", d, all)
	r.Conflicts = conflicts
	return r, nil
}

// itemState is what W5 projects: a count and a sum.
type itemState struct {
	Count int `cbor:"1,keyasint"`
	Sum   int `cbor:"2,keyasint"`
}

func projection() *evento.Projection[itemState] {
	return evento.NewProjection(AggregateType,
		evento.Apply(func(_ context.Context, ev evento.Typed[Happened], s *itemState) error {
			s.Count++
			s.Sum += ev.Data.N
			return nil
		}))
}

// FillAggregate appends n events to aggregate id in commits of batch
// events (untimed setup).
func FillAggregate(ctx context.Context, s *evento.Store, id string, n, batch int) error {
	for v := 0; v < n; {
		b := s.Aggregate(id, int64(v))
		k := min(batch, n-v)
		for j := range k {
			b.Event(payload(v + j))
		}
		if _, err := b.Commit(ctx); err != nil {
			return fmt.Errorf("fill %s: %w", id, err)
		}
		v += k
	}
	return nil
}

// W5 loads an aggregate of LoadEvents events through a projection, Loads
// times, with no snapshot. The aggregate must exist: see [FillAggregate].
// Ops are loads.
func W5(ctx context.Context, s *evento.Store, z Sizes, id string) (Result, error) {
	return load(ctx, s, z, id, projection())
}

// W5Snapshot is W5 with snapshots on: the first (untimed) load saves one,
// and every timed load starts from it.
func W5Snapshot(ctx context.Context, s *evento.Store, z Sizes, id string) (Result, error) {
	p := projection().Snapshot("bench-v1", 1)
	if _, err := p.Load(ctx, s, id); err != nil {
		return Result{}, fmt.Errorf("W5 snapshot: %w", err)
	}
	return load(ctx, s, z, id, p)
}

func load(ctx context.Context, s *evento.Store, z Sizes, id string, p *evento.Projection[itemState]) (Result, error) {
	lat := make(latencies, 0, z.Loads)
	start := time.Now()
	for range z.Loads {
		t := time.Now()
		l, err := p.Load(ctx, s, id)
		if err != nil {
			return Result{}, fmt.Errorf("W5: %w", err)
		}
		if l.State.Count != z.LoadEvents && !l.FromSnapshot {
			return Result{}, fmt.Errorf("W5: loaded %d events, want %d", l.State.Count, z.LoadEvents)
		}
		if l.Version != int64(z.LoadEvents) {
			return Result{}, fmt.Errorf("W5: loaded version %d, want %d", l.Version, z.LoadEvents)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.Loads, "loads", time.Since(start), lat), nil
}

// FillStore appends ReadEvents events in commits of FillBatch events
// (untimed setup for W6 and W7).
func FillStore(ctx context.Context, s *evento.Store, z Sizes) error {
	for i, n := 0, 0; n < z.ReadEvents; i++ {
		k := min(z.FillBatch, z.ReadEvents-n)
		if err := FillAggregate(ctx, s, fmt.Sprintf("fill-%d", i), k, k); err != nil {
			return err
		}
		n += k
	}
	return nil
}

// W6 reads every event of the store in pages of PageSize, in global order,
// and checks that there are want of them.
func W6(ctx context.Context, s *evento.Store, z Sizes, want int) (Result, error) {
	start := time.Now()
	n := 0
	var after cursor.Value
	for {
		page, err := s.Read(ctx, evento.Query{Args: cursor.Forward(z.PageSize, after)})
		if err != nil {
			return Result{}, fmt.Errorf("W6: %w", err)
		}
		n += len(page.Edges)
		if len(page.Edges) > 0 {
			after = page.Edges[len(page.Edges)-1].Cursor
		}
		if !page.PageInfo.HasNextPage {
			break
		}
	}
	d := time.Since(start)
	if n != want {
		return Result{}, fmt.Errorf("W6: read %d events, want %d", n, want)
	}
	return result(n, "events", d, nil), nil
}

// W7 drains the store with a new subscription whose handler does nothing,
// and checks that it saw want events.
func W7(ctx context.Context, s *evento.Store, z Sizes, key string, want int) (Result, error) {
	n := 0
	sub := evento.NewSubscription(key).OnAll(AggregateType, func(context.Context, *evento.Event) error {
		n++
		return nil
	})
	if z.SubscriptionChunk > 0 {
		sub.ChunkSize(z.SubscriptionChunk)
	}
	start := time.Now()
	if err := sub.Execute(ctx, s); err != nil {
		return Result{}, fmt.Errorf("W7: %w", err)
	}
	d := time.Since(start)
	if n != want {
		return Result{}, fmt.Errorf("W7: handled %d events, want %d", n, want)
	}
	return result(n, "events", d, nil), nil
}
