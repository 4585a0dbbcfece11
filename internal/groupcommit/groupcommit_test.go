package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

func commit(aggregate string, events int) *evento.Commit {
	c := &evento.Commit{AggregateType: "t", AggregateID: aggregate}
	for range events {
		c.Events = append(c.Events, &evento.Event{})
	}
	return c
}

func ids(batch []*Request) string {
	s := ""
	for _, r := range batch {
		s += r.Commit.AggregateID
	}
	return s
}

func TestTakeLimits(t *testing.T) {
	ctx := context.Background()
	var q Queue
	for _, c := range []*evento.Commit{commit("a", 1), commit("b", 5), commit("a", 1), commit("c", 1), commit("d", 20)} {
		q.Add(ctx, c)
	}
	if got := ids(q.Take(Limits{MaxCommits: 2, MaxEvents: 100})); got != "ab" {
		t.Fatalf("MaxCommits 2: took %q, want ab", got)
	}
	if got := ids(q.Take(Limits{MaxCommits: 10, MaxEvents: 3})); got != "ac" {
		t.Fatalf("MaxEvents 3: took %q, want ac", got)
	}
	// A first commit larger than MaxEvents is still taken, alone.
	if got := ids(q.Take(Limits{MaxCommits: 10, MaxEvents: 3})); got != "d" {
		t.Fatalf("oversized first commit: took %q, want d", got)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d left queued", n)
	}
}

func TestTakeDistinctAggregates(t *testing.T) {
	ctx := context.Background()
	var q Queue
	for _, a := range []string{"a", "b", "a", "c", "b", "a"} {
		q.Add(ctx, commit(a, 1))
	}
	l := Limits{MaxCommits: 10, MaxEvents: 100, DistinctAggregates: true}
	for _, want := range []string{"abc", "ab", "a", ""} {
		if got := ids(q.Take(l)); got != want {
			t.Fatalf("took %q, want %q", got, want)
		}
	}
}

func TestWaitWithdrawsCancelled(t *testing.T) {
	var q Queue
	turn := make(chan struct{}, 1)
	turn <- struct{}{} // another writer holds the only turn
	ctx, cancel := context.WithCancel(context.Background())
	r := q.Add(ctx, commit("a", 1))
	done := make(chan error, 1)
	go func() {
		done <- q.Wait(r, turn, func() bool { t.Error("write called"); return false }, nil)
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if q.Len() != 0 {
		t.Fatal("cancelled request left queued")
	}
}

func TestWaitClosed(t *testing.T) {
	var q Queue
	errClosed := errors.New("closed")
	r := q.Add(context.Background(), commit("a", 1))
	err := q.Wait(r, make(chan struct{}, 1), func() bool { t.Error("write called"); return false },
		func() error { return errClosed })
	if !errors.Is(err, errClosed) {
		t.Fatalf("Wait = %v, want the closed error", err)
	}
}

// Many appenders and two turns: every request is written exactly once,
// in batches, and an appender whose request another turn holds does not
// spin on empty turns.
func TestWaitConcurrent(t *testing.T) {
	var (
		q       Queue
		turn    = make(chan struct{}, 2)
		written sync.Map
		writes  atomic.Int64
		empty   atomic.Int64
	)
	write := func() bool {
		batch := q.Take(Limits{MaxCommits: 8, MaxEvents: 100})
		if len(batch) == 0 {
			empty.Add(1)
			return false
		}
		writes.Add(1)
		time.Sleep(200 * time.Microsecond)
		for _, r := range batch {
			if _, dup := written.LoadOrStore(r, true); dup {
				t.Errorf("request %s written twice", r.Commit.AggregateID)
			}
			r.Finish(nil)
		}
		return true
	}
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := q.Add(context.Background(), commit(fmt.Sprint(i), 1))
			if err := q.Wait(r, turn, write, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	count := 0
	written.Range(func(any, any) bool { count++; return true })
	if count != n {
		t.Fatalf("%d of %d requests written", count, n)
	}
	if w := writes.Load(); w >= n {
		t.Errorf("%d batches for %d requests: nothing was grouped", w, n)
	}
	if e := empty.Load(); e > n {
		t.Errorf("%d empty turns for %d requests", e, n)
	}
	t.Logf("%d requests in %d batches, %d empty turns", n, writes.Load(), empty.Load())
}

// Take waits for as many commits as the previous batch took, so that the
// appenders of a batch, coming back one after the other, share the next
// one; and no longer than its wait.
func TestTakeGathers(t *testing.T) {
	ctx := context.Background()
	var q Queue
	q.wait = time.Minute
	for i := range 3 {
		q.Add(ctx, commit(fmt.Sprint(i), 1))
	}
	if got := len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})); got != 3 {
		t.Fatalf("first batch of %d commits, want 3", got)
	}
	q.Add(ctx, commit("a", 1))
	taken := make(chan int)
	go func() { taken <- len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})) }()
	select {
	case n := <-taken:
		t.Fatalf("Take returned a batch of %d while the previous batch's appenders were coming back", n)
	case <-time.After(20 * time.Millisecond):
	}
	q.Add(ctx, commit("b", 1))
	q.Add(ctx, commit("c", 1))
	select {
	case n := <-taken:
		if n != 3 {
			t.Fatalf("batch of %d commits, want 3", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Take still waits with as many commits queued as the previous batch took")
	}

	// Short of commits when the wait ends: the batch takes those there are.
	q.wait = 5 * time.Millisecond
	q.Add(ctx, commit("d", 1))
	start := time.Now()
	if got := len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})); got != 1 {
		t.Fatalf("batch of %d commits, want 1", got)
	}
	if waited := time.Since(start); waited < 5*time.Millisecond {
		t.Errorf("Take waited %v, want its 5ms", waited)
	}

	// After a batch of one, a lone appender does not wait.
	q.wait = time.Minute
	q.Add(ctx, commit("e", 1))
	takeAtOnce(t, &q, 1, "a lone appender")
	// Nothing queued: nothing to wait for.
	if got := len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})); got != 0 {
		t.Fatalf("batch of %d commits from an empty queue", got)
	}
}

