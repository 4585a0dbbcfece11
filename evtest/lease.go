package evtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

var leaseScenarios = []scenario{
	{"AcquireRenewRelease", testLeaseAcquireRenewRelease},
	{"TakeoverAfterExpiry", testLeaseTakeoverAfterExpiry},
	{"FencedStaleWorker", testLeaseFencedStaleWorker},
	{"ReacquireByOwner", testLeaseReacquireByOwner},
	{"ExecuteWhileHeld", testLeaseExecuteWhileHeld},
	{"ShutdownReleases", func(t *testing.T, h *harness) {
		st, _ := h.open(t)
		testLeaseShutdownReleases(t, h, st, st)
	}},
	{"ShutdownReleasesAcrossExecutors", func(t *testing.T, h *harness) {
		a, b := h.shared(t)
		testLeaseShutdownReleases(t, h, evento.New(a), evento.New(b))
	}},
	{"WorkersExclusive", func(t *testing.T, h *harness) {
		st, _ := h.open(t)
		testLeaseWorkersExclusive(t, h, st, st)
	}},
	{"WorkersExclusiveAcrossExecutors", func(t *testing.T, h *harness) {
		a, b := h.shared(t)
		testLeaseWorkersExclusive(t, h, evento.New(a), evento.New(b))
	}},
}

// waitPast sleeps until t is comfortably in the past.
func waitPast(t time.Time) { time.Sleep(time.Until(t) + 300*time.Millisecond) }

// wantHeld checks that owner cannot take key while holder's lease is
// unexpired. Should the machine stall past the holder's expiry before the
// attempt, the check proves nothing and the scenario is skipped rather than
// failed.
func wantHeld(t *testing.T, exec evento.Executor, key, owner string, holder *evento.Lease) {
	t.Helper()
	start := time.Now()
	_, err := exec.AcquireLease(t.Context(), key, owner, time.Minute)
	if err == nil && !start.Before(holder.ExpiresAt) {
		t.Skipf("the machine stalled past the lease's expiry (%v) before the check", holder.ExpiresAt)
	}
	wantErr(t, "acquire a lease another owner holds", err, evento.ErrLeaseHeld)
}

func testLeaseAcquireRenewRelease(t *testing.T, h *harness) {
	ctx := t.Context()
	_, exec := h.open(t)
	_, err := exec.SubscriptionStatus(ctx, "never")
	wantErr(t, "status of an unknown key", err, evento.ErrNotFound)

	before := time.Now()
	l := must(exec.AcquireLease(ctx, "k", "a", time.Second))(t)
	if l.Key != "k" || l.Owner != "a" || l.Epoch < 1 || l.Cursor != "" || l.ExpiresAt.Before(before) {
		t.Fatalf("first lease = %+v, want key k, owner a, an epoch, no cursor, expiring after now", l)
	}
	status := must(exec.SubscriptionStatus(ctx, "k"))(t)
	if status.Owner != "a" || status.Epoch != l.Epoch || status.Cursor != "" || status.ExpiresAt.Before(before) {
		t.Errorf("status = %+v, want owner a at epoch %d", status, l.Epoch)
	}
	wantHeld(t, exec, "k", "b", l)
	if _, err := exec.AcquireLease(ctx, "other-key", "b", time.Minute); err != nil {
		t.Errorf("acquire another key: %v", err)
	}

	// Renewing moves the expiry: past the first TTL the lease still holds.
	first := l.ExpiresAt
	noErr(t, exec.RenewLease(ctx, l, time.Hour))
	if !l.ExpiresAt.After(first) {
		t.Errorf("RenewLease left ExpiresAt at %v, was %v", l.ExpiresAt, first)
	}
	waitPast(first)
	_, err = exec.AcquireLease(ctx, "k", "b", time.Minute)
	wantErr(t, "acquire a renewed lease after its first expiry", err, evento.ErrLeaseHeld)
	if status := must(exec.SubscriptionStatus(ctx, "k"))(t); status.ExpiresAt.Before(time.Now().Add(30 * time.Minute)) {
		t.Errorf("status after renewing for an hour expires at %v", status.ExpiresAt)
	}

	ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 7}), Lag: 1500 * time.Millisecond}
	noErr(t, exec.Acknowledge(ctx, l, ack))
	status = must(exec.SubscriptionStatus(ctx, "k"))(t)
	if status.Cursor != ack.Cursor || (status.Lag-ack.Lag).Abs() > time.Millisecond || status.UpdatedAt.IsZero() {
		t.Errorf("status after Acknowledge = %+v, want cursor %q, lag %v, UpdatedAt set", status, ack.Cursor, ack.Lag)
	}

	noErr(t, exec.ReleaseLease(ctx, l))
	status = must(exec.SubscriptionStatus(ctx, "k"))(t)
	if status.Owner != "" || !status.ExpiresAt.IsZero() || status.Cursor != ack.Cursor {
		t.Errorf("status after release = %+v, want no owner, no expiry, the cursor kept", status)
	}
	wantErr(t, "renew a released lease", exec.RenewLease(ctx, l, time.Minute), evento.ErrLeaseLost)
	noErr(t, exec.ReleaseLease(ctx, l))

	// A released lease is free at once, and the cursor comes with it.
	l2 := must(exec.AcquireLease(ctx, "k", "b", time.Minute))(t)
	if l2.Epoch != l.Epoch+1 || l2.Cursor != ack.Cursor || l2.Owner != "b" {
		t.Errorf("lease after release = %+v, want owner b, epoch %d, cursor %q", l2, l.Epoch+1, ack.Cursor)
	}
}

