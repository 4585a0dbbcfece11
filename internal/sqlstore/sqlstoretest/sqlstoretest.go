// Package sqlstoretest holds the tests that every SQL executor runs on its
// acknowledgements beyond the cursor: the last error they record, the dead
// letters they park, and the transaction they share with a handler
// (evento.TxAcknowledger). Each executor's tests call [Run] with a
// [Harness] that knows how to reach its database.
package sqlstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Executor is what the tests need of an executor.
type Executor interface {
	evento.Executor
	evento.DeadLetterStore
	evento.TxAcknowledger
	evento.LeaseBreaker
	evento.SubscriptionLister
}

// Harness connects the tests to one executor's database.
type Harness struct {
	// Open returns an executor on an empty store, closed when the test
	// ends.
	Open func(t *testing.T) Executor
	// Table returns the SQL name of a table called name that the test
	// creates for a handler to write to; nil uses name as it is.
	Table func(x Executor, name string) string
	// Exec runs stmt outside any transaction, on x's database.
	Exec func(t *testing.T, x Executor, stmt string)
	// Count runs query, a SELECT COUNT(*), outside any transaction.
	Count func(t *testing.T, x Executor, query string) int
	// TxExec runs stmt through the transaction ctx carries, as a handler
	// reaches it with evento.TxFrom; it fails when ctx carries none of the
	// executor's type.
	TxExec func(ctx context.Context, stmt string) error
}

// Run runs every test on h.
func Run(t *testing.T, h Harness) {
	t.Run("LastError", h.testLastError)
	t.Run("DeadLetters", h.testDeadLetters)
	t.Run("InvalidParks", h.testInvalidParks)
	t.Run("LostLease", h.testLostLease)
	t.Run("HandlerFails", h.testHandlerFails)
	t.Run("HandlerPanicsOrIsCancelled", h.testHandlerPanics)
	t.Run("Commits", h.testCommits)
	t.Run("TakeoverWaitsForTheTransaction", h.testTakeoverWaits)
}

// at returns the cursor of position n.
func at(n uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: n}) }

// pause lets the clock move on by more than the stores' microsecond
// resolution, so that two acknowledgements get different times.
func pause() { time.Sleep(3 * time.Millisecond) }

func acquire(t *testing.T, x Executor, key, owner string) *evento.Lease {
	t.Helper()
	l, err := x.AcquireLease(context.Background(), key, owner, time.Minute)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", key, owner, err)
	}
	return l
}

func acknowledge(t *testing.T, x Executor, l *evento.Lease, ack evento.Ack) {
	t.Helper()
	if err := x.Acknowledge(context.Background(), l, ack); err != nil {
		t.Fatalf("Acknowledge(%+v): %v", ack, err)
	}
	if l.Cursor != ack.Cursor {
		t.Fatalf("after Acknowledge l.Cursor = %s, want %s", l.Cursor, ack.Cursor)
	}
}

func status(t *testing.T, x Executor, key string) *evento.SubscriptionStatus {
	t.Helper()
	st, err := x.SubscriptionStatus(context.Background(), key)
	if err != nil {
		t.Fatalf("SubscriptionStatus(%s): %v", key, err)
	}
	return st
}

func deadLetters(t *testing.T, x Executor, key string) []*evento.DeadLetter {
	t.Helper()
	dls, err := x.DeadLetters(context.Background(), key, 100)
	if err != nil {
		t.Fatalf("DeadLetters(%s): %v", key, err)
	}
	return dls
}

// ids returns the event ids of dls.
func ids(dls []*evento.DeadLetter) string {
	out := make([]string, len(dls))
	for i, dl := range dls {
		out[i] = dl.EventID
	}
	return strings.Join(out, ",")
}

// parked returns a dead letter for the event id, under a key the executor
// must ignore.
func parked(id, msg string) *evento.DeadLetter {
	return &evento.DeadLetter{Key: "ignored", EventID: id, Event: []byte("event " + id), Error: msg}
}

// handlerTable creates a table for a handler to write to and returns its
// SQL name.
func (h Harness) handlerTable(t *testing.T, x Executor) string {
	t.Helper()
	name := "handler_rows"
	if h.Table != nil {
		name = h.Table(x, name)
	}
	h.Exec(t, x, "CREATE TABLE "+name+" (id INTEGER NOT NULL PRIMARY KEY)")
	return name
}

func (h Harness) rows(t *testing.T, x Executor, table string) int {
	t.Helper()
	return h.Count(t, x, "SELECT COUNT(*) FROM "+table)
}