// Appenders of one aggregate, of whose commits a batch can store one at
// most, do not wait for each other.
func TestTakeGathersAggregates(t *testing.T) {
	ctx := context.Background()
	var q Queue
	q.wait = time.Minute
	for range 4 {
		q.Add(ctx, commit("same", 1))
	}
	if got := len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})); got != 4 {
		t.Fatalf("first batch of %d commits, want 4", got)
	}
	q.Add(ctx, commit("same", 1))
	takeAtOnce(t, &q, 1, "appenders of the one aggregate of the previous batch")
}

// takeAtOnce takes a batch from q, whose wait is long, and fails unless
// Take returns want commits without waiting for more (for whom).
func takeAtOnce(t *testing.T, q *Queue, want int, whom string) {
	t.Helper()
	done := make(chan int)
	go func() { done <- len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})) }()
	select {
	case n := <-done:
		if n != want {
			t.Fatalf("batch of %d commits, want %d", n, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Take waits for %s", whom)
	}
}

// A wait that ends without the commits it waited for makes the next Takes
// skip waiting, more of them after each such wait, until a wait pays off.
func TestTakeGatherBacksOff(t *testing.T) {
	ctx := context.Background()
	var q Queue
	q.wait = 50 * time.Millisecond // long: a Take that does not wait is far quicker
	limits := Limits{MaxCommits: 10, MaxEvents: 100}
	pair := func() {
		q.Add(ctx, commit("a", 1))
		q.Add(ctx, commit("b", 1))
		if got := len(q.Take(limits)); got != 2 {
			t.Fatalf("batch of %d commits, want 2", got)
		}
	}
	// lone takes the batch of one commit, reporting whether it waited.
	lone := func() bool {
		q.Add(ctx, commit("a", 1))
		start := time.Now()
		if got := len(q.Take(limits)); got != 1 {
			t.Fatalf("batch of %d commits, want 1", got)
		}
		return time.Since(start) >= q.wait
	}
	var waits []bool
	for range 12 {
		pair() // the next Take expects two commits
		waits = append(waits, lone())
	}
	// A miss, then one Take that would wait skips; a miss, then three; ...
	want := []bool{true, false, true, false, false, false, true, false, false, false, false, false}
	for i, w := range want {
		if waits[i] != w {
			t.Fatalf("Takes waited %v, want %v first", waits, want)
		}
	}
	// A wait that pays off resets the back-off.
	q.mu.Lock()
	q.skip, q.wait = 0, time.Minute
	q.mu.Unlock()
	pair()
	q.Add(ctx, commit("a", 1))
	go func() {
		time.Sleep(10 * time.Millisecond)
		q.Add(ctx, commit("b", 1))
	}()
	if got := len(q.Take(limits)); got != 2 {
		t.Fatalf("batch of %d commits, want 2", got)
	}
	if q.misses != 0 {
		t.Errorf("misses = %d after a wait that paid off, want 0", q.misses)
	}
}

// An appender whose context ended, before its batch was taken or while it
// was written, does not come back: the next Take does not wait for it.
func TestTakeGathersLiveAppenders(t *testing.T) {
	for _, when := range []string{"before Take", "after Take"} {
		t.Run(when, func(t *testing.T) {
			ctx := context.Background()
			cancelled, cancel := context.WithCancel(ctx)
			var q Queue
			q.wait = time.Minute
			q.Add(ctx, commit("a", 1))
			q.Add(ctx, commit("b", 1))
			q.Add(cancelled, commit("c", 1))
			if when == "before Take" {
				cancel()
			}
			if got := len(q.Take(Limits{MaxCommits: 10, MaxEvents: 100})); got != 3 {
				t.Fatalf("first batch of %d commits, want 3", got)
			}
			cancel()
			q.Add(ctx, commit("a", 1))
			q.Add(ctx, commit("b", 1))
			takeAtOnce(t, &q, 2, "the appender whose context ended")
		})
	}
}

// versioned is a commit of n events to aggregate id after version expected.
func versioned(id string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: "t", AggregateID: id, ExpectedVersion: expected}
	for i := range n {
		c.Events = append(c.Events, &evento.Event{ID: ulid.Make(), Version: expected + int64(i) + 1})
	}
	return c
}

