package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/postgres"
	"github.com/oklog/ulid/v2"
)

// appendConcurrently runs writers goroutines that each make commits commits
// of one to three events to an aggregate of their own, and returns every
// event they committed.
func appendConcurrently(t *testing.T, x *postgres.Executor, writers, commits int) []*evento.Event {
	t.Helper()
	ctx := t.Context()
	committed := make([][]*evento.Event, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("writer-%d", w)
			var version int64
			for i := range commits {
				c := newCommit("stress", id, version, 1+i%3)
				if err := x.Append(ctx, c); err != nil {
					errs <- fmt.Errorf("writer %d, commit %d: %w", w, i, err)
					return
				}
				version += int64(len(c.Events))
				committed[w] = append(committed[w], c.Events...)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []*evento.Event
	for _, events := range committed {
		all = append(all, events...)
	}
	return all
}

// checkExactlyOnce fails t unless got holds every committed event exactly
// once, in strictly ascending position order.
func checkExactlyOnce(t *testing.T, what string, got, committed []*evento.Event) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Less(got[i].Position) {
			t.Fatalf("%s: event %d at %v does not come after event %d at %v", what, i, got[i].Position, i-1, got[i-1].Position)
		}
	}
	want := make(map[ulid.ULID]bool, len(committed))
	for _, e := range committed {
		want[e.ID] = true
	}
	missing := len(want)
	for _, e := range got {
		if !want[e.ID] {
			t.Fatalf("%s: event %s at %v was not committed, or was seen twice", what, e.ID, e.Position)
		}
		want[e.ID] = false
		missing--
	}
	if missing != 0 {
		t.Fatalf("%s: missed %d of %d committed events", what, missing, len(committed))
	}
}

// Eight writers make 2,000 commits each while a started subscription
// follows the log: it must handle exactly the committed events, each once,
// in position order.
func TestStressSubscriberMissesNothing(t *testing.T) {
	if testing.Short() && !testenv.ServersRequired() {
		t.Skip("stress test: skipped with -short outside CI")
	}
	const writers, commits = 8, 2000
	x := open(t)
	st := evento.New(x)
	var rec recorder
	w, err := evento.NewSubscription("stress").OnAll("stress", rec.handle).
		PollInterval(20*time.Millisecond).ChunkSize(1000).Start(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())

	start := time.Now()
	committed := appendConcurrently(t, x, writers, commits)
	appended := time.Since(start)
	waitFor(t, time.Minute, fmt.Sprintf("the subscriber to handle %d events", len(committed)),
		func() bool { return rec.len() >= len(committed) })
	caughtUp := time.Since(start)
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	if err := w.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "subscriber", rec.all(), committed)
	checkExactlyOnce(t, "global read", readAll(t, x, evento.Query{}), committed)
	t.Logf("%d writers × %d commits = %d events appended in %v (%.0f commits/s); subscriber caught up after %v",
		writers, commits, len(committed), appended.Round(time.Millisecond),
		float64(writers*commits)/appended.Seconds(), caughtUp.Round(time.Millisecond))
}