func testLeaseTakeoverAfterExpiry(t *testing.T, h *harness) {
	ctx := t.Context()
	_, exec := h.open(t)
	old := must(exec.AcquireLease(ctx, "k", "a", time.Second))(t)
	wantHeld(t, exec, "k", "b", old)
	waitPast(old.ExpiresAt)
	l := must(exec.AcquireLease(ctx, "k", "b", time.Minute))(t)
	if l.Epoch != old.Epoch+1 || l.Owner != "b" {
		t.Errorf("lease after expiry = %+v, want owner b at epoch %d", l, old.Epoch+1)
	}
	wantErr(t, "renew the expired lease", exec.RenewLease(ctx, old, time.Minute), evento.ErrLeaseLost)
	_, err := exec.AcquireLease(ctx, "k", "a", time.Minute)
	wantErr(t, "old owner acquires the new owner's lease", err, evento.ErrLeaseHeld)
	noErr(t, exec.ReleaseLease(ctx, old))
	if status := must(exec.SubscriptionStatus(ctx, "k"))(t); status.Owner != "b" || status.Epoch != l.Epoch {
		t.Errorf("releasing a lost lease changed the status to %+v", status)
	}
}

// testLeaseFencedStaleWorker checks that a worker whose lease expired and
// was taken over cannot move the cursor.
func testLeaseFencedStaleWorker(t *testing.T, h *harness) {
	ctx := t.Context()
	_, exec := h.open(t)
	c := func(n uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: n}) }
	old := must(exec.AcquireLease(ctx, "k", "a", 200*time.Millisecond))(t)
	noErr(t, exec.Acknowledge(ctx, old, evento.Ack{Cursor: c(1)}))
	waitPast(old.ExpiresAt)

	l := must(exec.AcquireLease(ctx, "k", "b", time.Minute))(t)
	if l.Cursor != c(1) {
		t.Errorf("successor's lease cursor = %q, want %q", l.Cursor, c(1))
	}
	noErr(t, exec.Acknowledge(ctx, l, evento.Ack{Cursor: c(2)}))
	wantErr(t, "stale worker acknowledges", exec.Acknowledge(ctx, old, evento.Ack{Cursor: c(9)}), evento.ErrLeaseLost)
	status := must(exec.SubscriptionStatus(ctx, "k"))(t)
	if status.Cursor != c(2) || status.Owner != "b" || status.Epoch != l.Epoch {
		t.Errorf("status after the stale ack = %+v, want b's cursor %q at epoch %d", status, c(2), l.Epoch)
	}
}

func testLeaseReacquireByOwner(t *testing.T, h *harness) {
	ctx := t.Context()
	_, exec := h.open(t)
	first := must(exec.AcquireLease(ctx, "k", "a", time.Minute))(t)
	second := must(exec.AcquireLease(ctx, "k", "a", time.Minute))(t)
	if second.Epoch != first.Epoch+1 {
		t.Errorf("reacquired epoch = %d, want %d", second.Epoch, first.Epoch+1)
	}
	ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 3})}
	wantErr(t, "ack with the superseded lease", exec.Acknowledge(ctx, first, ack), evento.ErrLeaseLost)
	noErr(t, exec.Acknowledge(ctx, second, ack))
}

