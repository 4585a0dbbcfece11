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
	{"CreateOutcomes", testConflictCreateOutcomes},
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

// testConflictCreateOutcomes checks the outcomes of commits that create
// their aggregate (expected version 0), which a store may write without
// reading the aggregate's version first: the version check still comes
// before the check of event ids, and a retry is still recognised. The
// events these commits run into are stored through another executor when
// the store shares its storage, so that only the storage knows them.
func testConflictCreateOutcomes(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	writer := exec
	if h.f.Shared != nil {
		exec, writer = h.shared(t)
		st = evento.New(exec)
	}
	a := appendRaw(t, writer, noteType, "a", 0, "eu", "A1", "A2")
	b := appendRaw(t, writer, noteType, "b", 0, "", "B1")

	// a exists: a commit creating it is a conflict, even with an event id
	// that another aggregate holds.
	c := &evento.Commit{AggregateType: noteType, AggregateID: "a", Events: rawEvents(noteType, "a", 0, "X")}
	c.Events[0].ID = b[0].ID
	wantErr(t, "creating an existing aggregate with another aggregate's event id", exec.Append(ctx, c), evento.ErrVersionConflict)
	c = &evento.Commit{AggregateType: noteType, AggregateID: "a", Events: rawEvents(noteType, "a", 0, "X", "Y")}
	wantErr(t, "creating an existing aggregate", exec.Append(ctx, c), evento.ErrVersionConflict)

	// A retry of a's first commit, from its first event or from the whole.
	c = &evento.Commit{AggregateType: noteType, AggregateID: "a", RoutingKey: "eu", Events: rawEvents(noteType, "a", 0, "A1", "A2")}
	c.Events[0].ID, c.Events[1].ID = a[0].ID, a[1].ID
	wantErr(t, "a retry of the commit that created the aggregate", exec.Append(ctx, c), evento.ErrAlreadyAppended)

	// A new aggregate whose first event id is taken: the id's owner is
	// named, nothing is stored.
	c = &evento.Commit{AggregateType: noteType, AggregateID: "n", Events: rawEvents(noteType, "n", 0, "N1", "N2")}
	c.Events[0].ID = a[1].ID
	wantErr(t, "creating an aggregate with a taken event id", exec.Append(ctx, c), evento.ErrInvalidArgument)
	c = &evento.Commit{AggregateType: noteType, AggregateID: "n", Events: rawEvents(noteType, "n", 0, "N1", "N2", "N3")}
	c.Events[2].ID = b[0].ID
	wantErr(t, "creating an aggregate with a taken id for its third event", exec.Append(ctx, c), evento.ErrInvalidArgument)
	c = &evento.Commit{AggregateType: noteType, AggregateID: "a", Events: rawEvents(noteType, "a", 0, "X", "Y")}
	c.Events[1].ID = b[0].ID
	wantErr(t, "creating an existing aggregate with a taken id for its second event", exec.Append(ctx, c), evento.ErrVersionConflict)
	// Aggregate by aggregate: a store may show a reader of the whole log
	// the events of other executors, or of other transactions still
	// running, only later (PostgreSQL's horizon).
	sameEvents(t, "a after the refused commits", readAggregate(t, st, noteType, "a"), a)
	sameEvents(t, "b after the refused commits", readAggregate(t, st, noteType, "b"), b)
	sameEvents(t, "n after the refused commits", readAggregate(t, st, noteType, "n"), nil)

	// The existing aggregate keeps its first routing key.
	appendRaw(t, exec, noteType, "a", 2, "us", "A3")
	for _, e := range readAggregate(t, st, noteType, "a") {
		if e.RoutingKey != "eu" {
			t.Errorf("a v%d: routing key %q, want eu", e.Version, e.RoutingKey)
		}
	}

	// The new aggregate, created at last, keeps its own routing key.
	n := appendRaw(t, exec, noteType, "n", 0, "us", "N1", "N2")
	for _, e := range readAggregate(t, st, noteType, "n") {
		if e.RoutingKey != "us" {
			t.Errorf("n v%d: routing key %q, want us", e.Version, e.RoutingKey)
		}
	}
	if len(n) != 2 {
		t.Fatalf("created n with %d events", len(n))
	}
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
