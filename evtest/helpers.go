package evtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// must returns a function that returns v, or fails its t with err. Call it
// as must(f())(t), so that f's two results feed it directly.
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noErr fails t with err, if any.
func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails t unless err matches target.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want one matching %v", what, err, target)
	}
}

// readAll returns every event that q's filters and routing key select, in
// global order, reading forward in pages of 1,000 and checking that the
// positions ascend (within one store; a Group's members each have their
// own positions).
func readAll(t testing.TB, st *evento.Store, q evento.Query) []*evento.Event {
	t.Helper()
	var out []*evento.Event
	var after cursor.Value
	for {
		q.Args = cursor.Forward(1000, after)
		page := must(st.Read(t.Context(), q))(t)
		for _, edge := range page.Edges {
			edgeCursors.Store(edge.Node, edge.Cursor)
			out = append(out, edge.Node)
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		if page.PageInfo.EndCursor == "" || page.PageInfo.EndCursor == after {
			t.Fatalf("read: page with HasNextPage does not advance (end cursor %q)", page.PageInfo.EndCursor)
		}
		after = page.PageInfo.EndCursor
	}
	if _, merged := st.Executor().(*evento.Group); !merged {
		checkAscending(t, "read", out)
	}
	return out
}

// edgeCursors remembers the cursor each event read by readAll came with.
var edgeCursors sync.Map // *evento.Event -> cursor.Value

// cursorOf returns the cursor the store handed out with e when readAll read
// it: the cursor that points at e in that store, whatever kind it is.
func cursorOf(t testing.TB, e *evento.Event) cursor.Value {
	t.Helper()
	v, ok := edgeCursors.Load(e)
	if !ok {
		t.Fatalf("evtest: no cursor recorded for event %s; read it with readAll", e.ID)
	}
	return v.(cursor.Value)
}

// readAggregate returns every event of one aggregate.
func readAggregate(t testing.TB, st *evento.Store, aggregateType, id string) []*evento.Event {
	t.Helper()
	return readAll(t, st, evento.Query{Filters: []evento.Filter{{AggregateType: aggregateType, AggregateID: id}}})
}

// lastVersion returns the current version of an aggregate, 0 if it has no
// events, with one backward read.
func lastVersion(ctx context.Context, st *evento.Store, aggregateType, id string) (int64, error) {
	page, err := st.Read(ctx, evento.Query{
		Filters: []evento.Filter{{AggregateType: aggregateType, AggregateID: id}},
		Args:    cursor.Backward(1, ""),
	})
	if err != nil || len(page.Edges) == 0 {
		return 0, err
	}
	return page.Edges[0].Node.Version, nil
}

// checkAscending fails t unless the events' positions strictly ascend.
func checkAscending(t testing.TB, what string, events []*evento.Event) {
	t.Helper()
	for i := 1; i < len(events); i++ {
		if !events[i-1].Position.Less(events[i].Position) {
			t.Fatalf("%s: event %d at position %v does not come after event %d at %v",
				what, i, events[i].Position, i-1, events[i-1].Position)
		}
	}
}

// checkVersions fails t unless events are versions 1..n of one aggregate.
func checkVersions(t testing.TB, events []*evento.Event, n int) {
	t.Helper()
	if len(events) != n {
		t.Fatalf("aggregate has %d events, want %d", len(events), n)
	}
	for i, e := range events {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d has version %d, want %d", i, e.Version, i+1)
		}
	}
}

// idsOf returns the events' ids in order.
func idsOf(events []*evento.Event) []ulid.ULID {
	out := make([]ulid.ULID, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// sameEvents fails t unless got and want hold the same event ids in the
// same order.
func sameEvents(t testing.TB, what string, got, want []*evento.Event) {
	t.Helper()
	if g, w := idsOf(got), idsOf(want); !slices.Equal(g, w) {
		t.Errorf("%s: got %d events %s, want %d events %s", what, len(g), describe(got), len(w), describe(want))
	}
}

// describe lists events briefly, for failure messages.
func describe(events []*evento.Event) string {
	const most = 12
	s := "["
	for i, e := range events {
		if i == most {
			s += fmt.Sprintf(" ... %d more", len(events)-most)
			break
		}
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s/%.6s…v%d@%v", e.Name, e.AggregateID, e.Version, e.Position)
	}
	return s + "]"
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

// recorder collects the events a subscription handler sees. It is safe for
// concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []*evento.Event
}

func (r *recorder) add(e *evento.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
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

// handlers returns subscription handlers that add every incremented, reset
// and noteWritten event to r.
func (r *recorder) handlers() []evento.Handler {
	return []evento.Handler{
		evento.On(func(_ context.Context, ev evento.Typed[incremented]) error { r.add(ev.Event); return nil }),
		evento.On(func(_ context.Context, ev evento.Typed[counterReset]) error { r.add(ev.Event); return nil }),
		evento.On(func(_ context.Context, ev evento.Typed[noteWritten]) error { r.add(ev.Event); return nil }),
	}
}

// rawEvents returns events for a commit to one aggregate built by hand, as
// executors receive them: versions after expected, fresh ids, payloads that
// name the event.
func rawEvents(aggregateType, id string, expected int64, names ...string) []*evento.Event {
	now := time.Now().UTC().Truncate(time.Microsecond)
	out := make([]*evento.Event, len(names))
	for i, name := range names {
		out[i] = &evento.Event{
			ID:            ulid.Make(),
			AggregateType: aggregateType,
			AggregateID:   id,
			Version:       expected + int64(i) + 1,
			Name:          name,
			Data:          []byte(fmt.Sprintf("%s/%s v%d", aggregateType, id, expected+int64(i)+1)),
			Timestamp:     now,
		}
	}
	return out
}

// appendRaw appends a commit built by hand straight to the executor and
// returns its events, as the executor completed them.
func appendRaw(t testing.TB, exec evento.Executor, aggregateType, id string, expected int64, routingKey string, names ...string) []*evento.Event {
	t.Helper()
	c := &evento.Commit{
		AggregateType:   aggregateType,
		AggregateID:     id,
		ExpectedVersion: expected,
		RoutingKey:      routingKey,
		Events:          rawEvents(aggregateType, id, expected, names...),
	}
	if err := exec.Append(t.Context(), c); err != nil {
		t.Fatalf("append %s/%s at %d: %v", aggregateType, id, expected, err)
	}
	return c.Events
}

// increments commits n incremented events to counter id, expecting version
// expected, and returns the commit's result.
func increments(t testing.TB, st *evento.Store, id string, expected int64, n int) evento.Result {
	t.Helper()
	b := st.Aggregate(id, expected)
	for i := range n {
		b.Event(incremented{By: 1, Seq: int(expected) + i + 1})
	}
	return must(b.Commit(t.Context()))(t)
}