func insert(table string, id int) string {
	return fmt.Sprintf("INSERT INTO %s (id) VALUES (%d)", table, id)
}

func (h Harness) testLastError(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	l := acquire(t, x, "k", "w")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})
	if st := status(t, x, "k"); st.LastError != nil {
		t.Fatalf("LastError before any failure = %+v, want nil", st.LastError)
	}

	pause()
	msg := strings.Repeat("é", evento.MaxErrorLen/2) // 4096 bytes of two-byte runes
	failure := &evento.SubscriptionError{EventID: "01JEVENTA", Message: msg, At: time.Unix(1, 0), Fatal: true}
	acknowledge(t, x, l, evento.Ack{Cursor: at(2), Lag: 3 * time.Millisecond, Error: failure})
	st := status(t, x, "k")
	e := st.LastError
	switch {
	case e == nil:
		t.Fatal("LastError after an acknowledgement with an error = nil")
	case e.EventID != failure.EventID || e.Message != msg || !e.Fatal:
		t.Errorf("LastError = {%s, %d bytes, fatal %v}, want {%s, %d bytes, fatal}", e.EventID, len(e.Message), e.Fatal,
			failure.EventID, len(msg))
	case !e.At.Equal(st.UpdatedAt) || e.At.Location() != time.UTC:
		t.Errorf("LastError.At = %v, want the acknowledgement's time %v, in UTC", e.At, st.UpdatedAt)
	case st.Cursor != at(2) || st.Lag != 3*time.Millisecond:
		t.Errorf("status = %+v, want the cursor and lag of the acknowledgement", st)
	}
	if st.Stopped(time.Now()) {
		t.Error("Stopped while the lease is held")
	}
	subs, err := x.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].LastError == nil || *subs[0].LastError != *e {
		t.Errorf("Subscriptions = %v, %v; want one with LastError %+v", subs, err, e)
	}

	if err := x.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if st := status(t, x, "k"); !st.Stopped(time.Now()) {
		t.Errorf("not Stopped after a fatal failure and a release: %+v", st)
	}

	// An acknowledgement without an error keeps the last error, which is
	// then older than the acknowledgement.
	l = acquire(t, x, "k", "w2")
	pause()
	acknowledge(t, x, l, evento.Ack{Cursor: at(3)})
	st = status(t, x, "k")
	if st.LastError == nil || *st.LastError != *e || !st.UpdatedAt.After(e.At) {
		t.Errorf("after an acknowledgement without error: LastError %+v, UpdatedAt %v; want %+v kept, older",
			st.LastError, st.UpdatedAt, e)
	}
	if err := x.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if st := status(t, x, "k"); st.Stopped(time.Now()) {
		t.Error("Stopped although the cursor moved on after the failure")
	}

	// A later error replaces it.
	l = acquire(t, x, "k", "w3")
	pause()
	acknowledge(t, x, l, evento.Ack{Cursor: at(4), Error: &evento.SubscriptionError{EventID: "01JEVENTB", Message: "passed over"}})
	st = status(t, x, "k")
	if e := st.LastError; e == nil || e.EventID != "01JEVENTB" || e.Message != "passed over" || e.Fatal || !e.At.Equal(st.UpdatedAt) {
		t.Errorf("replaced LastError = %+v (updated %v)", e, st.UpdatedAt)
	}
}

