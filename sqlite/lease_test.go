package sqlite_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestLeaseLifecycle(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	const key = "projector"

	if _, err := x.SubscriptionStatus(ctx, key); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("status before any lease: err = %v, want ErrNotFound", err)
	}
	a, err := x.AcquireLease(ctx, key, "worker-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.Epoch != 1 || a.Cursor != "" || a.Owner != "worker-a" || time.Until(a.ExpiresAt) < 50*time.Second {
		t.Fatalf("first lease = %+v, want epoch 1, empty cursor, expiring in a minute", a)
	}

	_, err = x.AcquireLease(ctx, key, "worker-b", time.Minute)
	if !errors.Is(err, evento.ErrLeaseHeld) || !strings.Contains(err.Error(), "worker-a") {
		t.Fatalf("acquire of a held lease: err = %v, want ErrLeaseHeld naming worker-a", err)
	}

	c1 := cursor.Encode(cursor.Position{Seq: 10})
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: c1, Lag: 1500 * time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	st, err := x.SubscriptionStatus(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "worker-a" || st.Epoch != 1 || st.Cursor != c1 || st.Lag != 1500*time.Microsecond ||
		st.UpdatedAt.IsZero() || !st.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("status = %+v, want worker-a at epoch 1 with cursor %s, lag 1.5ms, expiry unchanged by the ack", st, c1)
	}

	before := a.ExpiresAt
	time.Sleep(time.Millisecond)
	if err := x.RenewLease(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !a.ExpiresAt.After(before) {
		t.Errorf("renew: ExpiresAt %v not after %v", a.ExpiresAt, before)
	}

	// The owner may take its own lease again; that bumps the epoch and
	// fences the older handle.
	again, err := x.AcquireLease(ctx, key, "worker-a", time.Minute)
	if err != nil || again.Epoch != 2 || again.Cursor != c1 {
		t.Fatalf("re-acquire by the owner = %+v, %v; want epoch 2 with cursor %s", again, err, c1)
	}
	if err := x.RenewLease(ctx, a, time.Minute); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("renew of the superseded handle: err = %v, want ErrLeaseLost", err)
	}

	if err := x.ReleaseLease(ctx, again); err != nil {
		t.Fatal(err)
	}
	st, err = x.SubscriptionStatus(ctx, key)
	if err != nil || st.Owner != "" || !st.ExpiresAt.IsZero() || st.Cursor != c1 {
		t.Fatalf("status after release = %+v, %v; want no owner, no expiry, cursor kept", st, err)
	}
	if err := x.ReleaseLease(ctx, again); err != nil {
		t.Errorf("second release: %v, want nil", err)
	}
	if err := x.Acknowledge(ctx, again, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 99})}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("ack after release: err = %v, want ErrLeaseLost", err)
	}

	b, err := x.AcquireLease(ctx, key, "worker-b", time.Minute)
	if err != nil || b.Epoch != 3 || b.Cursor != c1 {
		t.Fatalf("acquire after release = %+v, %v; want epoch 3 with cursor %s", b, err, c1)
	}
}

func TestLeaseExpiryTakeoverFencesStaleWorker(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	const key = "mailer"
	c1 := cursor.Encode(cursor.Position{Seq: 5})
	c2 := cursor.Encode(cursor.Position{Seq: 6})

	a, err := x.AcquireLease(ctx, key, "worker-a", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: c1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond) // worker-a pauses past its lease

	b, err := x.AcquireLease(ctx, key, "worker-b", time.Minute)
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if b.Epoch != a.Epoch+1 || b.Cursor != c1 {
		t.Fatalf("takeover lease = %+v, want epoch %d resuming at %s", b, a.Epoch+1, c1)
	}

	// worker-a wakes up and tries to move the cursor.
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: c2}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("stale ack: err = %v, want ErrLeaseLost", err)
	}
	if err := x.RenewLease(ctx, a, time.Minute); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("stale renew: err = %v, want ErrLeaseLost", err)
	}
	if err := x.ReleaseLease(ctx, a); err != nil {
		t.Errorf("stale release: %v, want nil", err)
	}
	st, err := x.SubscriptionStatus(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Cursor != c1 || st.Owner != "worker-b" || st.Epoch != b.Epoch {
		t.Errorf("status = %+v, want worker-b at epoch %d, cursor still %s", st, b.Epoch, c1)
	}
}

func TestLeaseInvalidArguments(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	for _, tc := range []struct {
		key, owner string
		ttl        time.Duration
	}{{"", "w", time.Second}, {"k", "", time.Second}, {"k", "w", 0}} {
		if _, err := x.AcquireLease(ctx, tc.key, tc.owner, tc.ttl); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("AcquireLease(%q, %q, %v): err = %v, want ErrInvalidArgument", tc.key, tc.owner, tc.ttl, err)
		}
	}
}
