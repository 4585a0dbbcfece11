package evtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eventogo/evento"
)

var subscriptionScenarios = []scenario{
	{"RoutingKey", testSubscriptionRoutingKey},
	{"SeveralAggregates", testSubscriptionSeveralAggregates},
	{"ExecuteDrainsAndResumes", testSubscriptionExecuteDrainsAndResumes},
	{"StartWakesOnAppend", testSubscriptionStartWakes},
	{"HandlerFailureStops", testSubscriptionFailureStops},
	{"AcceptFailure", testSubscriptionAcceptFailure},
	{"StartStopsOnFailure", testSubscriptionStartStopsOnFailure},
	{"Safety", testSubscriptionSafety},
	{"OnAllAndSkip", testSubscriptionOnAllAndSkip},
	{"AcrossExecutors", testSubscriptionAcrossExecutors},
	{"UnkeyedCursorPassesKeyedEvents", testSubscriptionUnkeyedCursor},
	{"FilteredCursorPassesOtherEvents", testSubscriptionFilteredCursor},
}

// subscriptionLog appends counters and notes with routing keys eu, us and
// none, interleaved, and returns the full log.
func subscriptionLog(t *testing.T, st *evento.Store) []*evento.Event {
	t.Helper()
	ctx := t.Context()
	eu := must(st.CreateWithID("eu-1").RoutingKey("eu").Event(incremented{By: 1}).Commit(ctx))(t)
	us := must(st.CreateWithID("us-1").RoutingKey("us").Event(incremented{By: 1}).Event(counterReset{}).Commit(ctx))(t)
	none := must(st.CreateWithID("none-1").Event(incremented{By: 1}).Commit(ctx))(t)
	must(st.CreateWithID("note-eu").RoutingKey("eu").Event(noteWritten{Text: "eu"}).Commit(ctx))(t)
	eu = must(st.Aggregate(eu.AggregateID, eu.Version).Event(counterReset{}).Event(incremented{By: 2}).Commit(ctx))(t)
	must(st.CreateWithID("note-none").Event(noteWritten{Text: "none"}).Commit(ctx))(t)
	must(st.Aggregate(none.AggregateID, none.Version).Event(incremented{By: 3}).Commit(ctx))(t)
	must(st.Aggregate(us.AggregateID, us.Version).Event(incremented{By: 4}).Commit(ctx))(t)
	must(st.Aggregate(eu.AggregateID, eu.Version).Event(incremented{By: 5}).Commit(ctx))(t)
	return readAll(t, st, evento.Query{})
}

// execute runs sub once and returns what its handlers saw.
func execute(t *testing.T, st *evento.Store, sub *evento.Subscription, rec *recorder) []*evento.Event {
	t.Helper()
	before := rec.len()
	if err := sub.Execute(t.Context(), st); err != nil {
		t.Fatalf("Execute %s: %v", sub.Key(), err)
	}
	got := rec.all()[before:]
	checkAscending(t, "subscription "+sub.Key(), got)
	return got
}

func testSubscriptionRoutingKey(t *testing.T, h *harness) {
	st, _ := h.open(t)
	full := subscriptionLog(t, st)
	for mode, rk := range map[string]evento.RoutingKey{
		"value": evento.RoutingKeyOf("eu"),
		"none":  evento.NoRoutingKey(),
		"all":   evento.AnyRoutingKey(),
	} {
		var rec recorder
		sub := evento.NewSubscription("routing-"+mode, rec.handlers()...).RoutingKey(rk)
		q := evento.Query{RoutingKey: rk}
		var want []*evento.Event
		for _, e := range full {
			if q.Match(e) {
				want = append(want, e)
			}
		}
		sameEvents(t, "subscription with routing key "+mode, execute(t, st, sub, &rec), want)
	}
}

