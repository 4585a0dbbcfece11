package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

func TestTablePrefixValidation(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{`x; DROP TABLE`, `x"; DROP TABLE evento_events; --`, "", "Upper_", "1abc", "a-b",
		"a_very_long_prefix_that_goes_beyond_forty_one_chars"} {
		x, err := sqlite.Open(context.Background(), filepath.Join(dir, "p.db"), sqlite.WithTablePrefix(p))
		if !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("prefix %q: err = %v, want ErrInvalidArgument", p, err)
		}
		if x != nil {
			x.Close()
		}
	}
	x := open(t, sqlite.WithTablePrefix("tenant_1_"))
	mustAppend(t, x, newCommit("t", "a", 0, 1))
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x?mode=memory"} {
		if _, err := sqlite.Open(context.Background(), path); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("Open(%q): err = %v, want ErrInvalidArgument", path, err)
		}
	}
}

func TestSynchronousNormal(t *testing.T) {
	x := open(t, sqlite.WithSynchronous(sqlite.SynchronousNormal))
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlite.WithSynchronous(9))
	if !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("unknown synchronous value: err = %v, want ErrInvalidArgument", err)
	}
}

func TestOpenURIKeepsItsParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uri.db")
	x, err := sqlite.Open(context.Background(), "file:"+path+"?cache=private")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	y, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if n := len(readAll(t, y, evento.Query{})); n != 1 {
		t.Errorf("the plain path sees %d events, want 1", n)
	}
}
