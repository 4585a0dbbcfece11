package evtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// productionScenarios cover what a subscription does in production: recorded
// failures, parked events, parallel partitions, transactional handlers and
// status.
var productionScenarios = []scenario{
	{"FatalFailureRecorded", testFatalFailureRecorded},
	{"AcceptedFailureRecorded", testAcceptedFailureRecorded},
	{"ParkAndReplay", testParkAndReplay},
	{"ParkFencedByLease", testParkFenced},
	{"Parallel", testParallel},
	{"ParallelFailureStops", testParallelFailureStops},
	{"ParallelPark", testParallelPark},
	{"Transactional", testTransactional},
	{"TransactionalReplay", testTransactionalReplay},
	{"Status", testStatus},
}

// deadLetters returns exec's DeadLetterStore, or skips t when the executor
// keeps none: parking is an optional capability.
func deadLetters(t *testing.T, exec evento.Executor) evento.DeadLetterStore {
	t.Helper()
	d, ok := exec.(evento.DeadLetterStore)
	if !ok {
		t.Skipf("%T keeps no dead letters", exec)
	}
	return d
}

func testFatalFailureRecorded(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 4)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	err := failing("fatal", &rec, 3, &broken, &attempts).Execute(ctx, st)
	wantErr(t, "Execute with a failing handler", err, errBoom)
	status := must(exec.SubscriptionStatus(ctx, "fatal"))(t)
	le := status.LastError
	switch {
	case le == nil:
		t.Fatal("status after a fatal failure has no LastError")
	case le.EventID != full[2].ID.String() || !le.Fatal || !strings.HasPrefix(le.Message, "seq 3: "+errBoom.Error()+" ("+full[2].AggregateType+"/"):
		t.Errorf("LastError = %+v, want the third event's id, fatal, and the handler's message", le)
	case !le.At.Equal(status.UpdatedAt):
		t.Errorf("LastError.At = %v, want the acknowledgement's time %v", le.At, status.UpdatedAt)
	}
	if !status.Stopped(time.Now()) {
		t.Errorf("status = %+v does not say Stopped after a fatal failure", status)
	}

	// Once the handler is fixed, a run moves past the event and the
	// subscription no longer reads as stopped.
	broken = false
	noErr(t, failing("fatal", &rec, 3, &broken, &attempts).Execute(ctx, st))
	status = must(exec.SubscriptionStatus(ctx, "fatal"))(t)
	if status.Stopped(time.Now()) || status.Cursor != cursorOf(t, full[3]) {
		t.Errorf("status after the fix = %+v, want not stopped, cursor at the last event", status)
	}
	if status.LastError == nil || status.LastError.EventID != full[2].ID.String() {
		t.Errorf("the fix cleared the last error %+v; it is history and stays", status.LastError)
	}
}

func testAcceptedFailureRecorded(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 4)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	noErr(t, failing("accept", &rec, 2, &broken, &attempts).AcceptFailure().Execute(ctx, st))
	status := must(exec.SubscriptionStatus(ctx, "accept"))(t)
	if le := status.LastError; le == nil || le.Fatal || le.EventID != full[1].ID.String() {
		t.Errorf("LastError = %+v, want the second event, not fatal", le)
	}
	if status.Stopped(time.Now()) {
		t.Error("an accepted failure reads as Stopped")
	}
}

