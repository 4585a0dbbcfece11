package pebble_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	key := evento.SnapshotKey{AggregateType: "bank/Account", Revision: "v1", AggregateID: "a"}
	if _, err := x.LoadSnapshot(ctx, key); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("load of a missing snapshot: err = %v, want ErrNotFound", err)
	}
	s := &evento.Snapshot{Key: key, Data: []byte("state"), Version: 70_000, Cursor: cursor.Encode(cursor.Position{Seq: 9})}
	if err := x.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := x.LoadSnapshot(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != "state" || got.Version != 70_000 || got.Cursor != s.Cursor || !got.UpdatedAt.Equal(s.UpdatedAt) || got.Key != key {
		t.Errorf("loaded %+v, saved %+v", got, s)
	}

	s.Data, s.Version = []byte("newer"), 70_001
	if err := x.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := x.LoadSnapshot(ctx, key); err != nil || string(got.Data) != "newer" || got.Version != 70_001 {
		t.Errorf("after replace: %+v, %v", got, err)
	}
	other := key
	other.Revision = "v2"
	if _, err := x.LoadSnapshot(ctx, other); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("another revision: err = %v, want ErrNotFound", err)
	}
	if err := x.SaveSnapshot(ctx, &evento.Snapshot{}); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("snapshot without type: err = %v, want ErrInvalidArgument", err)
	}
}
