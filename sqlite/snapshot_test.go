package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestSnapshotSaveLoad(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	key := evento.SnapshotKey{AggregateType: "bank/Account", Revision: "v1", AggregateID: "acc-1"}

	if _, err := x.LoadSnapshot(ctx, key); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("load before save: err = %v, want ErrNotFound", err)
	}
	first := &evento.Snapshot{Key: key, Data: []byte("state-1"), Version: 3, Cursor: cursor.Encode(cursor.Position{Seq: 3})}
	if err := x.SaveSnapshot(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := &evento.Snapshot{Key: key, Data: []byte("state-2"), Version: 7, Cursor: cursor.Encode(cursor.Position{Seq: 9})}
	if err := x.SaveSnapshot(ctx, second); err != nil {
		t.Fatal(err)
	}
	got, err := x.LoadSnapshot(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != key || !bytes.Equal(got.Data, second.Data) || got.Version != 7 || got.Cursor != second.Cursor ||
		!got.UpdatedAt.Equal(second.UpdatedAt) || got.UpdatedAt.IsZero() {
		t.Errorf("loaded %+v, want %+v", got, second)
	}

	other := key
	other.Revision = "v2"
	if _, err := x.LoadSnapshot(ctx, other); !errors.Is(err, evento.ErrNotFound) {
		t.Errorf("load at another revision: err = %v, want ErrNotFound", err)
	}
}
