package pebble_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
)

func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	if _, err := x.SubscriptionStatus(ctx, "sub"); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("status of unknown key: err = %v, want ErrNotFound", err)
	}
	a, err := x.AcquireLease(ctx, "sub", "worker-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.Epoch != 1 || a.Cursor != "" || a.Owner != "worker-a" || time.Until(a.ExpiresAt) < 50*time.Second {
		t.Errorf("first lease = %+v", a)
	}
	if _, err := x.AcquireLease(ctx, "sub", "worker-b", time.Minute); !errors.Is(err, evento.ErrLeaseHeld) {
		t.Errorf("acquire of a held lease: err = %v, want ErrLeaseHeld", err)
	}

	c := cursor.Encode(cursor.Position{Seq: 42})
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: c, Lag: 3 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := x.RenewLease(ctx, a, 2*time.Minute); err != nil || time.Until(a.ExpiresAt) < 110*time.Second {
		t.Errorf("renew: %v, expires %v", err, a.ExpiresAt)
	}
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "worker-a" || st.Epoch != 1 || st.Cursor != c || st.Lag != 3*time.Millisecond ||
		!st.ExpiresAt.Equal(a.ExpiresAt) || st.UpdatedAt.IsZero() || st.LastError != nil {
		t.Errorf("status = %+v", st)
	}

	// The same owner may take its lease again; the epoch moves on, which
	// fences the old handle.
	again, err := x.AcquireLease(ctx, "sub", "worker-a", time.Minute)
	if err != nil || again.Epoch != 2 || again.Cursor != c {
		t.Fatalf("re-acquire by owner = %+v, %v", again, err)
	}
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 99})}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("ack with the old epoch: err = %v, want ErrLeaseLost", err)
	}
	if err := x.RenewLease(ctx, a, time.Minute); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("renew with the old epoch: err = %v, want ErrLeaseLost", err)
	}

	if err := x.ReleaseLease(ctx, again); err != nil {
		t.Fatal(err)
	}
	if err := x.ReleaseLease(ctx, again); err != nil {
		t.Errorf("second release: %v", err)
	}
	st, err = x.SubscriptionStatus(ctx, "sub")
	if err != nil || st.Owner != "" || !st.ExpiresAt.IsZero() || st.Cursor != c || st.Epoch != 2 {
		t.Errorf("status after release = %+v, %v", st, err)
	}
	if err := x.Acknowledge(ctx, again, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 99})}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("ack after release: err = %v, want ErrLeaseLost", err)
	}
	b, err := x.AcquireLease(ctx, "sub", "worker-b", time.Minute)
	if err != nil || b.Epoch != 3 || b.Cursor != c {
		t.Errorf("acquire after release = %+v, %v", b, err)
	}
}

// TestExpiredLeaseIsFenced plays a worker that pauses past its lease: a
// second worker takes over, and the first one's acknowledgement, when it
// wakes up, stores nothing.
func TestExpiredLeaseIsFenced(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	a, err := x.AcquireLease(ctx, "sub", "worker-a", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	b, err := x.AcquireLease(ctx, "sub", "worker-b", time.Minute)
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if b.Epoch != a.Epoch+1 {
		t.Errorf("takeover epoch %d, want %d", b.Epoch, a.Epoch+1)
	}
	stale := cursor.Encode(cursor.Position{Seq: 7})
	if err := x.Acknowledge(ctx, a, evento.Ack{Cursor: stale}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("ack by the paused worker: err = %v, want ErrLeaseLost", err)
	}
	if err := x.ReleaseLease(ctx, a); err != nil {
		t.Errorf("release of a lost lease: %v", err)
	}
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil || st.Cursor != "" || st.Owner != "worker-b" {
		t.Errorf("status = %+v, %v; want worker-b and no cursor", st, err)
	}
}

func TestLeaseArgumentsAreChecked(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	for _, tc := range []struct {
		key, owner string
		ttl        time.Duration
	}{{"", "w", time.Second}, {"k", "", time.Second}, {"k", "w", 0}} {
		if _, err := x.AcquireLease(ctx, tc.key, tc.owner, tc.ttl); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("AcquireLease(%q, %q, %v): err = %v, want ErrInvalidArgument", tc.key, tc.owner, tc.ttl, err)
		}
	}
}

// TestFirstFormatLeaseRecord reads a lease record as the first lease
// format wrote it, without the last error fields, and updates it.
func TestFirstFormatLeaseRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	updated := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	c := cursor.Encode(cursor.Position{Seq: 17})
	// format 1, owner "", epoch 3, expires 0 (released), cursor, lag
	// 1500 µs, updated at.
	v := []byte{1, 0, 3, 0}
	v = binary.AppendUvarint(v, uint64(len(c)))
	v = append(v, c...)
	v = binary.AppendVarint(v, 1500)
	v = binary.AppendVarint(v, updated.UnixMicro())

	db, err := pebbledb.Open(dir, &pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(pebble.LeaseKey(pebble.DefaultKeyPrefix, "sub"), v, pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	st, err := x.SubscriptionStatus(ctx, "sub")
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "" || st.Epoch != 3 || !st.ExpiresAt.IsZero() || st.Cursor != c ||
		st.Lag != 1500*time.Microsecond || !st.UpdatedAt.Equal(updated) || st.LastError != nil {
		t.Errorf("status of a first-format record = %+v", st)
	}
	l, err := x.AcquireLease(ctx, "sub", "w", time.Minute)
	if err != nil || l.Epoch != 4 || l.Cursor != c {
		t.Fatalf("acquire = %+v, %v", l, err)
	}
	if err := x.Acknowledge(ctx, l, evento.Ack{Cursor: c, Error: &evento.SubscriptionError{EventID: "e", Message: "m"}}); err != nil {
		t.Fatal(err)
	}
	st, err = x.SubscriptionStatus(ctx, "sub")
	if err != nil || st.LastError == nil || st.LastError.EventID != "e" || !st.LastError.At.Equal(st.UpdatedAt) {
		t.Errorf("status after an error = %+v, %v", st, err)
	}
}