// testSubscriptionUnkeyedCursor checks that a subscription of the events
// without a routing key, having handled them all, stores a cursor past the
// keyed events that follow them, so that its next drain does not read them
// again; and that it still handles the unkeyed events that come later. An
// executor that is not an evento.MonotonicReader (an Rw, a Group) keeps the
// cursor of the last event handled.
func testSubscriptionUnkeyedCursor(t *testing.T, h *harness) {
	c := cursorCase{
		key: evento.NoRoutingKey(),
		handled: func(st *evento.Store, id string, by int) *evento.Builder {
			return st.CreateWithID(id).Event(incremented{By: by})
		},
		other: func(st *evento.Store) *evento.Builder { return st.Create().RoutingKey("eu").Event(incremented{By: 1}) },
		query: evento.Query{RoutingKey: evento.NoRoutingKey()},
	}
	t.Run("Sequential", func(t *testing.T) { passingCursor(t, h, 1, c) })
	t.Run("Parallel", func(t *testing.T) { passingCursor(t, h, 3, c) })
}

// testSubscriptionFilteredCursor is testSubscriptionUnkeyedCursor for a
// subscription of one event type, over the events of another type.
func testSubscriptionFilteredCursor(t *testing.T, h *harness) {
	c := cursorCase{
		handled: func(st *evento.Store, id string, by int) *evento.Builder {
			return st.CreateWithID(id).Event(incremented{By: by})
		},
		other: func(st *evento.Store) *evento.Builder { return st.Create().Event(noteWritten{Text: "other"}) },
		query: evento.Query{Filters: []evento.Filter{{AggregateType: counterType, Name: incremented{}.EventName()}}},
	}
	t.Run("Sequential", func(t *testing.T) { passingCursor(t, h, 1, c) })
	t.Run("Parallel", func(t *testing.T) { passingCursor(t, h, 3, c) })
}

// cursorCase is a subscription of incremented events for passingCursor:
// its routing key, the commits of the events it handles and of those it
// does not, and the query of the events it handles.
type cursorCase struct {
	key     evento.RoutingKey
	handled func(st *evento.Store, id string, by int) *evento.Builder
	other   func(st *evento.Store) *evento.Builder
	query   evento.Query
}

// passingCursor runs the scenario of testSubscriptionUnkeyedCursor for c
// with a subscription that runs partitions handlers at a time.
func passingCursor(t *testing.T, h *harness, partitions int, c cursorCase) {
	ctx := t.Context()
	st, exec := h.open(t)
	m, monotonic := exec.(evento.MonotonicReader)
	monotonic = monotonic && m.MonotonicReads()
	var rec recorder
	newSub := func() *evento.Subscription {
		sub := evento.NewSubscription("passing", evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
			rec.add(ev.Event)
			return nil
		})).RoutingKey(c.key)
		if partitions > 1 {
			sub.Parallel(partitions, nil)
		}
		return sub
	}
	others := func(n int) {
		t.Helper()
		for range n {
			must(c.other(st).Commit(ctx))(t)
		}
	}
	checkCursor := func(what string, handled *evento.Event) {
		t.Helper()
		want := cursorOf(t, handled)
		if monotonic {
			full := readAll(t, st, evento.Query{})
			want = cursorOf(t, full[len(full)-1])
		}
		if got := must(exec.SubscriptionStatus(ctx, "passing"))(t).Cursor; got != want {
			t.Errorf("%s: stored cursor %q, want %q", what, got, want)
		}
	}

	must(c.handled(st, "handled-1", 1).Commit(ctx))(t)
	others(12)
	noErr(t, newSub().Execute(ctx, st))
	handled := readAll(t, st, c.query)
	sameEvents(t, "first Execute", rec.all(), handled)
	checkCursor("after the first Execute", handled[0])

	others(5)
	noErr(t, newSub().Execute(ctx, st))
	if rec.len() != 1 {
		t.Errorf("Execute over other events only handled %d events in all, want 1", rec.len())
	}
	checkCursor("after other events only", handled[0])

	must(c.handled(st, "handled-2", 2).Commit(ctx))(t)
	others(3)
	noErr(t, newSub().Execute(ctx, st))
	handled = readAll(t, st, c.query)
	sameEvents(t, "after a new handled event", rec.all(), handled)
	checkCursor("after a new handled event", handled[1])
}

