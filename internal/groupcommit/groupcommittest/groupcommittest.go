// Package groupcommittest holds the group-commit scenarios that every
// executor built on package groupcommit must pass: commits queued behind
// a write share a batch, and each keeps its own outcome.
package groupcommittest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// Harness opens executors of one kind for the scenarios.
type Harness struct {
	// Open returns two executors on one new, empty store (two processes,
	// say), closed when the test ends.
	Open func(t *testing.T) (evento.Executor, evento.Executor)
	// Hold takes every write turn of x, so that appends queue until
	// release is called.
	Hold func(x evento.Executor) (release func())
	// Queued is the number of appends of x waiting for a write turn.
	Queued func(x evento.Executor) int
	// OneTransaction, when the store can tell, reports whether every
	// event was written by one transaction.
	OneTransaction func(events []*evento.Event) bool
}

// Run runs the scenarios.
func Run(t *testing.T, h Harness) {
	t.Run("Batch", func(t *testing.T) { batch(t, h) })
	t.Run("Ahead", func(t *testing.T) { ahead(t, h) })
	t.Run("DuplicateFallback", func(t *testing.T) { duplicateFallback(t, h) })
	t.Run("Unencodable", func(t *testing.T) { unencodable(t, h) })
	t.Run("SameAggregate", func(t *testing.T) { sameAggregate(t, h) })
	t.Run("SameAggregateOutcomes", func(t *testing.T) { sameAggregateOutcomes(t, h) })
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, h) })
}

func newCommit(aggID string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: "Order", AggregateID: aggID, ExpectedVersion: expected}
	for i := range n {
		v := expected + int64(i) + 1
		c.Events = append(c.Events, &evento.Event{
			ID: ulid.Make(), AggregateType: "Order", AggregateID: aggID, Version: v,
			Name: "Placed", Data: fmt.Appendf(nil, `{"v":%d}`, v),
		})
	}
	return c
}

func mustAppend(t *testing.T, x evento.Executor, c *evento.Commit) {
	t.Helper()
	if err := x.Append(context.Background(), c); err != nil {
		t.Fatalf("Append %s after version %d: %v", c.AggregateID, c.ExpectedVersion, err)
	}
}

func readAll(t *testing.T, x evento.Executor) []*evento.Event {
	t.Helper()
	var all []*evento.Event
	args := cursor.Forward(cursor.MaxLimit, "")
	for {
		page, err := x.Read(context.Background(), evento.Query{Args: args})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		all = append(all, page.Nodes()...)
		if !page.PageInfo.HasNextPage {
			return all
		}
		args.After = page.PageInfo.EndCursor
	}
}

