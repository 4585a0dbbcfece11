package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
)

// letter returns a dead letter for a new event of aggregate id, with the
// event encoded as a subscription parks it.
func letter(t testing.TB, id, msg string) *evento.DeadLetter {
	t.Helper()
	e := newCommit("bank/Account", id, 0, 1).Events[0]
	e.Timestamp = time.Now()
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return &evento.DeadLetter{EventID: e.ID.String(), Event: b, Error: msg}
}

// named returns a dead letter whose event id is id.
func named(t testing.TB, id, msg string) *evento.DeadLetter {
	dl := letter(t, id, msg)
	dl.EventID = id
	return dl
}

// acquire takes the lease on key for a minute.
func acquire(t testing.TB, x *pebble.Executor, key string) *evento.Lease {
	t.Helper()
	l, err := x.AcquireLease(context.Background(), key, "worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ack acknowledges ack on l and returns the status it stored.
func ack(t testing.TB, x *pebble.Executor, l *evento.Lease, a evento.Ack) *evento.SubscriptionStatus {
	t.Helper()
	ctx := context.Background()
	if err := x.Acknowledge(ctx, l, a); err != nil {
		t.Fatal(err)
	}
	st, err := x.SubscriptionStatus(ctx, l.Key)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// letters returns the event ids of up to limit dead letters of key.
func letters(t testing.TB, x *pebble.Executor, key string, limit int) []string {
	t.Helper()
	dls, err := x.DeadLetters(context.Background(), key, limit)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(dls))
	for i, dl := range dls {
		ids[i] = dl.EventID
	}
	return ids
}

func equalIDs(a, b []string) bool { return slices.Equal(a, b) }

func TestLastErrorRoundTrip(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	l := acquire(t, x, "sub")
	c := cursor.Encode(cursor.Position{Seq: 3})
	if st := ack(t, x, l, evento.Ack{Cursor: c}); st.LastError != nil {
		t.Fatalf("last error before any failure = %+v", st.LastError)
	}

	// The executor records the error at the acknowledgement's own time,
	// whatever At the caller set.
	st := ack(t, x, l, evento.Ack{Cursor: c, Error: &evento.SubscriptionError{
		EventID: "01E", Message: "boom", At: time.Unix(1, 0),
	}})
	e := st.LastError
	if e == nil || e.EventID != "01E" || e.Message != "boom" || e.Fatal {
		t.Fatalf("last error = %+v", e)
	}
	if e.At != st.UpdatedAt || !e.At.Equal(st.UpdatedAt) {
		t.Errorf("error at %v, updated at %v: want the same time", e.At, st.UpdatedAt)
	}
	if st.Stopped(time.Now()) {
		t.Error("a non-fatal error stopped the subscription")
	}

	// An acknowledgement without an error keeps the last one.
	time.Sleep(2 * time.Millisecond)
	later := ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 4})})
	if later.LastError == nil || *later.LastError != *e {
		t.Errorf("last error after a clean ack = %+v, want %+v", later.LastError, e)
	}
	if !later.UpdatedAt.After(e.At) {
		t.Errorf("updated at %v not after the error at %v", later.UpdatedAt, e.At)
	}

	// A fatal error, then the worker lets go: the subscription stopped.
	st = ack(t, x, l, evento.Ack{Cursor: later.Cursor, Error: &evento.SubscriptionError{
		EventID: "01F", Message: "fatal boom", Fatal: true,
	}})
	if st.LastError == nil || !st.LastError.Fatal || st.LastError.EventID != "01F" || !st.LastError.At.Equal(st.UpdatedAt) {
		t.Fatalf("fatal last error = %+v, updated at %v", st.LastError, st.UpdatedAt)
	}
	if st.Stopped(time.Now()) {
		t.Error("stopped while the lease is held")
	}
	if err := x.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Stopped(time.Now()) {
		t.Errorf("not stopped after a fatal error and a release: %+v, %+v", st, st.LastError)
	}

	// The admin listing reports it too.
	all, err := x.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].LastError == nil || *all[0].LastError != *st.LastError {
		t.Errorf("Subscriptions = %+v", all)
	}
}