// testSubscriptionSeveralAggregates checks that a subscription sees the
// events of several aggregates and types interleaved in global order, and
// only the kinds it handles.
func testSubscriptionSeveralAggregates(t *testing.T, h *harness) {
	st, _ := h.open(t)
	full := subscriptionLog(t, st)
	var rec recorder
	sub := evento.NewSubscription("resets-and-notes",
		evento.On(func(_ context.Context, ev evento.Typed[counterReset]) error { rec.add(ev.Event); return nil }),
		evento.On(func(_ context.Context, ev evento.Typed[noteWritten]) error {
			if ev.Data.Text == "" {
				return errors.New("note payload not decoded")
			}
			rec.add(ev.Event)
			return nil
		}))
	var want []*evento.Event
	for _, e := range full {
		if e.Name == "Reset" || e.Name == "NoteWritten" {
			want = append(want, e)
		}
	}
	sameEvents(t, "resets and notes", execute(t, st, sub, &rec), want)
}

func testSubscriptionExecuteDrainsAndResumes(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 20)
	type sink struct{ rec *recorder }
	newSub := func() *evento.Subscription {
		return evento.NewSubscription("drain", evento.On(func(ctx context.Context, ev evento.Typed[incremented]) error {
			s, ok := evento.DataFrom[sink](ctx)
			if !ok {
				return errors.New("no sink in the handler's context")
			}
			s.rec.add(ev.Event)
			return nil
		})).ChunkSize(3)
	}
	var rec recorder
	ctx = evento.WithData(ctx, sink{&rec})
	noErr(t, newSub().Execute(ctx, st))
	full := readAll(t, st, evento.Query{})
	sameEvents(t, "first Execute in chunks of 3", rec.all(), full)
	status := must(exec.SubscriptionStatus(ctx, "drain"))(t)
	if status.Cursor != cursorOf(t, full[19]) || status.Owner != "" || status.Lag < 0 || status.UpdatedAt.IsZero() {
		t.Errorf("status after Execute = %+v, want the last event's cursor, no owner (released), lag >= 0", status)
	}

	// A new Subscription object with the same key, as after a restart,
	// resumes from the stored cursor.
	increments(t, st, "c", 20, 5)
	var again recorder
	noErr(t, newSub().Execute(evento.WithData(ctx, sink{&again}), st))
	full = readAll(t, st, evento.Query{})
	sameEvents(t, "Execute after a restart", again.all(), full[20:])
	var idle recorder
	noErr(t, newSub().Execute(evento.WithData(ctx, sink{&idle}), st))
	if idle.len() != 0 {
		t.Errorf("Execute with nothing new saw %d events", idle.len())
	}
}

// startAndWait starts sub and returns its worker, shut down at cleanup.
func startAndWait(t *testing.T, st *evento.Store, sub *evento.Subscription) *evento.Worker {
	t.Helper()
	w := must(sub.Start(t.Context(), st))(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown %s: %v", sub.Key(), err)
		}
	})
	return w
}

// shutdown stops w and checks that it stopped cleanly.
func shutdown(t *testing.T, h *harness, w *evento.Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.f.Timeout)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := w.Err(); err != nil {
		t.Errorf("worker stopped with %v, want nil after Shutdown", err)
	}
}

// wakeBound is how long StartWakesOnAppend waits for a worker to see an
// appended event, far beyond a wake's latency and far below the poll
// interval of one hour.
const wakeBound = 10 * time.Second

// testSubscriptionStartWakes checks that a started subscription sees an
// event appended through the same executor at once, not at its next poll:
// the poll interval is an hour (so even the adaptive poll soon after an
// event comes minutes later), the wait far shorter.
func testSubscriptionStartWakes(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	if _, ok := exec.(evento.Waker); !ok {
		t.Skip("evtest: the executor does not implement evento.Waker")
	}
	var rec recorder
	w := startAndWait(t, st, evento.NewSubscription("wake", rec.handlers()...).PollInterval(time.Hour))
	// Either the worker reads the first event on starting, or it is
	// already waiting for news and the append must wake it; both take
	// well under wakeBound. (A bound of Features.Timeout would make a
	// store that never wakes its workers fail only after minutes.)
	increments(t, st, "c", 0, 1)
	waitFor(t, wakeBound, "the first event with a one-hour poll interval", func() bool { return rec.len() == 1 })
	// The worker is now waiting for news; the next append must wake it.
	increments(t, st, "c", 1, 1)
	waitFor(t, wakeBound, "an appended event with a one-hour poll interval", func() bool { return rec.len() == 2 })
	shutdown(t, h, w)
	sameEvents(t, "started subscription", rec.all(), readAll(t, st, evento.Query{}))
	status := must(exec.SubscriptionStatus(ctx, "wake"))(t)
	if status.Owner != "" || !status.ExpiresAt.IsZero() {
		t.Errorf("status after Shutdown = owner %q expiring %v, want released", status.Owner, status.ExpiresAt)
	}
}