// Commits that expect the version a commit the queue saw stored started
// from are refused at once, each with the outcome the store would give;
// the others are taken.
func TestTakeRefusesWhatAStoredCommitDecides(t *testing.T) {
	ctx := context.Background()
	var q Queue
	stored := versioned("a", 1, 2)
	q.Add(ctx, stored)
	for _, r := range q.Take(Limits{MaxCommits: 10, MaxEvents: 100}) {
		r.Finish(nil)
	}
	failed := versioned("b", 0, 1)
	q.Add(ctx, failed)
	for _, r := range q.Take(Limits{MaxCommits: 10, MaxEvents: 100}) {
		r.Finish(errors.New("refused")) // not stored: not remembered
	}

	retry := versioned("a", 1, 2)
	retry.Events[0].ID = stored.Events[0].ID
	cases := []struct {
		c     *evento.Commit
		taken bool
		want  error
	}{
		{retry, false, evento.ErrAlreadyAppended},
		{versioned("a", 1, 1), false, evento.ErrVersionConflict}, // raced and lost
		{versioned("a", 3, 1), true, nil},                        // chains on it
		{versioned("a", 0, 1), true, nil},                        // from before it: the store decides
		{versioned("a", 2, 1), true, nil},                        // mid-commit: the store decides
		{versioned("a", 7, 1), true, nil},                        // ahead: the store decides
		{versioned("b", 0, 1), true, nil},                        // b's commit failed
	}
	reqs := make([]*Request, len(cases))
	for i, tc := range cases {
		reqs[i] = q.Add(ctx, tc.c)
	}
	// A stale commit whose appender gave up is left to Live: its answer
	// is its context's error.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	gaveUp := q.Add(cancelled, versioned("a", 1, 1))
	batch := q.Take(Limits{MaxCommits: 100, MaxEvents: 100})
	taken := map[*Request]bool{}
	for _, r := range batch {
		taken[r] = true
	}
	for i, tc := range cases {
		r := reqs[i]
		if taken[r] != tc.taken {
			t.Errorf("case %d: taken = %v, want %v", i, taken[r], tc.taken)
		}
		if tc.taken {
			continue
		}
		if !r.Finished() || !errors.Is(r.err, tc.want) {
			t.Errorf("case %d: finished %v with %v, want %v", i, r.Finished(), r.err, tc.want)
		}
	}
	if q.Len() != 0 {
		t.Errorf("%d commits left queued", q.Len())
	}
	if !taken[gaveUp] {
		t.Fatalf("the commit of an appender that gave up was refused with %v", gaveUp.err)
	}
	Live(batch)
	if !errors.Is(gaveUp.err, context.Canceled) {
		t.Errorf("the commit of an appender that gave up: %v, want context.Canceled", gaveUp.err)
	}
}

// The queue refuses on the strength of a stored commit for rememberFor
// only: a store that lost the commit afterwards answers again.
func TestStaleMemoryExpires(t *testing.T) {
	ctx := context.Background()
	var q Queue
	q.Add(ctx, versioned("a", 0, 1))
	for _, r := range q.Take(Limits{MaxCommits: 10, MaxEvents: 100}) {
		r.Finish(nil)
	}
	s := q.stored[aggregate{"t", "a"}]
	s.at = s.at.Add(-rememberFor)
	q.stored[aggregate{"t", "a"}] = s
	r := q.Add(ctx, versioned("a", 0, 1))
	if batch := q.Take(Limits{MaxCommits: 10, MaxEvents: 100}); len(batch) != 1 || batch[0] != r {
		t.Fatalf("after rememberFor, Take refused the commit: %v", r.err)
	}
}

// The queue remembers a bounded number of aggregates.
func TestRememberIsBounded(t *testing.T) {
	var q Queue
	for i := range 3 * maxRemembered {
		q.remember(versioned(fmt.Sprint(i), 0, 1))
		if len(q.stored) > maxRemembered {
			t.Fatalf("%d aggregates remembered after %d commits", len(q.stored), i+1)
		}
	}
	// An older commit of an aggregate does not replace a later one.
	later := versioned("x", 4, 1)
	q.remember(later)
	q.remember(versioned("x", 1, 2))
	if s := q.stored[aggregate{"t", "x"}]; s.first != later.Events[0].ID {
		t.Errorf("remembered %+v, want the later commit", s)
	}
}