func TestDeadLettersOrderReplaceLimitDelete(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	l := acquire(t, x, "sub")

	a, b := named(t, "a", "first"), named(t, "b", "second")
	st1 := ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 1}), Park: []*evento.DeadLetter{b, a}})
	time.Sleep(2 * time.Millisecond)
	c := named(t, "c", "third")
	st2 := ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 2}), Park: []*evento.DeadLetter{c}})

	dls, err := x.DeadLetters(ctx, "sub", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		dl *evento.DeadLetter
		at time.Time
	}{{a, st1.UpdatedAt}, {b, st1.UpdatedAt}, {c, st2.UpdatedAt}}
	if len(dls) != len(want) {
		t.Fatalf("got %d dead letters, want %d", len(dls), len(want))
	}
	for i, w := range want {
		got := dls[i]
		if got.Key != "sub" || got.EventID != w.dl.EventID || got.Error != w.dl.Error ||
			!bytes.Equal(got.Event, w.dl.Event) || !got.ParkedAt.Equal(w.at) {
			t.Errorf("dead letter %d = %+v, want %s parked at %v", i, got, w.dl.EventID, w.at)
		}
	}
	var e evento.Event
	if err := e.UnmarshalBinary(dls[0].Event); err != nil || e.AggregateID != "a" {
		t.Errorf("parked event decodes to %+v, %v", e, err)
	}

	// Parking a again replaces it: it moves to the end, with its new error.
	time.Sleep(2 * time.Millisecond)
	again := named(t, "a", "again")
	ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 3}), Park: []*evento.DeadLetter{again}})
	if ids := letters(t, x, "sub", 10); !equalIDs(ids, []string{"b", "c", "a"}) {
		t.Fatalf("after re-park: %v, want [b c a]", ids)
	}
	dls, err = x.DeadLetters(ctx, "sub", 10)
	if err != nil {
		t.Fatal(err)
	}
	if dls[2].Error != "again" || !bytes.Equal(dls[2].Event, again.Event) {
		t.Errorf("re-parked letter = %+v", dls[2])
	}

	// Within one acknowledgement the last letter for an id wins.
	time.Sleep(2 * time.Millisecond)
	ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 4}),
		Park: []*evento.DeadLetter{named(t, "d", "one"), named(t, "d", "two")}})
	dls, err = x.DeadLetters(ctx, "sub", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 4 || dls[3].EventID != "d" || dls[3].Error != "two" {
		t.Errorf("after parking d twice: %+v", dls)
	}

	if ids := letters(t, x, "sub", 2); !equalIDs(ids, []string{"b", "c"}) {
		t.Errorf("limit 2: %v, want [b c]", ids)
	}
	for _, limit := range []int{0, -1, 10_001} {
		if _, err := x.DeadLetters(ctx, "sub", limit); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("limit %d: err = %v, want ErrInvalidArgument", limit, err)
		}
	}
	if ids := letters(t, x, "other", 10_000); len(ids) != 0 {
		t.Errorf("dead letters of another key: %v", ids)
	}

	if err := x.DeleteDeadLetter(ctx, "sub", "c"); err != nil {
		t.Fatal(err)
	}
	if err := x.DeleteDeadLetter(ctx, "sub", "c"); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("second delete: err = %v, want ErrNotFound", err)
	}
	if err := x.DeleteDeadLetter(ctx, "other", "a"); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("delete under another key: err = %v, want ErrNotFound", err)
	}
	if ids := letters(t, x, "sub", 10); !equalIDs(ids, []string{"b", "a", "d"}) {
		t.Errorf("after delete: %v, want [b a d]", ids)
	}
	// A deleted event can be parked again.
	time.Sleep(2 * time.Millisecond)
	ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 5}), Park: []*evento.DeadLetter{named(t, "c", "back")}})
	if ids := letters(t, x, "sub", 10); !equalIDs(ids, []string{"b", "a", "d", "c"}) {
		t.Errorf("after parking c again: %v, want [b a d c]", ids)
	}
}

