package evtest

import (
	"bytes"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/examples/bank/bank"
)

var snapshotScenarios = []scenario{
	{"ReplayOnlyNewEvents", testSnapshotReplayOnlyNew},
	{"NewRevisionRebuilds", testSnapshotNewRevision},
	{"SeveralAggregates", testSnapshotSeveralAggregates},
	{"ExecutorStore", testSnapshotExecutorStore},
}

// deposits commits n deposits of 1 to an account and returns its version.
func deposits(t *testing.T, st *evento.Store, id string, version int64, n int) int64 {
	t.Helper()
	if n == 0 {
		return version
	}
	b := st.Aggregate(id, version)
	for range n {
		b.Event(bank.MoneyDeposited{Amount: 1})
	}
	return must(b.Commit(t.Context()))(t).Version
}

// openAccount commits an AccountOpened with balance 100 and n deposits.
func openAccount(t *testing.T, st *evento.Store, n int) (string, int64) {
	t.Helper()
	res := must(st.Create().Event(bank.AccountOpened{OwnerID: "o", Currency: "EUR", InitialBalance: 100}).Commit(t.Context()))(t)
	return res.AggregateID, deposits(t, st, res.AggregateID, res.Version, n)
}

// checkLoad compares a load with a fresh load without snapshots.
func checkLoad(t *testing.T, what string, st *evento.Store, id string, l *evento.Loaded[bank.Account], fromSnapshot bool, replayed int) {
	t.Helper()
	fresh := must(bank.AccountProjection().Load(t.Context(), st, id))(t)
	if l.FromSnapshot != fromSnapshot || l.Replayed != replayed {
		t.Errorf("%s: FromSnapshot %v, replayed %d; want %v, %d", what, l.FromSnapshot, l.Replayed, fromSnapshot, replayed)
	}
	if l.State != fresh.State || l.Version != fresh.Version || l.Cursor != fresh.Cursor {
		t.Errorf("%s: state %+v at version %d cursor %q; a load without snapshot gives %+v at %d cursor %q",
			what, l.State, l.Version, l.Cursor, fresh.State, fresh.Version, fresh.Cursor)
	}
}

func testSnapshotReplayOnlyNew(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	id, version := openAccount(t, st, 9)
	p := bank.AccountProjection().Snapshot("v1", 5)

	checkLoad(t, "first load", st, id, must(p.Load(ctx, st, id))(t), false, 10)
	snap := must(exec.LoadSnapshot(ctx, evento.SnapshotKey{AggregateType: bank.AccountType, Revision: "v1", AggregateID: id}))(t)
	if snap.Version != 10 || snap.Cursor != cursorOf(t, readAggregate(t, st, bank.AccountType, id)[9]) {
		t.Errorf("saved snapshot at version %d cursor %q, want version 10 at the last event's cursor", snap.Version, snap.Cursor)
	}

	version = deposits(t, st, id, version, 3)
	checkLoad(t, "load after 3 more events", st, id, must(p.Load(ctx, st, id))(t), true, 3)
	// Fewer than 5 events were replayed, so the snapshot was not moved.
	checkLoad(t, "load again", st, id, must(p.Load(ctx, st, id))(t), true, 3)

	deposits(t, st, id, version, 6)
	checkLoad(t, "load after 6 more events", st, id, must(p.Load(ctx, st, id))(t), true, 9)
	checkLoad(t, "load after the snapshot moved", st, id, must(p.Load(ctx, st, id))(t), true, 0)
	if l := must(p.Load(ctx, st, id))(t); l.State.Balance != 118 || l.Version != 19 {
		t.Errorf("final load = balance %d at version %d, want 118 at 19", l.State.Balance, l.Version)
	}
}