var errBoom = errors.New("evtest: handler failure")

// failing returns a subscription over incremented events whose handler
// fails on the event with Seq failOn while *broken is true, and counts the
// attempts on it.
func failing(key string, rec *recorder, failOn int, broken *bool, attempts *int) *evento.Subscription {
	return evento.NewSubscription(key, evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
		if ev.Data.Seq == failOn && *broken {
			*attempts++
			return fmt.Errorf("seq %d: %w", failOn, errBoom)
		}
		rec.add(ev.Event)
		return nil
	})).Retry(2, time.Millisecond)
}

func testSubscriptionFailureStops(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 5)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	err := failing("fail", &rec, 3, &broken, &attempts).Execute(ctx, st)
	var he *evento.HandlerError
	if !errors.As(err, &he) || !errors.Is(err, errBoom) {
		t.Fatalf("Execute = %v, want a *evento.HandlerError wrapping the handler's error", err)
	}
	if he.Key != "fail" || he.Event == nil || he.Event.ID != full[2].ID {
		t.Errorf("HandlerError = %+v, want key fail and the third event", he)
	}
	if attempts != 3 {
		t.Errorf("failing handler ran %d times, want 3 (1 + 2 retries)", attempts)
	}
	sameEvents(t, "events before the failure", rec.all(), full[:2])
	if status := must(exec.SubscriptionStatus(ctx, "fail"))(t); status.Cursor != cursorOf(t, full[1]) {
		t.Errorf("cursor after the failure = %q, want the one before the failed event %q", status.Cursor, cursorOf(t, full[1]))
	}

	// The next run starts with the failed event.
	broken = false
	var again recorder
	noErr(t, failing("fail", &again, 3, &broken, &attempts).Execute(ctx, st))
	sameEvents(t, "run after the fix", again.all(), full[2:])
}

func testSubscriptionAcceptFailure(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 5)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	noErr(t, failing("accept", &rec, 3, &broken, &attempts).AcceptFailure().Execute(ctx, st))
	if attempts != 3 {
		t.Errorf("failing handler ran %d times, want 3", attempts)
	}
	sameEvents(t, "events around the accepted failure", rec.all(), []*evento.Event{full[0], full[1], full[3], full[4]})
	if status := must(exec.SubscriptionStatus(ctx, "accept"))(t); status.Cursor != cursorOf(t, full[4]) {
		t.Errorf("cursor = %q, want the last event's %q", status.Cursor, cursorOf(t, full[4]))
	}
	var again recorder
	noErr(t, failing("accept", &again, 3, &broken, &attempts).AcceptFailure().Execute(ctx, st))
	if again.len() != 0 {
		t.Errorf("the run after an accepted failure saw %d events, want none", again.len())
	}
}

func testSubscriptionStartStopsOnFailure(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 3)
	full := readAll(t, st, evento.Query{})
	var rec recorder
	broken, attempts := true, 0
	w := startAndWait(t, st, failing("start-fail", &rec, 2, &broken, &attempts).PollInterval(20*time.Millisecond))
	select {
	case <-w.Done():
	case <-time.After(h.f.Timeout):
		t.Fatal("a started worker did not stop on a handler failure")
	}
	var he *evento.HandlerError
	if err := w.Err(); !errors.As(err, &he) || he.Event.ID != full[1].ID {
		t.Errorf("worker error = %v, want a *evento.HandlerError on the second event", err)
	}
	sameEvents(t, "events before the failure", rec.all(), full[:1])
	status := must(exec.SubscriptionStatus(ctx, "start-fail"))(t)
	if status.Cursor != cursorOf(t, full[0]) || status.Owner != "" {
		t.Errorf("status = cursor %q owner %q, want the first event's cursor and a released lease", status.Cursor, status.Owner)
	}
}