func testParkAndReplay(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	dls := deadLetters(t, exec)
	increments(t, st, "c", 0, 3)
	increments(t, st, "c", 3, 2)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	sub := func(r *recorder) *evento.Subscription { return failing("park", r, 3, &broken, &attempts).Park() }
	noErr(t, sub(&rec).Execute(ctx, st))
	sameEvents(t, "events around the parked one", rec.all(), []*evento.Event{full[0], full[1], full[3], full[4]})
	status := must(exec.SubscriptionStatus(ctx, "park"))(t)
	if status.Cursor != cursorOf(t, full[4]) {
		t.Errorf("cursor = %q, want past the parked event, at the last one", status.Cursor)
	}
	if le := status.LastError; le == nil || le.Fatal || le.EventID != full[2].ID.String() {
		t.Errorf("LastError = %+v, want the parked event, not fatal", le)
	}
	parked := must(evento.ParkedEvents(ctx, st, "park", 10))(t)
	if len(parked) != 1 {
		t.Fatalf("ParkedEvents = %d events, want 1", len(parked))
	}
	p, want := parked[0], full[2]
	if p.ID != want.ID || p.AggregateID != want.AggregateID || p.Version != want.Version || p.Name != want.Name ||
		string(p.Data) != string(want.Data) || !p.Timestamp.Equal(want.Timestamp) || p.Position != want.Position {
		t.Errorf("parked event = %+v, want %+v", p.Event, want)
	}
	if p.Error != fmt.Sprintf("seq 3: %v (%s/%s %s, version %d)", errBoom, want.AggregateType, want.AggregateID, want.Name, want.Version) || p.ParkedAt.IsZero() {
		t.Errorf("parked error %q at %v, want the handler's error and a time", p.Error, p.ParkedAt)
	}
	if letters := must(dls.DeadLetters(ctx, "other-key", 10))(t); len(letters) != 0 {
		t.Errorf("another key lists %d dead letters", len(letters))
	}
	_, err := dls.DeadLetters(ctx, "park", 0)
	wantErr(t, "DeadLetters with limit 0", err, evento.ErrInvalidArgument)

	// Replaying while the handler still fails keeps the event parked.
	var replayed recorder
	n, err := sub(&replayed).Replay(ctx, st)
	var he *evento.HandlerError
	if n != 0 || !errors.As(err, &he) || he.Event.ID != want.ID {
		t.Errorf("Replay with the handler still broken = %d, %v; want 0 and a HandlerError on the parked event", n, err)
	}
	if got := must(evento.ParkedEvents(ctx, st, "park", 10))(t); len(got) != 1 {
		t.Errorf("after a failed replay %d events are parked, want 1", len(got))
	}

	// Fixed, it replays and leaves the dead letters.
	broken = false
	n, err = sub(&replayed).Replay(ctx, st)
	if n != 1 || err != nil {
		t.Errorf("Replay after the fix = %d, %v; want 1, nil", n, err)
	}
	sameEvents(t, "replayed events", replayed.all(), full[2:3])
	if got := must(evento.ParkedEvents(ctx, st, "park", 10))(t); len(got) != 0 {
		t.Errorf("after a replay %d events are still parked", len(got))
	}
	wantErr(t, "delete a replayed dead letter", dls.DeleteDeadLetter(ctx, "park", want.ID.String()), evento.ErrNotFound)
}

func testParkFenced(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	dls := deadLetters(t, exec)
	increments(t, st, "c", 0, 1)
	e := readAll(t, st, evento.Query{})[0]
	b := must(e.MarshalBinary())(t)
	old := must(exec.AcquireLease(ctx, "fenced", "a", 50*time.Millisecond))(t)
	waitPast(old.ExpiresAt)
	must(exec.AcquireLease(ctx, "fenced", "b", time.Minute))(t)
	err := exec.Acknowledge(ctx, old, evento.Ack{
		Cursor: cursorOf(t, e),
		Error:  &evento.SubscriptionError{EventID: e.ID.String(), Message: "stale"},
		Park:   []*evento.DeadLetter{{EventID: e.ID.String(), Event: b, Error: "stale"}},
	})
	wantErr(t, "a stale worker parks an event", err, evento.ErrLeaseLost)
	if letters := must(dls.DeadLetters(ctx, "fenced", 10))(t); len(letters) != 0 {
		t.Errorf("a stale worker parked %d events", len(letters))
	}
	if status := must(exec.SubscriptionStatus(ctx, "fenced"))(t); status.LastError != nil || status.Cursor != "" {
		t.Errorf("a stale worker changed the status to %+v", status)
	}
}

// parallelLog appends n events to each of aggregates counters, interleaved
// commit by commit, and returns the log.
func parallelLog(t *testing.T, st *evento.Store, aggregates, n int) []*evento.Event {
	t.Helper()
	for v := range n {
		for a := range aggregates {
			increments(t, st, fmt.Sprintf("p%d", a), int64(v), 1)
		}
	}
	return readAll(t, st, evento.Query{})
}

// checkPerAggregateOrder fails t unless, for every aggregate, got holds its
// events in version order.
func checkPerAggregateOrder(t *testing.T, got []*evento.Event) {
	t.Helper()
	last := make(map[string]int64)
	for _, e := range got {
		if e.Version <= last[e.AggregateID] {
			t.Fatalf("aggregate %s: version %d handled after version %d", e.AggregateID, e.Version, last[e.AggregateID])
		}
		last[e.AggregateID] = e.Version
	}
}

// slowRecorder records incremented events after a short random sleep, so
// that partitions finish out of global order.
func slowRecorder(rec *recorder) evento.Handler {
	return evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
		rec.add(ev.Event)
		return nil
	})
}