// appendQueued starts an append of each commit while x's write turns are
// held, one at a time so that they queue in order (those whose context is
// already done withdraw at once), and releases the turns once all are
// queued, so that they are written as one batch. It returns each append's
// error.
func appendQueued(t *testing.T, h Harness, x evento.Executor, ctxs []context.Context, commits []*evento.Commit) []error {
	t.Helper()
	release := h.Hold(x)
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	live := 0
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range commits {
		wg.Go(func() { errs[i] = x.Append(ctxs[i], c) })
		if ctxs[i].Err() == nil {
			live++
		}
		for h.Queued(x) < live {
			if time.Now().After(deadline) {
				release()
				t.Fatalf("%d of %d appends queued", h.Queued(x), live)
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

func checkErrors(t *testing.T, commits []*evento.Commit, errs []error, want []error) {
	t.Helper()
	for i, w := range want {
		if w == nil && errs[i] != nil || w != nil && !errors.Is(errs[i], w) {
			t.Errorf("commit %d (%s): Append = %v, want %v", i, commits[i].AggregateID, errs[i], w)
		}
	}
}

// batch: queued commits of distinct aggregates are written together, each
// with its own outcome: a commit at a stale version is refused, a
// cancelled one is left out, the others are stored in queue order, with
// their routing keys, at the positions Append reported.
func batch(t *testing.T, h Harness) {
	x, _ := h.Open(t)
	keyed := newCommit("keyed", 0, 2)
	keyed.RoutingKey = "eu"
	mustAppend(t, x, keyed)
	mustAppend(t, x, newCommit("stale", 0, 1))

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	commits := []*evento.Commit{
		newCommit("a", 0, 3),
		newCommit("keyed", 2, 2), // inherits "eu"
		newCommit("stale", 0, 1), // already at version 1
		newCommit("gone", 0, 1),  // its appender gave up
		newCommit("b", 0, 1),
	}
	ctxs := background(len(commits))
	ctxs[3] = cancelled
	errs := appendQueued(t, h, x, ctxs, commits)
	checkErrors(t, commits, errs, []error{nil, nil, evento.ErrVersionConflict, context.Canceled, nil})

	var stored []*evento.Event
	for _, i := range []int{0, 1, 4} {
		stored = append(stored, commits[i].Events...)
	}
	if h.OneTransaction != nil && !h.OneTransaction(stored) {
		t.Errorf("the queued commits were not written in one transaction")
	}
	for _, e := range commits[1].Events {
		if e.RoutingKey != "eu" {
			t.Errorf("keyed v%d: routing key %q, want the aggregate's \"eu\"", e.Version, e.RoutingKey)
		}
	}
	reported := map[ulid.ULID]cursor.Position{}
	for _, e := range stored {
		reported[e.ID] = e.Position
	}
	all := readAll(t, x)
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%s%d", e.AggregateID, e.Version))
		if p, ok := reported[e.ID]; ok && p != e.Position {
			t.Errorf("%s v%d read at %v, Append reported %v", e.AggregateID, e.Version, e.Position, p)
		}
	}
	if want := "keyed1 keyed2 stale1 a1 a2 a3 keyed3 keyed4 b1"; strings.Join(got, " ") != want {
		t.Errorf("log: %s, want %s", strings.Join(got, " "), want)
	}
}

// ahead: a commit that expects a version its aggregate has not reached
// is refused within a batch that nothing else makes fail (a unique key
// cannot catch it: its versions are free), and the others are stored.
func ahead(t *testing.T, h Harness) {
	x, _ := h.Open(t)
	mustAppend(t, x, newCommit("ahead", 0, 1))
	commits := []*evento.Commit{newCommit("a", 0, 1), newCommit("ahead", 2, 1), newCommit("b", 0, 1)}
	errs := appendQueued(t, h, x, background(len(commits)), commits)
	checkErrors(t, commits, errs, []error{nil, evento.ErrVersionConflict, nil})
	if h.OneTransaction != nil && !h.OneTransaction(append(commits[0].Events, commits[2].Events...)) {
		t.Errorf("the queued commits were not written in one transaction")
	}
	if n := len(readAll(t, x)); n != 3 {
		t.Fatalf("read %d events, want 3 (ahead v1, a, b)", n)
	}
}

// duplicateFallback: a batch that hits a unique key (an event id stored
// before) is written again commit by commit: the offending commits get
// their own errors, the others are stored.
func duplicateFallback(t *testing.T, h Harness) {
	x, _ := h.Open(t)
	first := newCommit("first", 0, 1)
	mustAppend(t, x, first)
	retry := newCommit("first", 0, 1)
	retry.Events[0].ID = first.Events[0].ID // the same commit again
	reused := newCommit("other", 0, 1)
	reused.Events[0].ID = first.Events[0].ID // another aggregate, a taken id
	commits := []*evento.Commit{newCommit("a", 0, 1), retry, reused, newCommit("b", 0, 2)}
	errs := appendQueued(t, h, x, background(len(commits)), commits)
	checkErrors(t, commits, errs, []error{nil, evento.ErrAlreadyAppended, evento.ErrInvalidArgument, nil})
	if n := len(readAll(t, x)); n != 4 {
		t.Fatalf("read %d events, want 4 (first, a, b×2)", n)
	}
}

// unencodable: a commit whose metadata cannot be encoded fails alone and
// the rest of its batch is stored.
func unencodable(t *testing.T, h Harness) {
	x, _ := h.Open(t)
	bad := newCommit("bad", 0, 1)
	bad.Events[0].Metadata = bad.Events[0].Metadata.Set("f", func() {})
	commits := []*evento.Commit{newCommit("a", 0, 1), bad, newCommit("b", 0, 2)}
	errs := appendQueued(t, h, x, background(len(commits)), commits)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the encodable commits: %v, %v", errs[0], errs[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "metadata") {
		t.Errorf("the unencodable commit: %v, want a metadata error", errs[1])
	}
	var got []string
	for _, e := range readAll(t, x) {
		got = append(got, fmt.Sprintf("%s%d", e.AggregateID, e.Version))
	}
	if strings.Join(got, " ") != "a1 b1 b2" {
		t.Errorf("log: %v, want a1 b1 b2", got)
	}
}

// sameAggregate: queued commits of one aggregate at the same expected
// version: one is stored, the others are version conflicts.
func sameAggregate(t *testing.T, h Harness) {
	x, _ := h.Open(t)
	commits := []*evento.Commit{newCommit("a", 0, 1), newCommit("b", 0, 1), newCommit("a", 0, 1), newCommit("a", 0, 1)}
	errs := appendQueued(t, h, x, background(len(commits)), commits)
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

// sameAggregateOutcomes: queued commits of one aggregate, applied in queue
// order, each get the outcome they would get alone: the commit that chains
// on an earlier one of the queue is stored, with the routing key the
// aggregate had; a retry of a queued commit (from its first event or from
// a later one) or of one stored before is ErrAlreadyAppended; a stale or
// early commit is a version conflict, whoever holds its event id; and a
// new aggregate takes the routing key of the first commit stored to it,
// not of a refused one before it. The commit stored before comes from the
// other executor, so that only the store knows it.
func sameAggregateOutcomes(t *testing.T, h Harness) {
	x, y := h.Open(t)
	before := newCommit("a", 0, 1)
	before.RoutingKey = "eu"
	mustAppend(t, y, before)
	first := newCommit("a", 1, 2)
	retry := newCommit("a", 1, 2) // first again, queued behind it
	for i, e := range retry.Events {
		e.ID = first.Events[i].ID
	}
	retryLater := newCommit("a", 2, 1) // first's second event on its own
	retryLater.Events[0].ID = first.Events[1].ID
	retryBefore := newCommit("a", 0, 1) // the commit stored before the queue
	retryBefore.Events[0].ID = before.Events[0].ID
	mid := newCommit("a", 2, 1) // its first event's version was taken by first
	early := newCommit("n", 4, 1)
	early.RoutingKey = "us"
	keyed := newCommit("n", 0, 1)
	keyed.RoutingKey = "eu"
	inherit := newCommit("n", 1, 1)
	inherit.RoutingKey = "us"
	elsewhere := newCommit("a", 1, 1) // stale, with an id n holds
	elsewhere.Events[0].ID = keyed.Events[0].ID
	commits := []*evento.Commit{
		first,
		retry,
		retryLater,
		newCommit("a", 1, 1), // stale: first moved a to 3
		mid,
		newCommit("a", 3, 1), // chains on first
		newCommit("a", 9, 1), // ahead
		retryBefore,
		newCommit("a", 0, 1), // stale from before the queue
		early,
		keyed,
		inherit,
		elsewhere,
	}
	errs := appendQueued(t, h, x, background(len(commits)), commits)
	checkErrors(t, commits, errs, []error{
		nil, evento.ErrAlreadyAppended, evento.ErrAlreadyAppended, evento.ErrVersionConflict, evento.ErrVersionConflict,
		nil, evento.ErrVersionConflict, evento.ErrAlreadyAppended, evento.ErrVersionConflict,
		evento.ErrVersionConflict, nil, nil, evento.ErrVersionConflict,
	})
	var got []string
	for _, e := range readAll(t, x) {
		got = append(got, fmt.Sprintf("%s%d%s", e.AggregateID, e.Version, e.RoutingKey))
	}
	slices.Sort(got) // the queue may be written in several batches
	if want := "a1eu a2eu a3eu a4eu n1eu n2eu"; strings.Join(got, " ") != want {
		t.Errorf("log: %s, want %s", strings.Join(got, " "), want)
	}
}

// concurrent: 8 writers through two executors, each on an aggregate of its
// own and all on one shared aggregate (retrying on conflicts): every
// acknowledged commit is stored once, versions are dense, and the global
// order keeps each aggregate's versions in order.
func concurrent(t *testing.T, h Harness) {
	x1, x2 := h.Open(t)
	ctx := context.Background()
	const writers, commits = 8, 40
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		shared int64
	)
	for w := range writers {
		x := []evento.Executor{x1, x2}[w%2]
		wg.Go(func() {
			for i := range commits {
				if err := x.Append(ctx, newCommit(fmt.Sprint("own", w), int64(i), 1)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				for {
					mu.Lock()
					v := shared
					mu.Unlock()
					err := x.Append(ctx, newCommit("shared", v, 1))
					if err != nil && !errors.Is(err, evento.ErrVersionConflict) {
						t.Errorf("writer %d, shared aggregate: %v", w, err)
						return
					}
					mu.Lock()
					shared = max(shared, v+1) // stored by this writer or another
					mu.Unlock()
					if err == nil {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	all := readAll(t, x1)
	if len(all) != 2*writers*commits {
		t.Fatalf("read %d events, want %d", len(all), 2*writers*commits)
	}
	last := map[string]int64{}
	for _, e := range all {
		if e.Version != last[e.AggregateID]+1 {
			t.Fatalf("%s: version %d after %d in the global order", e.AggregateID, e.Version, last[e.AggregateID])
		}
		last[e.AggregateID] = e.Version
	}
}
