package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestAdminSchemaVersion(t *testing.T) {
	x := open(t)
	v, err := x.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v != (evento.SchemaVersion{Applied: latestSchema, Latest: latestSchema}) {
		t.Errorf("SchemaVersion = %+v, want applied and latest %d", v, latestSchema)
	}
}

func TestAdminSubscriptions(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	subs, err := x.Subscriptions(ctx)
	if err != nil || len(subs) != 0 {
		t.Fatalf("Subscriptions of an empty store = %v, %v", subs, err)
	}
	// "B" sorts before "a" byte by byte, whatever the database collation.
	for _, key := range []string{"b", "a", "B"} {
		if _, err := x.AcquireLease(ctx, key, "w-"+key, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	l, err := x.AcquireLease(ctx, "a", "w-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Acknowledge(ctx, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Tx: 7, Seq: 3}), Lag: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := x.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	subs, err = x.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 3 || subs[0].Key != "B" || subs[1].Key != "a" || subs[2].Key != "b" {
		t.Fatalf("Subscriptions = %+v, want B, a, b", subs)
	}
	a := subs[1]
	if a.Owner != "" || a.Epoch != 2 || !a.ExpiresAt.IsZero() || a.Lag != 2*time.Second ||
		a.Cursor != cursor.Encode(cursor.Position{Tx: 7, Seq: 3}) || a.UpdatedAt.IsZero() {
		t.Errorf("released subscription a = %+v", a)
	}
	b := subs[2]
	if b.Owner != "w-b" || b.Epoch != 1 || !b.ExpiresAt.After(time.Now()) || b.Cursor != "" || !b.UpdatedAt.IsZero() {
		t.Errorf("held subscription b = %+v", b)
	}
	// The list agrees with SubscriptionStatus.
	st, err := x.SubscriptionStatus(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if *st != *b {
		t.Errorf("SubscriptionStatus(b) = %+v, Subscriptions says %+v", st, b)
	}
}

func TestAdminStats(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	st, err := x.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Types) != 0 || st.Size <= 0 {
		t.Fatalf("Stats of an empty store = %+v", st)
	}
	empty := st.Size
	// Event names are "Event<version%3+1>": versions 1..4 give Event2,
	// Event3, Event1, Event2.
	mustAppend(t, x, newCommit("order", "o-1", 0, 4))
	mustAppend(t, x, newCommit("order", "o-2", 0, 1))
	mustAppend(t, x, newCommit("Cart", "c-1", 0, 2))
	st, err = x.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []evento.TypeStats{
		{AggregateType: "Cart", Aggregates: 1, Events: 2, Names: []evento.NameStats{{Name: "Event2", Events: 1}, {Name: "Event3", Events: 1}}},
		{AggregateType: "order", Aggregates: 2, Events: 5, Names: []evento.NameStats{
			{Name: "Event1", Events: 1}, {Name: "Event2", Events: 3}, {Name: "Event3", Events: 1}}},
	}
	if len(st.Types) != len(want) {
		t.Fatalf("Stats types = %+v, want %+v", st.Types, want)
	}
	for i, w := range want {
		g := st.Types[i]
		if g.AggregateType != w.AggregateType || g.Aggregates != w.Aggregates || g.Events != w.Events || len(g.Names) != len(w.Names) {
			t.Errorf("type %d = %+v, want %+v", i, g, w)
			continue
		}
		for j := range w.Names {
			if g.Names[j] != w.Names[j] {
				t.Errorf("type %s name %d = %+v, want %+v", w.AggregateType, j, g.Names[j], w.Names[j])
			}
		}
	}
	if st.Size < empty {
		t.Errorf("size %d after appends, %d before", st.Size, empty)
	}
}

func TestAdminCountAfter(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	n, err := x.CountAfter(ctx, "")
	if err != nil || n != 0 {
		t.Fatalf("CountAfter(empty store) = %d, %v", n, err)
	}
	mustAppend(t, x, newCommit("order", "o-1", 0, 3))
	mustAppend(t, x, newCommit("order", "o-2", 0, 2))
	events := readAll(t, x, evento.Query{})
	if len(events) != 5 {
		t.Fatalf("read %d events, want 5", len(events))
	}
	for i, want := range []int64{4, 3, 2, 1, 0} {
		n, err := x.CountAfter(ctx, events[i].Cursor())
		if err != nil || n != want {
			t.Errorf("CountAfter(event %d) = %d, %v; want %d", i, n, err, want)
		}
	}
	if n, err := x.CountAfter(ctx, ""); err != nil || n != 5 {
		t.Errorf("CountAfter(\"\") = %d, %v; want 5", n, err)
	}
	// A position without a transaction part is another store's.
	if _, err := x.CountAfter(ctx, cursor.Encode(cursor.Position{Seq: 3})); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("CountAfter(foreign cursor) = %v, want cursor.ErrInvalid", err)
	}
	if _, err := x.CountAfter(ctx, "garbage"); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("CountAfter(garbage) = %v, want cursor.ErrInvalid", err)
	}

	// Events above the horizon are not counted: a transaction that holds
	// a transaction id hides every later one from ordered reads.
	conn := connect(t)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("order", "o-3", 0, 2))
	if n, err := x.CountAfter(ctx, events[4].Cursor()); err != nil || n != 0 {
		t.Errorf("CountAfter while the horizon is held = %d, %v; want 0", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := x.CountAfter(ctx, events[4].Cursor()); err != nil || n != 2 {
		t.Errorf("CountAfter after the horizon moved = %d, %v; want 2", n, err)
	}
	if n, err := x.CountAfter(ctx, ""); err != nil || n != 7 {
		t.Errorf("CountAfter(\"\") = %d, %v; want 7", n, err)
	}
}

func TestAdminBreakLease(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	if _, err := x.BreakLease(ctx, "missing", "admin", time.Minute); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("BreakLease(missing) = %v, want ErrNotFound", err)
	}
	if _, err := x.BreakLease(ctx, "k", "", time.Minute); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("BreakLease without owner = %v, want ErrInvalidArgument", err)
	}
	mustAppend(t, x, newCommit("order", "o-1", 0, 2))
	events := readAll(t, x, evento.Query{})

	worker, err := x.AcquireLease(ctx, "k", "worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Acknowledge(ctx, worker, evento.Ack{Cursor: events[0].Cursor()}); err != nil {
		t.Fatal(err)
	}
	// The worker's lease is live: AcquireLease is refused, BreakLease is not.
	if _, err := x.AcquireLease(ctx, "k", "admin", time.Minute); !errors.Is(err, evento.ErrLeaseHeld) {
		t.Fatalf("AcquireLease of a held lease = %v, want ErrLeaseHeld", err)
	}
	before := time.Now()
	admin, err := x.BreakLease(ctx, "k", "admin", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Key != "k" || admin.Owner != "admin" || admin.Epoch != worker.Epoch+1 || admin.Cursor != events[0].Cursor() ||
		admin.ExpiresAt.Before(before.Add(50*time.Second)) || admin.ExpiresAt.After(time.Now().Add(70*time.Second)) {
		t.Errorf("BreakLease = %+v (worker had epoch %d)", admin, worker.Epoch)
	}
	// The old holder is fenced.
	if err := x.Acknowledge(ctx, worker, evento.Ack{Cursor: events[1].Cursor()}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("Acknowledge by the broken lease = %v, want ErrLeaseLost", err)
	}
	if err := x.RenewLease(ctx, worker, time.Minute); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("RenewLease by the broken lease = %v, want ErrLeaseLost", err)
	}
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "admin" || st.Epoch != admin.Epoch || st.Cursor != events[0].Cursor() {
		t.Errorf("status after the fenced writes = %+v", st)
	}
	// The new holder writes, and breaking again moves the epoch on.
	if err := x.Acknowledge(ctx, admin, evento.Ack{Cursor: ""}); err != nil {
		t.Fatal(err)
	}
	again, err := x.BreakLease(ctx, "k", "admin", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if again.Epoch != admin.Epoch+1 || again.Cursor != "" {
		t.Errorf("second BreakLease = %+v", again)
	}
	if err := x.Acknowledge(ctx, admin, evento.Ack{}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("Acknowledge by the first breaker = %v, want ErrLeaseLost", err)
	}
	if err := x.ReleaseLease(ctx, again); err != nil {
		t.Fatal(err)
	}
	// A released lease can be broken too, and is then held again.
	third, err := x.BreakLease(ctx, "k", "other", time.Minute)
	if err != nil || third.Epoch != again.Epoch+1 {
		t.Fatalf("BreakLease of a released lease = %+v, %v", third, err)
	}
	if _, err := x.AcquireLease(ctx, "k", "worker", time.Minute); !errors.Is(err, evento.ErrLeaseHeld) {
		t.Errorf("AcquireLease after BreakLease = %v, want ErrLeaseHeld", err)
	}
}