func testParallel(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	full := parallelLog(t, st, 6, 12)
	var rec recorder
	sub := evento.NewSubscription("parallel", slowRecorder(&rec)).Parallel(4, nil).ChunkSize(7)
	noErr(t, sub.Execute(ctx, st))
	got := rec.all()
	checkPerAggregateOrder(t, got)
	if len(got) != len(full) {
		t.Fatalf("parallel run handled %d events, want %d", len(got), len(full))
	}
	seen := make(map[string]bool)
	for _, e := range got {
		if seen[e.ID.String()] {
			t.Fatalf("event %s handled twice", e.ID)
		}
		seen[e.ID.String()] = true
	}
	if status := must(exec.SubscriptionStatus(ctx, "parallel"))(t); status.Cursor != cursorOf(t, full[len(full)-1]) {
		t.Errorf("cursor after a parallel drain = %q, want the last event's", status.Cursor)
	}
	before := rec.len()
	noErr(t, sub.Execute(ctx, st))
	if rec.len() != before {
		t.Errorf("a second parallel run handled %d events, want none", rec.len()-before)
	}
	wantErr(t, "too many partitions",
		evento.NewSubscription("bad", slowRecorder(&rec)).Parallel(evento.MaxPartitions+1, nil).Execute(ctx, st), evento.ErrInvalidArgument)
}

func testParallelFailureStops(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	full := parallelLog(t, st, 4, 10)
	var failed *evento.Event
	for _, e := range full {
		if e.AggregateID == "p2" && e.Version == 4 {
			failed = e
		}
	}
	var (
		mu      sync.Mutex
		broken  = true
		handled []*evento.Event
	)
	sub := evento.NewSubscription("parallel-fail", evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		if broken && ev.ID == failed.ID {
			return errBoom
		}
		handled = append(handled, ev.Event)
		return nil
	})).Parallel(3, nil).ChunkSize(5)
	err := sub.Execute(ctx, st)
	var he *evento.HandlerError
	if !errors.As(err, &he) || he.Event.ID != failed.ID {
		t.Fatalf("parallel Execute = %v, want a HandlerError on %s", err, failed.ID)
	}
	for _, e := range handled {
		if e.AggregateID == failed.AggregateID && e.Version > failed.Version {
			t.Errorf("version %d of %s handled after its version %d failed", e.Version, e.AggregateID, failed.Version)
		}
	}
	// The stored cursor is a gap-free prefix: every event up to it was
	// handled, and it stops before the failed event.
	status := must(exec.SubscriptionStatus(ctx, "parallel-fail"))(t)
	if le := status.LastError; le == nil || !le.Fatal || le.EventID != failed.ID.String() {
		t.Errorf("LastError = %+v, want the failed event, fatal", le)
	}
	done := make(map[string]bool)
	for _, e := range handled {
		done[e.ID.String()] = true
	}
	reached := status.Cursor == ""
	for _, e := range full {
		if e.ID == failed.ID {
			if !reached {
				t.Fatalf("the stored cursor %q is at or past the failed event", status.Cursor)
			}
			break
		}
		if !reached && !done[e.ID.String()] {
			t.Fatalf("event %s/%d is before the stored cursor but was not handled", e.AggregateID, e.Version)
		}
		if cursorOf(t, e) == status.Cursor {
			reached = true
		}
	}
	// After the fix the rest is handled, per aggregate in order from where
	// the cursor stopped.
	mu.Lock()
	broken, handled = false, nil
	mu.Unlock()
	noErr(t, sub.Execute(ctx, st))
	checkPerAggregateOrder(t, handled)
	for _, e := range handled {
		done[e.ID.String()] = true
	}
	for _, e := range full {
		if !done[e.ID.String()] {
			t.Errorf("event %s/%d never handled", e.AggregateID, e.Version)
		}
	}
}

func testParallelPark(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	deadLetters(t, exec)
	full := parallelLog(t, st, 4, 6)
	failed := full[9]
	var rec recorder
	sub := evento.NewSubscription("parallel-park", evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
		if ev.ID == failed.ID {
			return errBoom
		}
		rec.add(ev.Event)
		return nil
	})).Parallel(4, nil).Park()
	noErr(t, sub.Execute(ctx, st))
	if rec.len() != len(full)-1 {
		t.Errorf("handled %d events, want all %d but the parked one", rec.len(), len(full)-1)
	}
	parked := must(evento.ParkedEvents(ctx, st, "parallel-park", 10))(t)
	if len(parked) != 1 || parked[0].ID != failed.ID {
		t.Errorf("parked %v, want only %s", parked, failed.ID)
	}
	if status := must(exec.SubscriptionStatus(ctx, "parallel-park"))(t); status.Cursor != cursorOf(t, full[len(full)-1]) {
		t.Errorf("cursor = %q, want the last event's", status.Cursor)
	}
}

