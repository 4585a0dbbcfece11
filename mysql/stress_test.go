package mysql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

// tick is the stress test's event: its writer and its commit number.
type tick struct {
	Writer int
	Commit int
}

func (tick) AggregateType() string { return "stress/Writer" }
func (tick) EventName() string     { return "Tick" }

// delivery records what a subscription handler saw.
type delivery struct {
	mu     sync.Mutex
	events []*evento.Event
}

func (d *delivery) add(e *evento.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, e)
}

func (d *delivery) snapshot() []*evento.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*evento.Event(nil), d.events...)
}

// Eight writers make 2,000 commits each (of one to three events) while a
// started subscription follows the log. The subscriber must receive exactly
// the committed events, each once, in position order: a store whose
// positions did not follow commit order would make it skip events that
// commit behind its cursor.
func TestStressSubscriberSeesEveryCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test skipped with -short")
	}
	const writers, commits = 8, 2000
	x := open(t)
	st := evento.New(x)
	ctx := context.Background()

	var got delivery
	worker, err := evento.NewSubscription("stress",
		evento.On(func(_ context.Context, ev evento.Typed[tick]) error { got.add(ev.Event); return nil }),
	).ChunkSize(1000).PollInterval(100*time.Millisecond).Start(ctx, st)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("writer-%d", w)
			var version int64
			for i := range commits {
				b := st.Aggregate(id, version)
				for range 1 + i%3 {
					b.Event(tick{Writer: w, Commit: i})
				}
				res, err := b.Commit(ctx)
				if err != nil {
					errs <- fmt.Errorf("writer %d, commit %d: %w", w, i, err)
					return
				}
				version = res.Version
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	written := time.Since(start)
	total := 0
	for i := range commits {
		total += 1 + i%3
	}
	total *= writers

	deadline := time.Now().Add(60 * time.Second)
	for len(got.snapshot()) < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	caughtUp := time.Since(start)
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	if err := worker.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	t.Logf("%d commits (%d events) by %d writers in %v (%.0f commits/s); subscriber caught up after %v",
		writers*commits, total, writers, written.Round(time.Millisecond),
		float64(writers*commits)/written.Seconds(), caughtUp.Round(time.Millisecond))

	stored := readAll(t, x, evento.Query{})
	if len(stored) != total {
		t.Fatalf("%d events stored, want %d", len(stored), total)
	}
	for i, e := range stored {
		if e.Position.Seq != uint64(i+1) {
			t.Fatalf("stored event %d is at position %v: positions are not dense", i, e.Position)
		}
	}
	delivered := got.snapshot()
	seen := make(map[ulid.ULID]bool, len(delivered))
	for i, e := range delivered {
		if seen[e.ID] {
			t.Fatalf("event %s at %v delivered twice", e.ID, e.Position)
		}
		seen[e.ID] = true
		if i > 0 && !delivered[i-1].Position.Less(e.Position) {
			t.Fatalf("delivery %d at %v does not come after %v", i, e.Position, delivered[i-1].Position)
		}
	}
	if len(delivered) != total {
		var missing []uint64
		for _, e := range stored {
			if !seen[e.ID] {
				missing = append(missing, e.Position.Seq)
			}
		}
		last := uint64(0)
		if len(delivered) > 0 {
			last = delivered[len(delivered)-1].Position.Seq
		}
		t.Fatalf("subscriber received %d events, want %d; missing positions %v (first %d), last delivered %d, worker error %v",
			len(delivered), total, missing[:min(len(missing), 20)], len(missing), last, worker.Err())
	}
	for i, e := range stored {
		if delivered[i].ID != e.ID {
			t.Fatalf("delivery %d is %s, the log holds %s there", i, delivered[i].ID, e.ID)
		}
	}
}