func testLeaseExecuteWhileHeld(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 2)
	held := must(exec.AcquireLease(ctx, "busy", "someone-else", time.Minute))(t)
	var rec recorder
	err := evento.NewSubscription("busy", rec.handlers()...).Execute(ctx, st)
	wantErr(t, "Execute while another worker holds the lease", err, evento.ErrLeaseHeld)
	if rec.len() != 0 {
		t.Errorf("Execute without the lease handled %d events", rec.len())
	}
	noErr(t, exec.ReleaseLease(ctx, held))
	noErr(t, evento.NewSubscription("busy", rec.handlers()...).Execute(ctx, st))
	if rec.len() != 2 {
		t.Errorf("Execute after the release handled %d events, want 2", rec.len())
	}
}

// testLeaseShutdownReleases starts a worker on a and a standby on b, both
// with leases of a minute, and checks that shutting the first down hands
// over at once: only the release can explain a takeover before the minute.
func testLeaseShutdownReleases(t *testing.T, h *harness, a, b *evento.Store) {
	var first, second recorder
	sub := func(rec *recorder) *evento.Subscription {
		return evento.NewSubscription("handover", rec.handlers()...).
			LeaseTTL(time.Minute).PollInterval(50 * time.Millisecond)
	}
	w1 := startAndWait(t, a, sub(&first))
	increments(t, a, "c", 0, 1)
	waitFor(t, h.f.Timeout, "the first worker to take the first event", func() bool { return first.len() == 1 })
	w2 := startAndWait(t, b, sub(&second))
	increments(t, a, "c", 1, 1)
	waitFor(t, h.f.Timeout, "the first worker to take the second event", func() bool { return first.len() == 2 })

	shutdown(t, h, w1)
	increments(t, a, "c", 2, 1)
	waitFor(t, 30*time.Second, "the standby worker to take over after a shutdown (lease TTL 1 minute)",
		func() bool { return second.len() == 1 })
	shutdown(t, h, w2)
	full := readAll(t, a, evento.Query{})
	sameEvents(t, "first worker", first.all(), full[:2])
	sameEvents(t, "standby worker", second.all(), full[2:])
}

// raise sets a to n if n is larger.
func raise(a *atomic.Int32, n int32) {
	for m := a.Load(); n > m; m = a.Load() {
		if a.CompareAndSwap(m, n) {
			return
		}
	}
}

// testLeaseWorkersExclusive runs workers with the same key on a and b,
// shutting down the active one twice so that the lease changes hands, and
// checks that no two handlers ever ran at once and every event was handled
// exactly once, in order.
func testLeaseWorkersExclusive(t *testing.T, h *harness, a, b *evento.Store) {
	const total = 60
	var (
		inflight, maxInflight atomic.Int32
		active                atomic.Int32 // index of the worker that handled last
		rec                   recorder
		mu                    sync.Mutex
		workers               []*evento.Worker
	)
	start := func(st *evento.Store) {
		mu.Lock()
		defer mu.Unlock()
		i := int32(len(workers))
		sub := evento.NewSubscription("exclusive", evento.On(func(_ context.Context, ev evento.Typed[incremented]) error {
			raise(&maxInflight, inflight.Add(1))
			defer inflight.Add(-1)
			active.Store(i)
			time.Sleep(2 * time.Millisecond)
			rec.add(ev.Event)
			return nil
		})).LeaseTTL(time.Minute).PollInterval(20 * time.Millisecond).ChunkSize(4)
		workers = append(workers, startAndWait(t, st, sub))
	}
	start(a)
	start(b)
	var version int64
	appendSome := func(n int) {
		for range n {
			version = increments(t, a, "c", version, 1).Version
		}
	}
	for _, next := range []*evento.Store{a, b} {
		appendSome(total / 3)
		handled := int(version) * 2 / 3
		waitFor(t, h.f.Timeout, "events to be handled", func() bool { return rec.len() >= handled })
		mu.Lock()
		w := workers[active.Load()]
		mu.Unlock()
		shutdown(t, h, w)
		start(next)
	}
	appendSome(total - int(version))
	waitFor(t, h.f.Timeout, "every event to be handled", func() bool { return rec.len() >= total })
	for _, w := range workers {
		shutdown(t, h, w)
	}
	if m := maxInflight.Load(); m != 1 {
		t.Errorf("%d handlers of one subscription key ran at once, want at most 1", m)
	}
	sameEvents(t, "events handled across the handovers", rec.all(), readAll(t, a, evento.Query{}))
}