func (h Harness) testDeadLetters(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	l := acquire(t, x, "k", "w")
	if dls := deadLetters(t, x, "k"); len(dls) != 0 {
		t.Fatalf("dead letters of a new key: %v", ids(dls))
	}

	// Two events parked by one acknowledgement share its time, and sort
	// by event id.
	acknowledge(t, x, l, evento.Ack{Cursor: at(1), Park: []*evento.DeadLetter{parked("B", "b failed"), parked("A", "a failed")}})
	first := status(t, x, "k").UpdatedAt
	pause()
	acknowledge(t, x, l, evento.Ack{Cursor: at(2), Park: []*evento.DeadLetter{parked("C", "c failed")}})
	dls := deadLetters(t, x, "k")
	if ids(dls) != "A,B,C" {
		t.Fatalf("dead letters %s, want A,B,C", ids(dls))
	}
	for _, dl := range dls {
		if dl.Key != "k" || !bytes.Equal(dl.Event, []byte("event "+dl.EventID)) ||
			dl.Error != strings.ToLower(dl.EventID)+" failed" || dl.ParkedAt.Location() != time.UTC {
			t.Errorf("dead letter %+v", dl)
		}
	}
	if !dls[0].ParkedAt.Equal(first) || !dls[1].ParkedAt.Equal(first) || !dls[2].ParkedAt.After(first) {
		t.Errorf("parked at %v, %v, %v; want the first two at the first acknowledgement's time %v, then later",
			dls[0].ParkedAt, dls[1].ParkedAt, dls[2].ParkedAt, first)
	}

	// Parking an event again replaces it, with the new time.
	pause()
	acknowledge(t, x, l, evento.Ack{Cursor: at(3), Park: []*evento.DeadLetter{parked("A", "a failed again")}})
	dls = deadLetters(t, x, "k")
	if ids(dls) != "B,C,A" || dls[2].Error != "a failed again" {
		t.Fatalf("after parking A again: %s (A's error %q), want B,C,A", ids(dls), dls[len(dls)-1].Error)
	}
	if got, err := x.DeadLetters(ctx, "k", 2); err != nil || ids(got) != "B,C" {
		t.Errorf("DeadLetters(limit 2) = %s, %v; want B,C", ids(got), err)
	}
	for _, limit := range []int{0, -1, 10001} {
		if _, err := x.DeadLetters(ctx, "k", limit); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("DeadLetters(limit %d): err = %v, want ErrInvalidArgument", limit, err)
		}
	}
	if got, err := x.DeadLetters(ctx, "k", 10000); err != nil || len(got) != 3 {
		t.Errorf("DeadLetters(limit 10000) = %d, %v", len(got), err)
	}
	if dls := deadLetters(t, x, "other"); len(dls) != 0 {
		t.Errorf("dead letters of another key: %s", ids(dls))
	}

	if err := x.DeleteDeadLetter(ctx, "k", "B"); err != nil {
		t.Fatalf("DeleteDeadLetter(B): %v", err)
	}
	if err := x.DeleteDeadLetter(ctx, "k", "B"); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("second DeleteDeadLetter(B): err = %v, want ErrNotFound", err)
	}
	if err := x.DeleteDeadLetter(ctx, "other", "C"); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("DeleteDeadLetter under another key: err = %v, want ErrNotFound", err)
	}
	if dls := deadLetters(t, x, "k"); ids(dls) != "C,A" {
		t.Errorf("after deleting B: %s, want C,A", ids(dls))
	}

	// An empty encoded event is still an event.
	acknowledge(t, x, l, evento.Ack{Cursor: at(4), Park: []*evento.DeadLetter{{EventID: "D", Event: []byte{}}}})
	if dls := deadLetters(t, x, "k"); len(dls) != 3 || dls[2].EventID != "D" || dls[2].Event == nil || len(dls[2].Event) != 0 {
		t.Errorf("after parking an empty event: %s", ids(dls))
	}
}

func (h Harness) testInvalidParks(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	l := acquire(t, x, "k", "w")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})
	table := h.handlerTable(t, x)
	for _, dl := range []*evento.DeadLetter{nil, {Event: []byte("e")}, {EventID: "A"}} {
		ack := evento.Ack{Cursor: at(2), Park: []*evento.DeadLetter{parked("B", "b"), dl}}
		if err := x.Acknowledge(ctx, l, ack); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("Acknowledge parking %+v: err = %v, want ErrInvalidArgument", dl, err)
		}
		called := false
		err := x.AcknowledgeTx(ctx, l, ack, func(ctx context.Context) error {
			called = true
			return h.TxExec(ctx, insert(table, 1))
		})
		if !errors.Is(err, evento.ErrInvalidArgument) || called {
			t.Errorf("AcknowledgeTx parking %+v: err = %v, handler called %v; want ErrInvalidArgument, not called", dl, err, called)
		}
	}
	if st := status(t, x, "k"); st.Cursor != at(1) || l.Cursor != at(1) {
		t.Errorf("cursor %s (lease %s) after refused acknowledgements, want %s", st.Cursor, l.Cursor, at(1))
	}
	if dls := deadLetters(t, x, "k"); len(dls) != 0 || h.rows(t, x, table) != 0 {
		t.Errorf("refused acknowledgements stored %s and %d rows", ids(dls), h.rows(t, x, table))
	}
}

