package evento_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// lateAnswer wraps the SQLite executor so that its first lease acquisition
// waits until ctx ends, then takes the lease regardless and reports ctx's
// error: a store that committed the acquisition before it saw the
// cancellation.
type lateAnswer struct {
	*sqlite.Executor
	calls   atomic.Int32
	waiting chan struct{}
	// noWrite makes the first acquisition write nothing before it reports
	// ctx's end; failRelease makes every release fail.
	noWrite, failRelease bool
}

func (l *lateAnswer) ReleaseLease(ctx context.Context, lease *evento.Lease) error {
	if l.failRelease {
		return errors.New("release refused")
	}
	return l.Executor.ReleaseLease(ctx, lease)
}

func (l *lateAnswer) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if l.calls.Add(1) > 1 {
		return l.Executor.AcquireLease(ctx, key, owner, ttl)
	}
	close(l.waiting)
	<-ctx.Done()
	if l.noWrite {
		return nil, ctx.Err()
	}
	if _, err := l.Executor.AcquireLease(context.WithoutCancel(ctx), key, owner, ttl); err != nil {
		return nil, err
	}
	return nil, ctx.Err()
}

func newLateAnswer(t *testing.T) *lateAnswer {
	t.Helper()
	exec, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "late.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Close() })
	return &lateAnswer{Executor: exec, waiting: make(chan struct{})}
}

// checkReleased fails t unless the lease on key is free: a new worker's
// Execute must be able to take it at once.
func checkReleased(t *testing.T, exec *lateAnswer, key string) {
	t.Helper()
	st, err := exec.SubscriptionStatus(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "" {
		t.Fatalf("lease %s still held by %s until %s after the interrupted acquisition", key, st.Owner, st.ExpiresAt)
	}
	sub := evento.NewSubscription(key, evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error { return nil }))
	if err := sub.Execute(context.Background(), evento.New(exec)); err != nil {
		t.Fatal(err)
	}
}

// shutDownWhileAcquiring starts a worker of subscription "late" on exec
// and shuts it down while its first lease acquisition waits.
func shutDownWhileAcquiring(t *testing.T, exec *lateAnswer) {
	t.Helper()
	sub := evento.NewSubscription("late", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error { return nil })).
		LeaseTTL(time.Hour)
	w, err := sub.Start(context.Background(), evento.New(exec))
	if err != nil {
		t.Fatal(err)
	}
	<-exec.waiting
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownDuringAcquisitionReleasesLease(t *testing.T) {
	exec := newLateAnswer(t)
	shutDownWhileAcquiring(t, exec)
	checkReleased(t, exec, "late")
}

func TestCancelledExecuteReleasesLease(t *testing.T) {
	exec := newLateAnswer(t)
	sub := evento.NewSubscription("late", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error { return nil })).
		LeaseTTL(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-exec.waiting
		cancel()
	}()
	if err := sub.Execute(ctx, evento.New(exec)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled", err)
	}
	checkReleased(t, exec, "late")
}

// When the release after an interrupted acquisition fails, the lease left
// behind expires within seconds, not after the subscription's TTL.
func TestInterruptedAcquisitionLeavesShortLease(t *testing.T) {
	exec := newLateAnswer(t)
	exec.failRelease = true
	shutDownWhileAcquiring(t, exec)
	st, err := exec.SubscriptionStatus(context.Background(), "late")
	if err != nil {
		t.Fatal(err)
	}
	if limit := time.Now().Add(15 * time.Second); st.ExpiresAt.After(limit) {
		t.Errorf("lease left by the interrupted acquisition expires at %s, after %s", st.ExpiresAt, limit)
	}
}

// A reset cancelled during its acquisition leaves a lease held by anyone
// else alone, another reset's included.
func TestCancelledResetLeavesOthersLease(t *testing.T) {
	exec := newLateAnswer(t)
	exec.noWrite = true
	ctx := context.Background()
	st := evento.New(exec)
	if _, err := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := exec.Executor.AcquireLease(ctx, "late", evento.ResetOwner+"/other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		<-exec.waiting
		cancel()
	}()
	if err := evento.ResetSubscription(rctx, exec, "late", "", false); !errors.Is(err, context.Canceled) {
		t.Fatalf("ResetSubscription = %v, want context.Canceled", err)
	}
	got, err := exec.SubscriptionStatus(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != held.Owner || got.Epoch != held.Epoch {
		t.Errorf("after the cancelled reset the lease is %s at epoch %d, want %s at epoch %d", got.Owner, got.Epoch, held.Owner, held.Epoch)
	}
	if err := exec.Executor.Acknowledge(ctx, held, evento.Ack{}); err != nil {
		t.Errorf("the holder's acknowledgement after the cancelled reset: %v", err)
	}
}
