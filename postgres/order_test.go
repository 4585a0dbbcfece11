package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/postgres"
	"github.com/oklog/ulid/v2"
)

// recorder collects the events a subscription handler sees.
type recorder struct {
	mu     sync.Mutex
	events []*evento.Event
}

func (r *recorder) handle(_ context.Context, e *evento.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) all() []*evento.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFor polls cond until it holds, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ids returns the events' ids in order.
func ids(events []*evento.Event) []ulid.ULID {
	out := make([]ulid.ULID, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// sameEvents fails t unless got holds exactly want's events, in order.
func sameEvents(t testing.TB, what string, got, want []*evento.Event) {
	t.Helper()
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s: got %v, want %v", what, positions(got), positions(want))
	}
}

func positions(events []*evento.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.AggregateID + "@" + e.Position.String()
	}
	return out
}

// storedCursor returns the position of the cursor a subscription has
// acknowledged.
func storedCursor(t testing.TB, x *postgres.Executor, key string) cursor.Position {
	t.Helper()
	st, err := x.SubscriptionStatus(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cursor.Decode(st.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Writer A appends in a transaction it keeps open; writer B, whose
// transaction starts later and so has a larger id, appends and commits.
// B's event sorts after A's, so while A may still commit, no read of the
// global log and no subscription may hand out B: a reader that moved past
// B's position would never see A. Once A commits, every reader gets A then
// B, each once; once A rolls back, they get B and do not stall.
func TestOpenWriterHoldsBackYoungerCommits(t *testing.T) {
	for _, commitA := range []bool{true, false} {
		name := map[bool]string{true: "ACommits", false: "ARollsBack"}[commitA]
		t.Run(name, func(t *testing.T) { testOpenWriter(t, commitA) })
	}
}

func testOpenWriter(t *testing.T, commitA bool) {
	ctx := t.Context()
	x := open(t)
	st := evento.New(x)
	seen := newCommit("t", "seen", 0, 1)
	mustAppend(t, x, seen)

	// A worker follows the log throughout, polling often and woken by B.
	var follower recorder
	w, err := evento.NewSubscription("follower").OnAll("t", follower.handle).PollInterval(10*time.Millisecond).Start(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())
	waitFor(t, 10*time.Second, "the follower to see the first event", func() bool { return follower.len() == 1 })
	var once recorder
	drain := func() []*evento.Event {
		t.Helper()
		before := once.len()
		if err := evento.NewSubscription("once").OnAll("t", once.handle).Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
		return once.all()[before:]
	}
	sameEvents(t, "first Execute", drain(), seen.Events)

	conn := connect(t)
	txA, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(context.Background())
	a := newCommit("t", "a", 0, 1)
	if err := x.AppendInTx(ctx, txA, a); err != nil {
		t.Fatal(err)
	}
	b := newCommit("t", "b", 0, 1)
	mustAppend(t, x, b)
	posA, posB := a.Events[0].Position, b.Events[0].Position
	if !posA.Less(posB) {
		t.Fatalf("A (open) at %v does not sort before B (committed later) at %v", posA, posB)
	}

	// While A is open: B is committed but held back from every ordered
	// read, forward or backward, with or without a cursor.
	for what, args := range map[string]cursor.Args{
		"forward from the start":  cursor.Forward(100, ""),
		"forward after seen":      cursor.Forward(100, seen.Events[0].Cursor()),
		"backward from the end":   cursor.Backward(100, ""),
		"backward before B+1 seq": cursor.Backward(100, cursor.Encode(cursor.Position{Tx: posB.Tx, Seq: posB.Seq + 1})),
	} {
		page, err := x.Read(ctx, evento.Query{Args: args})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Nodes() {
			if e.ID == b.Events[0].ID {
				t.Errorf("%s: read returned B at %v while A, before it at %v, is uncommitted", what, posB, posA)
			}
		}
	}
	if got := drain(); len(got) != 0 {
		t.Errorf("Execute while A is open handled %v, want nothing", positions(got))
	}
	if p := storedCursor(t, x, "once"); !p.Less(posA) {
		t.Errorf("Execute acknowledged %v while A at %v is open: A would be skipped", p, posA)
	}
	// The follower was woken by B's append and polls every 10 ms.
	time.Sleep(300 * time.Millisecond)
	if got := follower.all(); len(got) != 1 {
		t.Errorf("follower handled %v while A is open, want only the first event", positions(got))
	}
	if p := storedCursor(t, x, "follower"); !p.Less(posA) {
		t.Errorf("follower acknowledged %v while A at %v is open: A would be skipped", p, posA)
	}
	lag, err := x.HorizonLag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Held < 1 || lag.PID == 0 || lag.Oldest <= 0 {
		t.Errorf("HorizonLag while A is open = %+v, want B held back by a transaction of some age", lag)
	}
	// A read of B's aggregate alone sees B: one aggregate needs no horizon.
	if got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "t", AggregateID: "b"}}}); len(got) != 1 {
		t.Errorf("read of aggregate b alone returned %d events, want B", len(got))
	}

	want := []*evento.Event{seen.Events[0], a.Events[0], b.Events[0]}
	if commitA {
		if err := txA.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := txA.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		want = []*evento.Event{seen.Events[0], b.Events[0]}
	}
	sameEvents(t, "global read after A ends", readAll(t, x, evento.Query{}), want)
	sameEvents(t, "Execute after A ends", drain(), want[1:])
	waitFor(t, 10*time.Second, "the follower to catch up", func() bool { return follower.len() >= len(want) })
	time.Sleep(50 * time.Millisecond) // room for a duplicate to show up
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "follower", follower.all(), want)
}
