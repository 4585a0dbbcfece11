package evtest

import (
	"sync"
	"testing"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

var conflictScenarios = []scenario{
	{"SameExpectedVersion", testConflictSameExpectedVersion},
	{"CreateWithIDTwice", testConflictCreateWithIDTwice},
	{"StaleAndFutureVersions", testConflictStaleAndFuture},
	{"RetrySameBuilder", testConflictRetrySameBuilder},
	{"AtomicCommit", testConflictAtomicCommit},
	{"SharedStorage", testConflictSharedStorage},
}

// race commits one event to aggregate id from each store at once, all
// expecting version expected, and returns the event ids and errors.
func race(t *testing.T, stores []*evento.Store, id string, expected int64) ([]ulid.ULID, []error) {
	t.Helper()
	ids := make([]ulid.ULID, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, st := range stores {
		ids[i] = ulid.Make()
		b := st.Aggregate(id, expected).EventWithID(ids[i], incremented{By: 1, Writer: i})
		wg.Go(func() {
			<-start
			_, errs[i] = b.Commit(t.Context())
		})
	}
	close(start)
	wg.Wait()
	return ids, errs
}

// checkOneWinner checks that exactly one of a race's commits is stored and
// the others failed with ErrVersionConflict.
func checkOneWinner(t *testing.T, st *evento.Store, id string, ids []ulid.ULID, errs []error, version int64) {
	t.Helper()
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			continue
		}
		wantErr(t, "losing commit", err, evento.ErrVersionConflict)
		for _, e := range readAll(t, st, evento.Query{}) {
			if e.ID == ids[i] {
				t.Errorf("the losing commit's event %s is stored", ids[i])
			}
		}
	}
	if winners != 1 {
		t.Errorf("%d commits expecting the same version succeeded, want exactly 1 (errors %v)", winners, errs)
	}
	checkVersions(t, readAggregate(t, st, counterType, id), int(version))
}

func testConflictSameExpectedVersion(t *testing.T, h *harness) {
	st, _ := h.open(t)
	increments(t, st, "c", 0, 1)
	for round := range 5 {
		ids, errs := race(t, []*evento.Store{st, st, st}, "c", int64(round+1))
		checkOneWinner(t, st, "c", ids, errs, int64(round+2))
	}
	// Sequentially, the second commit on the same version loses too.
	must(st.Aggregate("c", 6).Event(incremented{By: 1}).Commit(t.Context()))(t)
	_, err := st.Aggregate("c", 6).Event(incremented{By: 1}).Commit(t.Context())
	wantErr(t, "second commit on the same version", err, evento.ErrVersionConflict)
	checkVersions(t, readAggregate(t, st, counterType, "c"), 7)
}

func testConflictCreateWithIDTwice(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	must(st.CreateWithID("acct-1").Event(incremented{By: 1}).Commit(ctx))(t)
	_, err := st.CreateWithID("acct-1").Event(incremented{By: 2}).Commit(ctx)
	wantErr(t, "CreateWithID of an existing id", err, evento.ErrVersionConflict)
	// The same id under another aggregate type is another aggregate.
	must(st.CreateWithID("acct-1").Event(noteWritten{Text: "x"}).Commit(ctx))(t)
	checkVersions(t, readAggregate(t, st, counterType, "acct-1"), 1)
	checkVersions(t, readAggregate(t, st, noteType, "acct-1"), 1)

	// Racing creators of one id: exactly one wins.
	ids, errs := race(t, []*evento.Store{st, st, st, st}, "acct-2", 0)
	checkOneWinner(t, st, "acct-2", ids, errs, 1)
}

func testConflictStaleAndFuture(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	increments(t, st, "c", 0, 3)
	for _, expected := range []int64{0, 1, 2, 4, 1 << 31, 1 << 40} {
		_, err := st.Aggregate("c", expected).Event(incremented{By: 1}).Commit(ctx)
		wantErr(t, "commit on a wrong version", err, evento.ErrVersionConflict)
	}
	_, err := st.Aggregate("missing", 1).Event(incremented{By: 1}).Commit(ctx)
	wantErr(t, "commit expecting version 1 of a missing aggregate", err, evento.ErrVersionConflict)
	checkVersions(t, readAggregate(t, st, counterType, "c"), 3)
	if n := len(readAll(t, st, evento.Query{})); n != 3 {
		t.Errorf("store holds %d events, want 3", n)
	}
}

// testConflictRetrySameBuilder retries a Commit whose first attempt
// succeeded, as a caller does after a timeout: nothing is stored twice.
func testConflictRetrySameBuilder(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	b := st.CreateWithID("c").Event(incremented{By: 1}).Event(incremented{By: 2})
	must(b.Commit(ctx))(t)
	_, err := b.Commit(ctx)
	wantErr(t, "retry of a stored commit", err, evento.ErrAlreadyAppended)

	// Even after another writer moved the aggregate on, the retry is
	// recognised as already stored, not as a conflict.
	next := st.Aggregate("c", 2).Event(incremented{By: 3})
	must(next.Commit(ctx))(t)
	increments(t, st, "c", 3, 1)
	_, err = b.Commit(ctx)
	wantErr(t, "retry of a stored commit after later commits", err, evento.ErrAlreadyAppended)
	_, err = next.Commit(ctx)
	wantErr(t, "retry of a later stored commit", err, evento.ErrAlreadyAppended)

	events := readAggregate(t, st, counterType, "c")
	checkVersions(t, events, 4)
	if n := len(readAll(t, st, evento.Query{})); n != 4 {
		t.Errorf("store holds %d events, want 4", n)
	}
}

// testConflictAtomicCommit checks that a failing commit of several events
// stores none of them.
func testConflictAtomicCommit(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	stored := appendRaw(t, exec, noteType, "n", 0, "", "A", "B")

	c := &evento.Commit{AggregateType: noteType, AggregateID: "n", ExpectedVersion: 1, Events: rawEvents(noteType, "n", 1, "C", "D", "E")}
	wantErr(t, "commit of 3 events on a stale version", exec.Append(ctx, c), evento.ErrVersionConflict)

	// A new aggregate whose second event reuses a stored event id: ids are
	// unique across the store, so the commit fails, and its first event is
	// not stored either.
	c = &evento.Commit{AggregateType: noteType, AggregateID: "m", Events: rawEvents(noteType, "m", 0, "X", "Y")}
	c.Events[1].ID = stored[0].ID
	if err := exec.Append(ctx, c); err == nil {
		t.Error("commit reusing a stored event id succeeded")
	}
	sameEvents(t, "store after the failed commits", readAll(t, st, evento.Query{}), stored)
}

// testConflictSharedStorage races two executors over the same storage, as
// two processes would.
func testConflictSharedStorage(t *testing.T, h *harness) {
	a, b := h.shared(t)
	sa, sb := evento.New(a), evento.New(b)
	increments(t, sa, "c", 0, 1)
	for round := range 10 {
		ids, errs := race(t, []*evento.Store{sa, sb}, "c", int64(round+1))
		checkOneWinner(t, sb, "c", ids, errs, int64(round+2))
	}
	sameEvents(t, "both executors read the same log", readAll(t, sa, evento.Query{}), readAll(t, sb, evento.Query{}))
}
