package evento_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// headReads wraps the SQLite executor and counts the reads of the log's
// last event that a worker makes before a drain.
type headReads struct {
	*sqlite.Executor
	n atomic.Int64
}

func (h *headReads) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if isHeadRead(q) {
		h.n.Add(1)
	}
	return h.Executor.Read(ctx, q)
}

// isHeadRead reports whether q is the read of the log's last event that a
// worker makes before a drain (see the worker's head): tests that count
// or fail the drain's own reads leave it out.
func isHeadRead(q evento.Query) bool {
	return len(q.Filters) == 0 && q.RoutingKey == (evento.RoutingKey{}) && q.Args.IsBackward() && q.Args.Before == "" && q.Args.Limit() == 1
}

// openKeyed appends one AccountOpened with the routing key "eu", then n
// MoneyDeposited events with that key, and returns the last event.
func openKeyed(t *testing.T, st *evento.Store, n int) *evento.Event {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Create().RoutingKey("eu").Event(AccountOpened{Owner: "ada"}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := st.Create().RoutingKey("eu")
	for range n {
		b.Event(MoneyDeposited{Amount: 1})
	}
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := st.Read(ctx, evento.Query{Args: cursor.Backward(1, "")})
	if err != nil || len(page.Edges) != 1 {
		t.Fatalf("last event: %v, %v", page, err)
	}
	return page.Edges[0].Node
}

// A subscription of filters with a routing key that has handled every
// event it matches stores the end of the log as its cursor, not its last
// match: its next poll then reads from there, instead of walking again the
// events after its last match that it does not handle (on SQLite, a read
// of a type and a key walks the key's index from the cursor).
func TestDrainSkipsUnmatchedEvents(t *testing.T) {
	ctx := context.Background()
	exec, st := parallelStore(t)
	last := openKeyed(t, st, 300)
	var handled atomic.Int64
	sub := evento.NewSubscription("opened", evento.On(func(context.Context, evento.Typed[AccountOpened]) error {
		handled.Add(1)
		return nil
	})).RoutingKey(evento.RoutingKeyOf("eu"))
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	status, err := exec.SubscriptionStatus(ctx, "opened")
	if err != nil {
		t.Fatal(err)
	}
	if handled.Load() != 1 || status.Cursor != last.Cursor() {
		t.Fatalf("handled %d events, stored cursor %q; want 1 and the last event's, %q", handled.Load(), status.Cursor, last.Cursor())
	}
	// And nothing after the skip is missed.
	if _, err := st.Create().RoutingKey("eu").Event(AccountOpened{Owner: "bob"}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != 2 {
		t.Fatalf("handled %d events after the second opening, want 2", handled.Load())
	}
}

// A running worker of such a subscription reads the end of the log at most
// once per acknowledgement interval: a busy subscription does not pay a
// second read for every drain. (A subscription of the events without a
// routing key reads it before every drain.)
func TestHeadReadAtMostOncePerAckInterval(t *testing.T) {
	ctx := context.Background()
	exec, _ := parallelStore(t)
	counted := &headReads{Executor: exec}
	st := evento.New(counted)
	openKeyed(t, st, 3)
	counted.n.Store(0) // openKeyed's own read of the last event
	var (
		mu      sync.Mutex
		handled int
	)
	sub := evento.NewSubscription("deposits", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	})).RoutingKey(evento.RoutingKeyOf("eu")).AckInterval(time.Hour).PollInterval(time.Hour)
	w, err := sub.Start(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(ctx)
	waitHandled := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			h := handled
			mu.Unlock()
			if h >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("handled %d events in 10s, want %d", h, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitHandled(3)
	for i := range 5 { // five more drains, each woken by an append
		if _, err := st.Create().RoutingKey("eu").Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
		waitHandled(4 + i)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("the worker read the end of the log %d times in six drains, want once per hour-long interval", n)
	}
}

// wrapped hides what its executor implements beyond Executor, as an
// application's tracing or metrics wrapper may.
type wrapped struct{ evento.Executor }

// A worker moves its cursor past events it did not handle only on an
// executor that says its reads are monotonic: an Rw over lagging replicas,
// even wrapped so that its type no longer shows, keeps the cursor on the
// last event handled, and no event is missed.
func TestNoSkipWithoutMonotonicReads(t *testing.T) {
	ctx := context.Background()
	exec, st := parallelStore(t)
	for i := range 2 {
		if _, err := st.Create().Event(MoneyDeposited{Amount: int64(i)}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var behind atomic.Uint64
	behind.Store(1) // a replica that has replayed position 1 only
	replicas := &replicaPool{EventStore: exec, replicas: []evento.EventStore{exec, lagging{exec, &behind}}}
	rw := evento.New(wrapped{evento.NewRw(replicas, exec)})
	var handled atomic.Int64
	sub := evento.NewSubscription("deposits", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
		handled.Add(1)
		return nil
	}))
	if err := sub.Execute(ctx, rw); err != nil { // sees position 1 only
		t.Fatal(err)
	}
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != 2 {
		t.Fatalf("handled %d deposits, want 2", handled.Load())
	}
}