func testTransactional(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 4)
	full := readAll(t, st, evento.Query{})
	var (
		rec    recorder
		broken = true
		noTx   int
	)
	sub := evento.NewSubscription("tx", evento.On(func(ctx context.Context, ev evento.Typed[incremented]) error {
		if _, ok := evento.TxFrom[any](ctx); !ok {
			noTx++
		}
		if broken && ev.Data.Seq == 3 {
			return errBoom
		}
		rec.add(ev.Event)
		return nil
	})).Transactional()
	err := sub.Execute(ctx, st)
	if _, ok := exec.(evento.TxAcknowledger); !ok {
		wantErr(t, "a transactional subscription on a store without transactions", err, evento.ErrUnsupported)
		return
	}
	wantErr(t, "transactional Execute with a failing handler", err, errBoom)
	if noTx != 0 {
		t.Errorf("%d handler calls had no transaction in their context", noTx)
	}
	sameEvents(t, "events before the failure", rec.all(), full[:2])
	if status := must(exec.SubscriptionStatus(ctx, "tx"))(t); status.Cursor != cursorOf(t, full[1]) {
		t.Errorf("cursor = %q, want the one before the failed event", status.Cursor)
	}
	broken = false
	noErr(t, sub.Execute(ctx, st))
	sameEvents(t, "events after the fix", rec.all()[2:], full[2:])
	if status := must(exec.SubscriptionStatus(ctx, "tx"))(t); status.Cursor != cursorOf(t, full[3]) {
		t.Errorf("cursor = %q, want the last event's", status.Cursor)
	}
	wantErr(t, "transactional and parallel",
		evento.NewSubscription("tx2", rec.handlers()...).Transactional().Parallel(2, nil).Execute(ctx, st), evento.ErrInvalidArgument)
}

func testStatus(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	var rec recorder
	sub := evento.NewSubscription("status", evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
		rec.add(ev.Event)
		return nil
	}))
	_, err := sub.Status(ctx, st)
	wantErr(t, "status of a subscription never run", err, evento.ErrNotFound)
	increments(t, st, "c", 0, 2)
	noErr(t, sub.Execute(ctx, st))
	increments(t, st, "c", 2, 3)
	must(st.CreateWithID("n").Event(noteWritten{Text: "not the subscription's"}).Commit(ctx))(t)
	time.Sleep(5 * time.Millisecond)
	s := must(sub.Status(ctx, st))(t)
	if s.Pending != 3 || s.PendingCapped || s.Behind < 5*time.Millisecond || s.Running || s.Stopped {
		t.Errorf("status = %+v, want 3 pending, behind by 5ms or more, not running, not stopped", s)
	}
	noErr(t, sub.Execute(ctx, st))
	s = must(sub.Status(ctx, st))(t)
	if s.Pending != 0 || s.Behind != 0 || s.Cursor == cursor.Value("") {
		t.Errorf("status after catching up = %+v, want nothing pending", s)
	}
}

func testTransactionalReplay(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	deadLetters(t, exec)
	if _, ok := exec.(evento.TxAcknowledger); !ok {
		t.Skipf("%T has no transactions", exec)
	}
	increments(t, st, "c", 0, 3)
	full := readAll(t, st, evento.Query{})
	var (
		rec    recorder
		broken = true
		noTx   int
	)
	sub := evento.NewSubscription("tx-park", evento.On(func(ctx context.Context, ev evento.Typed[incremented]) error {
		if _, ok := evento.TxFrom[any](ctx); !ok {
			noTx++
		}
		if broken && ev.Data.Seq == 2 {
			return errBoom
		}
		rec.add(ev.Event)
		return nil
	})).Transactional().Park()
	noErr(t, sub.Execute(ctx, st))
	sameEvents(t, "events around the parked one", rec.all(), []*evento.Event{full[0], full[2]})
	if parked := must(evento.ParkedEvents(ctx, st, "tx-park", 10))(t); len(parked) != 1 || parked[0].ID != full[1].ID {
		t.Fatalf("parked %v, want the second event", parked)
	}
	n, err := sub.Replay(ctx, st)
	var he *evento.HandlerError
	if n != 0 || !errors.As(err, &he) {
		t.Errorf("Replay while broken = %d, %v; want 0 and a *HandlerError", n, err)
	}
	broken = false
	n, err = sub.Replay(ctx, st)
	if n != 1 || err != nil {
		t.Errorf("Replay after the fix = %d, %v; want 1, nil", n, err)
	}
	if noTx != 0 {
		t.Errorf("%d handler calls had no transaction", noTx)
	}
	if parked := must(evento.ParkedEvents(ctx, st, "tx-park", 10))(t); len(parked) != 0 {
		t.Errorf("%d events still parked after the replay", len(parked))
	}
	sameEvents(t, "handled events", rec.all(), []*evento.Event{full[0], full[2], full[1]})
}
