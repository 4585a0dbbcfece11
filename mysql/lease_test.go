package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Keys and owners are VARBINARY(255): longer ones are refused rather than
// cut short (and made to collide) by a server without strict sql_mode.
func TestLeaseKeyAndOwnerLength(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	long := strings.Repeat("k", evento.MaxNameLen+1)
	if _, err := x.AcquireLease(ctx, long, "w", time.Minute); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("oversized key: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := x.AcquireLease(ctx, "k", long, time.Minute); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("oversized owner: err = %v, want ErrInvalidArgument", err)
	}
	l, err := x.AcquireLease(ctx, long[1:], long[1:], time.Minute)
	if err != nil {
		t.Fatalf("key and owner of %d bytes: %v", evento.MaxNameLen, err)
	}
	if err := x.Acknowledge(ctx, l, evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 7})}); err != nil {
		t.Fatal(err)
	}
	st, err := x.SubscriptionStatus(ctx, long[1:])
	if err != nil || st.Owner != long[1:] || st.Cursor != cursor.Encode(cursor.Position{Seq: 7}) {
		t.Errorf("status = %+v, %v", st, err)
	}
}

// MySQL reports changed rows, not matched ones: a fenced write that stores
// what is already there changes nothing and must still succeed, and only a
// lease that moved on makes it fail.
func TestLeaseFencedWriteOfUnchangedValues(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour)
	for range 2 {
		if err := x.RenewLeaseTo(ctx, l, at); err != nil {
			t.Fatalf("renewal to the stored expiry: %v", err)
		}
	}
	if err := x.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := x.AcquireLease(ctx, "k", "other", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := x.RenewLeaseTo(ctx, l, at); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("renewal after a takeover: err = %v, want ErrLeaseLost", err)
	}
}

func TestSnapshotKeyLength(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	long := strings.Repeat("r", evento.MaxNameLen+1)
	for _, key := range []evento.SnapshotKey{
		{AggregateType: long, Revision: "v1", AggregateID: "a"},
		{AggregateType: "t", Revision: long, AggregateID: "a"},
		{AggregateType: "t", Revision: "v1", AggregateID: long},
	} {
		if err := x.SaveSnapshot(ctx, &evento.Snapshot{Key: key}); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("SaveSnapshot with an oversized key part: err = %v, want ErrInvalidArgument", err)
		}
	}
	key := evento.SnapshotKey{AggregateType: "t", Revision: long[1:], AggregateID: "a "}
	if err := x.SaveSnapshot(ctx, &evento.Snapshot{Key: key, Data: []byte("s"), Version: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.LoadSnapshot(ctx, evento.SnapshotKey{AggregateType: "t", Revision: long[1:], AggregateID: "a"}); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("aggregate id %q found the snapshot of %q: err = %v", "a", "a ", err)
	}
	if s, err := x.LoadSnapshot(ctx, key); err != nil || string(s.Data) != "s" || s.Version != 2 {
		t.Errorf("LoadSnapshot = %+v, %v", s, err)
	}
}