func (h Harness) testLostLease(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	table := h.handlerTable(t, x)
	failure := &evento.SubscriptionError{EventID: "A", Message: "failed", Fatal: true}
	park := []*evento.DeadLetter{parked("A", "failed")}
	called := false
	handler := func(ctx context.Context) error {
		called = true
		return h.TxExec(ctx, insert(table, 1))
	}
	check := func(what string, l *evento.Lease, owner string) {
		t.Helper()
		if err := x.Acknowledge(ctx, l, evento.Ack{Cursor: at(2), Error: failure}); !errors.Is(err, evento.ErrLeaseLost) {
			t.Errorf("%s: Acknowledge with an error: err = %v, want ErrLeaseLost", what, err)
		}
		if err := x.Acknowledge(ctx, l, evento.Ack{Cursor: at(2), Error: failure, Park: park}); !errors.Is(err, evento.ErrLeaseLost) {
			t.Errorf("%s: Acknowledge with parks: err = %v, want ErrLeaseLost", what, err)
		}
		called = false
		err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(2), Error: failure, Park: park}, handler)
		if !errors.Is(err, evento.ErrLeaseLost) || called {
			t.Errorf("%s: AcknowledgeTx: err = %v, handler called %v; want ErrLeaseLost, not called", what, err, called)
		}
		st := status(t, x, l.Key)
		if st.Cursor != at(1) || l.Cursor != at(1) || st.LastError != nil || st.Owner != owner {
			t.Errorf("%s: status %+v, lease cursor %s; want cursor %s, no error, owner %s", what, st, l.Cursor, at(1), owner)
		}
		if dls := deadLetters(t, x, l.Key); len(dls) != 0 {
			t.Errorf("%s: a lost lease parked %s", what, ids(dls))
		}
		if n := h.rows(t, x, table); n != 0 {
			t.Errorf("%s: a lost lease committed %d handler rows", what, n)
		}
	}

	// Broken by an administrator.
	l := acquire(t, x, "broken", "a")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})
	if _, err := x.BreakLease(ctx, "broken", "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	check("broken lease", l, "b")

	// Expired and taken over.
	l, err := x.AcquireLease(ctx, "expired", "a", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})
	time.Sleep(50 * time.Millisecond)
	acquire(t, x, "expired", "c")
	check("expired lease", l, "c")
}

// handlerError is a handler's own error type, which AcknowledgeTx must
// hand back intact.
type handlerError struct{ id int }

func (e *handlerError) Error() string { return fmt.Sprintf("handler error %d", e.id) }

func (h Harness) testHandlerFails(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	table := h.handlerTable(t, x)
	l := acquire(t, x, "k", "w")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})

	sentinel := &handlerError{id: 7}
	err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(2), Error: &evento.SubscriptionError{EventID: "A", Message: "m"},
		Park: []*evento.DeadLetter{parked("A", "m")}}, func(ctx context.Context) error {
		if err := h.TxExec(ctx, insert(table, 1)); err != nil {
			return err
		}
		return fmt.Errorf("projecting: %w", sentinel)
	})
	var he *handlerError
	if !errors.Is(err, sentinel) || !errors.As(err, &he) || he.id != 7 {
		t.Fatalf("AcknowledgeTx with a failing handler: err = %v, want the handler's error", err)
	}
	st := status(t, x, "k")
	if st.Cursor != at(1) || l.Cursor != at(1) || st.LastError != nil {
		t.Errorf("after a failed handler: status %+v, lease cursor %s; want cursor %s, no error", st, l.Cursor, at(1))
	}
	if n := h.rows(t, x, table); n != 0 {
		t.Errorf("a failed handler's insert was committed (%d rows)", n)
	}
	if dls := deadLetters(t, x, "k"); len(dls) != 0 {
		t.Errorf("a failed handler's acknowledgement parked %s", ids(dls))
	}
	// The lease is still good.
	acknowledge(t, x, l, evento.Ack{Cursor: at(2)})
}

