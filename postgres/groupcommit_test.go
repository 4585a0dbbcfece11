package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/postgres"
)

// appendQueued starts an append of each commit while x's write turns are
// held, waits until all of them are queued (but those whose context is
// already done, which withdraw at once) and releases the turns, so that
// they are written as one batch; it returns each append's error.
func appendQueued(t *testing.T, x *postgres.Executor, ctxs []context.Context, commits []*evento.Commit) []error {
	t.Helper()
	release := x.HoldAppends()
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	live := 0
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range commits {
		wg.Go(func() { errs[i] = x.Append(ctxs[i], c) })
		if ctxs[i].Err() == nil {
			live++
		}
		// One at a time, so that the queue holds them in order.
		for x.QueuedAppends() < live {
			if time.Now().After(deadline) {
				release()
				t.Fatalf("%d of %d appends queued", x.QueuedAppends(), live)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	release()
	wg.Wait()
	return errs
}

func background(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = context.Background()
	}
	return ctxs
}

// Queued commits of distinct aggregates are written in one transaction,
// each with its own outcome: a commit at a stale version is refused, a
// cancelled one is left out, the others are stored in order, with their
// routing keys, and can be read back in the positions Append reported.
func TestGroupCommitBatch(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	keyed := newCommit("Order", "keyed", 0, 2)
	keyed.RoutingKey = "eu"
	mustAppend(t, x, keyed)
	mustAppend(t, x, newCommit("Order", "stale", 0, 1))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	commits := []*evento.Commit{
		newCommit("Order", "a", 0, 3),
		newCommit("Order", "keyed", 2, 2), // inherits "eu"
		newCommit("Order", "stale", 0, 1), // already at version 1
		newCommit("Order", "gone", 0, 1),  // its appender gave up
		newCommit("Order", "b", 0, 1),
	}
	ctxs := background(len(commits))
	ctxs[3] = cancelled
	errs := appendQueued(t, x, ctxs, commits)

	for i, want := range []error{nil, nil, evento.ErrVersionConflict, context.Canceled, nil} {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("commit %d (%s): Append = %v, want %v", i, commits[i].AggregateID, errs[i], want)
		}
	}
	tx := commits[0].Events[0].Position.Tx
	for _, i := range []int{0, 1, 4} {
		for _, e := range commits[i].Events {
			if e.Position.Tx != tx {
				t.Errorf("%s v%d in transaction %d, want the batch's %d", e.AggregateID, e.Version, e.Position.Tx, tx)
			}
		}
	}
	for _, e := range commits[1].Events {
		if e.RoutingKey != "eu" {
			t.Errorf("keyed v%d: routing key %q, want the aggregate's \"eu\"", e.Version, e.RoutingKey)
		}
	}

	all := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "Order"}}})
	want := []string{"keyed1", "keyed2", "stale1", "a1", "a2", "a3", "keyed3", "keyed4", "b1"}
	if len(all) != len(want) {
		t.Fatalf("read %d events, want %d", len(all), len(want))
	}
	for i, e := range all {
		if got := fmt.Sprintf("%s%d", e.AggregateID, e.Version); got != want[i] {
			t.Errorf("event %d is %s, want %s", i, got, want[i])
		}
		if p := positionOf(commits, e); p != nil && e.Position != *p {
			t.Errorf("%s v%d read at %v, Append reported %v", e.AggregateID, e.Version, e.Position, *p)
		}
	}
}

// positionOf returns the position Append reported for e, or nil when e is
// not one of commits' events.
func positionOf(commits []*evento.Commit, e *evento.Event) *cursor.Position {
	for _, c := range commits {
		for _, ce := range c.Events {
			if ce.ID == e.ID {
				return &ce.Position
			}
		}
	}
	return nil
}

// A batch whose statement hits a unique violation (an event id stored
// before) is written again commit by commit: the offending commit gets its
// own error, the others are stored.
func TestGroupCommitUniqueViolation(t *testing.T) {
	x := open(t)
	first := newCommit("Order", "first", 0, 1)
	mustAppend(t, x, first)
	retry := newCommit("Order", "first", 0, 1)
	retry.Events[0].ID = first.Events[0].ID // the same commit again
	reused := newCommit("Order", "other", 0, 1)
	reused.Events[0].ID = first.Events[0].ID // another aggregate, a taken id
	commits := []*evento.Commit{newCommit("Order", "a", 0, 1), retry, reused, newCommit("Order", "b", 0, 2)}
	errs := appendQueued(t, x, background(len(commits)), commits)
	for i, want := range []error{nil, evento.ErrAlreadyAppended, evento.ErrInvalidArgument, nil} {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("commit %d (%s): Append = %v, want %v", i, commits[i].AggregateID, errs[i], want)
		}
	}
	all := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "Order"}}})
	if len(all) != 4 {
		t.Fatalf("read %d events, want 4 (first, a, b×2)", len(all))
	}
}

// Two queued commits of one aggregate at the same expected version never
// share a batch: one is stored, the other is a version conflict.
func TestGroupCommitSameAggregate(t *testing.T) {
	x := open(t)
	commits := []*evento.Commit{
		newCommit("Order", "a", 0, 1), newCommit("Order", "b", 0, 1),
		newCommit("Order", "a", 0, 1), newCommit("Order", "a", 0, 1),
	}
	errs := appendQueued(t, x, background(len(commits)), commits)
	stored := 0
	for _, i := range []int{0, 2, 3} {
		switch {
		case errs[i] == nil:
			stored++
		case !errors.Is(errs[i], evento.ErrVersionConflict):
			t.Errorf("commit %d: %v, want nil or a version conflict", i, errs[i])
		}
	}
	if stored != 1 || errs[1] != nil {
		t.Fatalf("stored %d commits of a (want 1); b: %v", stored, errs[1])
	}
}

// Many writers on distinct aggregates and on one shared aggregate through
// two executors: every acknowledged commit is stored once, versions are
// dense, and the global order keeps each aggregate's versions in order.
func TestGroupCommitConcurrent(t *testing.T) {
	schema := freshSchema(t)
	xs := []*postgres.Executor{openIn(t, schema), openIn(t, schema)}
	ctx := context.Background()
	const writers, commits = 8, 40
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		shared int64
	)
	for w := range writers {
		x := xs[w%2]
		wg.Go(func() {
			for i := range commits {
				if err := x.Append(ctx, newCommit("Own", fmt.Sprint(w), int64(i), 1)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				for {
					mu.Lock()
					v := shared
					mu.Unlock()
					err := x.Append(ctx, newCommit("Shared", "s", v, 1))
					if err == nil {
						mu.Lock()
						shared = max(shared, v+1)
						mu.Unlock()
						break
					}
					if !errors.Is(err, evento.ErrVersionConflict) {
						t.Errorf("writer %d shared: %v", w, err)
						return
					}
					mu.Lock()
					shared = max(shared, v+1) // someone else stored v+1
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	all := readAll(t, xs[0], evento.Query{})
	if len(all) != 2*writers*commits {
		t.Fatalf("read %d events, want %d", len(all), 2*writers*commits)
	}
	last := map[string]int64{}
	for _, e := range all {
		k := e.AggregateType + "/" + e.AggregateID
		if e.Version != last[k]+1 {
			t.Fatalf("%s: version %d after %d in the global order", k, e.Version, last[k])
		}
		last[k] = e.Version
	}
}