// TestDeadLetterKeysDoNotOverlap parks under keys that are prefixes of one
// another, or hold the escape byte, and under two key prefixes of one
// database: each key lists only its own letters.
func TestDeadLetterKeysDoNotOverlap(t *testing.T) {
	ctx := context.Background()
	db, err := pebbledb.Open(t.TempDir(), &pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	execs := map[string]*pebble.Executor{}
	for _, prefix := range []string{"one", "two"} {
		x, err := pebble.New(db, pebble.WithKeyPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		execs[prefix] = x
	}
	keys := []string{"s", "sa", "s\x00", "s\x00a", "\x00"}
	for prefix, x := range execs {
		for _, key := range keys {
			l := acquire(t, x, key)
			ack(t, x, l, evento.Ack{Park: []*evento.DeadLetter{named(t, prefix+"/"+key, "x"), named(t, "shared\x00id", "y")}})
		}
	}
	for prefix, x := range execs {
		for _, key := range keys {
			ids := letters(t, x, key, 100)
			want := []string{prefix + "/" + key, "shared\x00id"}
			slices.Sort(want) // parked together: by event id
			if !equalIDs(ids, want) {
				t.Errorf("prefix %s, key %q: %q", prefix, key, ids)
			}
		}
	}
	if err := execs["one"].DeleteDeadLetter(ctx, "s", "shared\x00id"); err != nil {
		t.Fatal(err)
	}
	if ids := letters(t, execs["two"], "s", 100); len(ids) != 2 {
		t.Errorf("delete under prefix one removed %q of prefix two", ids)
	}
	if ids := letters(t, execs["one"], "s\x00", 100); len(ids) != 2 {
		t.Errorf("delete of key s removed letters of key s\\x00: %q", ids)
	}
}

func TestParkChecksLetters(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	l := acquire(t, x, "sub")
	c := cursor.Encode(cursor.Position{Seq: 1})
	ok := named(t, "ok", "fine")
	for name, dl := range map[string]*evento.DeadLetter{
		"nil letter":  nil,
		"no event id": {Event: ok.Event},
		"nil event":   {EventID: "x"},
	} {
		err := x.Acknowledge(ctx, l, evento.Ack{Cursor: c, Park: []*evento.DeadLetter{ok, dl},
			Error: &evento.SubscriptionError{EventID: "x", Message: "m"}})
		if !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil || st.Cursor != "" || st.LastError != nil || !st.UpdatedAt.IsZero() {
		t.Errorf("a rejected acknowledgement stored something: %+v, %v", st, err)
	}
	if ids := letters(t, x, "sub", 10); len(ids) != 0 {
		t.Errorf("a rejected acknowledgement parked %v", ids)
	}

	// An empty event is stored as it is.
	ack(t, x, l, evento.Ack{Cursor: c, Park: []*evento.DeadLetter{{EventID: "empty", Event: []byte{}}}})
	dls, err := x.DeadLetters(ctx, "sub", 1)
	if err != nil || len(dls) != 1 || dls[0].Event == nil || len(dls[0].Event) != 0 {
		t.Errorf("empty event parked as %+v, %v", dls, err)
	}
}

func TestLostLeaseStoresNoErrorNorLetters(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	old := acquire(t, x, "sub")
	current := acquire(t, x, "sub") // the same owner again: the epoch moves on
	err := x.Acknowledge(ctx, old, evento.Ack{
		Cursor: cursor.Encode(cursor.Position{Seq: 9}),
		Error:  &evento.SubscriptionError{EventID: "e", Message: "boom", Fatal: true},
		Park:   []*evento.DeadLetter{named(t, "e", "boom")},
	})
	if !errors.Is(err, evento.ErrLeaseLost) {
		t.Fatalf("ack with a lost lease: err = %v, want ErrLeaseLost", err)
	}
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil || st.Cursor != "" || st.LastError != nil || st.Epoch != current.Epoch {
		t.Errorf("status after a lost ack = %+v, %v", st, err)
	}
	if ids := letters(t, x, "sub", 10); len(ids) != 0 {
		t.Errorf("a lost ack parked %v", ids)
	}
	if err := x.DeleteDeadLetter(ctx, "sub", "e"); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("delete of the letter a lost ack tried to park: err = %v, want ErrNotFound", err)
	}
}

func TestDeadLettersSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := acquire(t, x, "sub")
	a, b := named(t, "a", "first"), named(t, "b", "second")
	before := ack(t, x, l, evento.Ack{
		Cursor: cursor.Encode(cursor.Position{Seq: 5}),
		Error:  &evento.SubscriptionError{EventID: "b", Message: "second", Fatal: true},
		Park:   []*evento.DeadLetter{a, b},
	})
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	x, err = pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if st.LastError == nil || *st.LastError != *before.LastError || !st.UpdatedAt.Equal(before.UpdatedAt) || st.Cursor != before.Cursor {
		t.Errorf("status after reopen = %+v (%+v), want %+v (%+v)", st, st.LastError, before, before.LastError)
	}
	dls, err := x.DeadLetters(ctx, "sub", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 2 || dls[0].EventID != "a" || dls[1].EventID != "b" ||
		!bytes.Equal(dls[1].Event, b.Event) || dls[1].Error != "second" || !dls[1].ParkedAt.Equal(before.UpdatedAt) {
		t.Errorf("dead letters after reopen = %+v", dls)
	}
	if err := x.DeleteDeadLetter(ctx, "sub", "a"); err != nil {
		t.Fatal(err)
	}
	if ids := letters(t, x, "sub", 10); !equalIDs(ids, []string{"b"}) {
		t.Errorf("after delete: %v", ids)
	}
}

// TestDeadLettersLeaveEventsAlone checks that reads and statistics see
// only events, whatever is parked.
func TestDeadLettersLeaveEventsAlone(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	mustAppend(t, x, newCommit("bank/Account", "a", 0, 3))
	mustAppend(t, x, newCommit("bank/Account", "b", 0, 2))
	l := acquire(t, x, "sub")
	ack(t, x, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 5}), Park: []*evento.DeadLetter{
		letter(t, "a", "x"), letter(t, "b", "y"),
	}, Error: &evento.SubscriptionError{EventID: "e", Message: "m"}})

	if got := readAll(t, x, evento.Query{}); len(got) != 5 {
		t.Errorf("read %d events, want 5", len(got))
	}
	if got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account", AggregateID: "a"}}}); len(got) != 3 {
		t.Errorf("read %d events of a, want 3", len(got))
	}
	st, err := x.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Types) != 1 || st.Types[0].Events != 5 || st.Types[0].Aggregates != 2 {
		t.Errorf("stats = %+v", st.Types)
	}
	n, err := x.CountAfter(ctx, "")
	if err != nil || n != 5 {
		t.Errorf("CountAfter = %d, %v", n, err)
	}
}