func (h Harness) testHandlerPanics(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	table := h.handlerTable(t, x)
	l := acquire(t, x, "k", "w")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})

	func() {
		defer func() {
			if r := recover(); r != "handler panic" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		_ = x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(2)}, func(ctx context.Context) error {
			if err := h.TxExec(ctx, insert(table, 1)); err != nil {
				return err
			}
			panic("handler panic")
		})
	}()

	cctx, cancel := context.WithCancel(ctx)
	err := x.AcknowledgeTx(cctx, l, evento.Ack{Cursor: at(2)}, func(ctx context.Context) error {
		if err := h.TxExec(ctx, insert(table, 2)); err != nil {
			return err
		}
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("AcknowledgeTx cancelled in the handler: err = %v, want context.Canceled", err)
	}
	if err := x.AcknowledgeTx(cctx, l, evento.Ack{Cursor: at(2)}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("AcknowledgeTx on a cancelled context: err = %v, want context.Canceled", err)
	}

	// Both rolled back, and the store is free for the next write.
	wctx, done := context.WithTimeout(ctx, 30*time.Second)
	defer done()
	if err := x.AcknowledgeTx(wctx, l, evento.Ack{Cursor: at(3)}, func(ctx context.Context) error {
		return h.TxExec(ctx, insert(table, 3))
	}); err != nil {
		t.Fatalf("AcknowledgeTx after a panic and a cancellation: %v", err)
	}
	if err := x.Acknowledge(wctx, l, evento.Ack{Cursor: at(4), Park: []*evento.DeadLetter{parked("A", "m")}}); err != nil {
		t.Fatalf("Acknowledge after a panic and a cancellation: %v", err)
	}
	if n := h.rows(t, x, table); n != 1 {
		t.Errorf("%d handler rows, want only the last handler's", n)
	}
	if st := status(t, x, "k"); st.Cursor != at(4) {
		t.Errorf("cursor %s, want %s", st.Cursor, at(4))
	}
}

func (h Harness) testCommits(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	table := h.handlerTable(t, x)
	l := acquire(t, x, "k", "w")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})

	failure := &evento.SubscriptionError{EventID: "A", Message: "a failed"}
	err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(2), Lag: time.Second, Error: failure,
		Park: []*evento.DeadLetter{parked("A", "a failed")}}, func(ctx context.Context) error {
		for id := range 2 {
			if err := h.TxExec(ctx, insert(table, id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("AcknowledgeTx: %v", err)
	}
	if l.Cursor != at(2) {
		t.Errorf("l.Cursor = %s, want %s", l.Cursor, at(2))
	}
	if n := h.rows(t, x, table); n != 2 {
		t.Errorf("%d handler rows committed, want 2", n)
	}
	st := status(t, x, "k")
	if st.Cursor != at(2) || st.Lag != time.Second || st.LastError == nil || st.LastError.Message != "a failed" ||
		!st.LastError.At.Equal(st.UpdatedAt) {
		t.Errorf("status after AcknowledgeTx = %+v, error %+v", st, st.LastError)
	}
	if dls := deadLetters(t, x, "k"); ids(dls) != "A" || !dls[0].ParkedAt.Equal(st.UpdatedAt) {
		t.Errorf("dead letters %s, want A parked at %v", ids(dls), st.UpdatedAt)
	}

	// Without anything to record or park it stores the cursor only.
	if err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(3)}, func(ctx context.Context) error {
		return h.TxExec(ctx, insert(table, 2))
	}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, x, "k"); st.Cursor != at(3) || st.LastError == nil || h.rows(t, x, table) != 3 {
		t.Errorf("status after a plain AcknowledgeTx = %+v", st)
	}
}

// While the handler runs, the lease's row (or the database) is locked: a
// takeover waits for the transaction, and then fences the next one.
func (h Harness) testTakeoverWaits(t *testing.T) {
	ctx := context.Background()
	x := h.Open(t)
	table := h.handlerTable(t, x)
	l := acquire(t, x, "k", "a")
	acknowledge(t, x, l, evento.Ack{Cursor: at(1)})

	type result struct {
		l   *evento.Lease
		err error
	}
	taken := make(chan result, 1)
	err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(2)}, func(ctx context.Context) error {
		go func() {
			b, err := x.BreakLease(context.Background(), "k", "b", time.Minute)
			taken <- result{b, err}
		}()
		select {
		case r := <-taken:
			return fmt.Errorf("the lease was broken while the handler ran: %+v, %v", r.l, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		return h.TxExec(ctx, insert(table, 1))
	})
	if err != nil {
		t.Fatalf("AcknowledgeTx: %v", err)
	}
	r := <-taken
	if r.err != nil || r.l.Epoch != l.Epoch+1 || r.l.Cursor != at(2) {
		t.Fatalf("BreakLease after the transaction = %+v, %v; want epoch %d at cursor %s", r.l, r.err, l.Epoch+1, at(2))
	}
	err = x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: at(3)}, func(ctx context.Context) error {
		return h.TxExec(ctx, insert(table, 2))
	})
	if !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("AcknowledgeTx after the takeover: err = %v, want ErrLeaseLost", err)
	}
	if n := h.rows(t, x, table); n != 1 {
		t.Errorf("%d handler rows, want 1", n)
	}
}