func testSnapshotNewRevision(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	id, version := openAccount(t, st, 9)
	must(bank.AccountProjection().Snapshot("v1", 1).Load(ctx, st, id))(t)
	deposits(t, st, id, version, 2)

	v2 := bank.AccountProjection().Snapshot("v2", 1)
	checkLoad(t, "first load of a new revision", st, id, must(v2.Load(ctx, st, id))(t), false, 12)
	checkLoad(t, "second load of the new revision", st, id, must(v2.Load(ctx, st, id))(t), true, 0)
	checkLoad(t, "old revision is untouched", st, id, must(bank.AccountProjection().Snapshot("v1", 100).Load(ctx, st, id))(t), true, 2)

	other, _ := openAccount(t, st, 0)
	checkLoad(t, "another aggregate has its own snapshot", st, other, must(v2.Load(ctx, st, other))(t), false, 1)
}

// testSnapshotSeveralAggregates snapshots an account with its owner and
// checks that the owner's later events are replayed on top.
func testSnapshotSeveralAggregates(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	owner := must(st.Create().Event(bank.OwnerRegistered{Name: "Ada"}).Commit(ctx))(t)
	acct := must(st.Create().Event(bank.AccountOpened{OwnerID: owner.AggregateID, Currency: "EUR"}).Commit(ctx))(t)
	ref := evento.Ref{AggregateType: bank.OwnerType, AggregateID: owner.AggregateID}
	p := bank.AccountWithOwnerProjection().Snapshot("v1", 1)
	if l := must(p.Load(ctx, st, acct.AggregateID, ref))(t); l.FromSnapshot || l.Replayed != 2 {
		t.Fatalf("first load: FromSnapshot %v, replayed %d; want false, 2", l.FromSnapshot, l.Replayed)
	}
	must(st.Aggregate(owner.AggregateID, owner.Version).Event(bank.OwnerNameChanged{Name: "Ada K"}).Commit(ctx))(t)
	l := must(p.Load(ctx, st, acct.AggregateID, ref))(t)
	if !l.FromSnapshot || l.Replayed != 1 || l.State.Owner.Name != "Ada K" || l.Version != 1 {
		t.Errorf("load after rename: FromSnapshot %v, replayed %d, owner %q, version %d; want true, 1, Ada K, 1",
			l.FromSnapshot, l.Replayed, l.State.Owner.Name, l.Version)
	}
	// Without the related aggregate the snapshot key differs.
	if l := must(bank.AccountProjection().Snapshot("v1", 1).Load(ctx, st, acct.AggregateID))(t); l.FromSnapshot {
		t.Error("an account-only load started from the account-with-owner snapshot")
	}
}

// testSnapshotExecutorStore checks the executor's snapshot storage directly.
func testSnapshotExecutorStore(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	c1 := increments(t, st, "c", 0, 2)
	key := evento.SnapshotKey{AggregateType: counterType, Revision: "r1", AggregateID: "c"}
	_, err := exec.LoadSnapshot(ctx, key)
	wantErr(t, "LoadSnapshot before any save", err, evento.ErrNotFound)

	all := readAll(t, st, evento.Query{})
	noErr(t, exec.SaveSnapshot(ctx, &evento.Snapshot{Key: key, Data: []byte{1, 0, 2}, Version: 1, Cursor: cursorOf(t, all[0])}))
	noErr(t, exec.SaveSnapshot(ctx, &evento.Snapshot{Key: key, Data: []byte{3, 0, 4}, Version: c1.Version, Cursor: cursorOf(t, all[1])}))
	got := must(exec.LoadSnapshot(ctx, key))(t)
	if got.Key != key || !bytes.Equal(got.Data, []byte{3, 0, 4}) || got.Version != 2 || got.Cursor != cursorOf(t, all[1]) || got.UpdatedAt.IsZero() {
		t.Errorf("LoadSnapshot = %+v, want the second save with UpdatedAt set", got)
	}
	for _, other := range []evento.SnapshotKey{
		{AggregateType: counterType, Revision: "r2", AggregateID: "c"},
		{AggregateType: counterType, Revision: "r1", AggregateID: "d"},
		{AggregateType: noteType, Revision: "r1", AggregateID: "c"},
	} {
		_, err := exec.LoadSnapshot(ctx, other)
		wantErr(t, "LoadSnapshot of another key", err, evento.ErrNotFound)
	}
}