func testSubscriptionSafety(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := increments(t, st, "c", 0, 1)
	must(st.CreateWithID("n").Event(noteWritten{Text: "other type"}).Commit(ctx))(t)
	res = must(st.Aggregate("c", res.Version).Event(counterReset{}).Event(incremented{By: 1}).Commit(ctx))(t)
	full := readAll(t, st, evento.Query{Filters: []evento.Filter{{AggregateType: counterType}}})

	var rec recorder
	newSub := func() *evento.Subscription {
		return evento.NewSubscription("safety",
			evento.On(func(_ context.Context, ev evento.Typed[incremented]) error { rec.add(ev.Event); return nil })).Safety()
	}
	err := newSub().Execute(ctx, st)
	var he *evento.HandlerError
	if !errors.As(err, &he) || !errors.Is(err, evento.ErrUnhandledEvent) || he.Event.ID != full[1].ID {
		t.Fatalf("Execute in safety mode = %v, want a *HandlerError matching ErrUnhandledEvent on the reset", err)
	}
	sameEvents(t, "events before the unhandled one", rec.all(), full[:1])
	noErr(t, newSub().Skip(counterReset{}).Execute(ctx, st))
	sameEvents(t, "events after skipping", rec.all(), []*evento.Event{full[0], full[2]})
}

func testSubscriptionOnAllAndSkip(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	increments(t, st, "c", 0, 1)
	must(st.Aggregate("c", 1).Event(counterReset{}).Event(incremented{By: 1}).Commit(ctx))(t)
	must(st.CreateWithID("n").Event(noteWritten{Text: "x"}).Commit(ctx))(t)
	counters := readAll(t, st, evento.Query{Filters: []evento.Filter{{AggregateType: counterType}}})
	notes := readAll(t, st, evento.Query{Filters: []evento.Filter{{AggregateType: noteType}}})

	var typed, all recorder
	onAll := func(ctx context.Context, e *evento.Event) error { all.add(e); return nil }
	noErr(t, evento.NewSubscription("typed-and-all",
		evento.On(func(_ context.Context, ev evento.Typed[incremented]) error { typed.add(ev.Event); return nil })).
		OnAll(counterType, onAll).Execute(ctx, st))
	sameEvents(t, "typed handler next to OnAll", typed.all(), []*evento.Event{counters[0], counters[2]})
	sameEvents(t, "OnAll next to a typed handler", all.all(), counters[1:2])

	all = recorder{}
	noErr(t, evento.NewSubscription("all-but-resets").OnAll(counterType, onAll).Skip(counterReset{}).Execute(ctx, st))
	sameEvents(t, "OnAll with Skip", all.all(), []*evento.Event{counters[0], counters[2]})

	all = recorder{}
	noErr(t, evento.NewSubscription("notes").OnAll(noteType, onAll).Execute(ctx, st))
	sameEvents(t, "OnAll of another type", all.all(), notes)
}

// testSubscriptionAcrossExecutors runs a subscription on one executor while
// events are appended through another over the same storage: it finds them
// by polling.
func testSubscriptionAcrossExecutors(t *testing.T, h *harness) {
	a, b := h.shared(t)
	sa, sb := evento.New(a), evento.New(b)
	var rec recorder
	w := startAndWait(t, sb, evento.NewSubscription("across", rec.handlers()...).PollInterval(20*time.Millisecond))
	var version int64
	for range 20 {
		version = increments(t, sa, "c", version, 2).Version
	}
	waitFor(t, h.f.Timeout, "40 events appended through the other executor", func() bool { return rec.len() >= 40 })
	shutdown(t, h, w)
	sameEvents(t, "events seen across executors", rec.all(), readAll(t, sa, evento.Query{}))
}
