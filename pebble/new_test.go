package pebble_test

import (
	"context"
	"errors"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
)

func TestNewSharesTheCallersDatabase(t *testing.T) {
	db, err := pebbledb.Open(t.TempDir(), &pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set([]byte("user key"), []byte("kept"), pebbledb.Sync); err != nil {
		t.Fatal(err)
	}

	a, err := pebble.New(db)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pebble.New(db, pebble.WithKeyPrefix("other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pebble.New(db); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("second executor on one prefix: err = %v, want ErrInvalidArgument", err)
	}
	mustAppend(t, a, newCommit("T", "x", 0, 2))
	mustAppend(t, b, newCommit("T", "x", 0, 1))
	if n := len(readAll(t, a, evento.Query{})); n != 2 {
		t.Errorf("executor a reads %d events, want its own 2", n)
	}
	if n := len(readAll(t, b, evento.Query{})); n != 1 {
		t.Errorf("executor b reads %d events, want its own 1", n)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if v, closer, err := db.Get([]byte("user key")); err != nil || string(v) != "kept" {
		t.Fatalf("the caller's database after Close: %q, %v", v, err)
	} else {
		closer.Close()
	}
	// The prefix is free again, and the log continues where it ended.
	a, err = pebble.New(db)
	if err != nil {
		t.Fatal(err)
	}
	c := newCommit("T", "x", 2, 1)
	mustAppend(t, a, c)
	if c.Events[0].Position.Seq != 3 {
		t.Errorf("append after reattaching got position %v, want 3", c.Events[0].Position)
	}
	a.Close()
	b.Close()
}

func TestOptionsAreChecked(t *testing.T) {
	for _, p := range []string{"", "Upper", "has space", "a\x00b", "0digit"} {
		if _, err := pebble.Open(t.TempDir(), pebble.WithKeyPrefix(p)); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("prefix %q: err = %v, want ErrInvalidArgument", p, err)
		}
	}
	if _, err := pebble.Open(""); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("empty directory: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := pebble.New(nil); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("nil database: err = %v, want ErrInvalidArgument", err)
	}
}

func TestDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if y, err := pebble.Open(dir); err == nil {
		y.Close()
		t.Fatal("a second Open of one directory succeeded")
	}
	if err := x.Append(context.Background(), newCommit("T", "a", 0, 1)); err != nil {
		t.Errorf("the first executor after a refused second Open: %v", err)
	}
}