// ResetSubscription with force works through BreakLease.
func TestAdminForcedReset(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	mustAppend(t, x, newCommit("order", "o-1", 0, 3))
	events := readAll(t, x, evento.Query{})
	worker, err := x.AcquireLease(ctx, "k", "worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Acknowledge(ctx, worker, evento.Ack{Cursor: events[2].Cursor()}); err != nil {
		t.Fatal(err)
	}
	if err := evento.ResetSubscription(ctx, x, "k", "", false); !errors.Is(err, evento.ErrLeaseHeld) {
		t.Errorf("reset without force = %v, want ErrLeaseHeld", err)
	}
	if err := evento.ResetSubscription(ctx, x, "k", events[0].Cursor(), true); err != nil {
		t.Fatal(err)
	}
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if st.Cursor != events[0].Cursor() || st.Owner != "" {
		t.Errorf("status after the forced reset = %+v", st)
	}
	if n, err := x.CountAfter(ctx, st.Cursor); err != nil || n != 2 {
		t.Errorf("CountAfter(reset cursor) = %d, %v; want 2", n, err)
	}
	if err := x.Acknowledge(ctx, worker, evento.Ack{Cursor: events[2].Cursor()}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("Acknowledge by the worker after the reset = %v, want ErrLeaseLost", err)
	}
}
