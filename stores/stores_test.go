package stores_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
	"github.com/eventogo/evento/pebble"
	"github.com/eventogo/evento/postgres"
	"github.com/eventogo/evento/sqlite"
	"github.com/eventogo/evento/stores"
)

func TestOpenEmbedded(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec string
		want any
	}{
		{"sqlite:" + filepath.Join(dir, "a.db"), (*sqlite.Executor)(nil)},
		{"sqlite://" + filepath.Join(dir, "b.db"), (*sqlite.Executor)(nil)},
		{"sqlite:" + filepath.Join(dir, "c.db") + "?prefix=app_", (*sqlite.Executor)(nil)},
		{"pebble:" + filepath.Join(dir, "p"), (*pebble.Executor)(nil)},
		{"pebble:" + filepath.Join(dir, "q") + "?prefix=app", (*pebble.Executor)(nil)},
	} {
		exec, closeStore, err := stores.Open(context.Background(), tc.spec)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.spec, err)
		}
		switch tc.want.(type) {
		case *sqlite.Executor:
			if _, ok := exec.(*sqlite.Executor); !ok {
				t.Errorf("Open(%q) = %T, want *sqlite.Executor", tc.spec, exec)
			}
		case *pebble.Executor:
			if _, ok := exec.(*pebble.Executor); !ok {
				t.Errorf("Open(%q) = %T, want *pebble.Executor", tc.spec, exec)
			}
		}
		if err := closeStore(); err != nil {
			t.Errorf("close %q: %v", tc.spec, err)
		}
	}
}

// The prefix parameter reaches the executor: a store written under one
// prefix shows no events under another.
func TestOpenPrefix(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	exec, closeStore, err := stores.Open(ctx, "sqlite:"+path+"?prefix=app_")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evento.New(exec).Create().Event(opened{}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	closeStore()
	for prefix, want := range map[string]int{"app_": 1, "evento_": 0} {
		exec, closeStore, err := stores.Open(ctx, "sqlite:"+path+"?prefix="+prefix)
		if err != nil {
			t.Fatal(err)
		}
		page, err := exec.Read(ctx, evento.Query{})
		closeStore()
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Edges) != want {
			t.Errorf("prefix %s: %d events, want %d", prefix, len(page.Edges), want)
		}
	}
}

type opened struct{}

func (opened) AggregateType() string { return "test/Thing" }
func (opened) EventName() string     { return "Opened" }

func TestOpenExisting(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{
		"sqlite:" + filepath.Join(dir, "missing.db"),
		"pebble:" + filepath.Join(dir, "missing"),
		"pebble:" + empty,
	} {
		_, _, err := stores.Open(context.Background(), spec, stores.Existing())
		if !errors.Is(err, stores.ErrNoStore) {
			t.Errorf("Open(%q, Existing()) = %v, want ErrNoStore", spec, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open with Existing created the SQLite file: %v", err)
	}
}

func TestOpenBadSpec(t *testing.T) {
	for _, spec := range []string{"", "events.db", "oracle://db", "sqlite:", "pebble:dir?cache=1", "sqlite:x.db?%zz"} {
		_, _, err := stores.Open(context.Background(), spec)
		if !errors.Is(err, stores.ErrSpec) || !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("Open(%q) = %v, want ErrSpec", spec, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:secret@db:5432/events":   "postgres://app:xxxxx@db:5432/events",
		"postgres://app@db/events":               "postgres://app@db/events",
		"mysql://app:p%zz@db:3306/events":        "mysql://xxxxx@db:3306/events",
		"sqlite:./events.db":                     "sqlite:./events.db",
		"mysql://root:hunter2@127.0.0.1:3306/db": "mysql://root:xxxxx@127.0.0.1:3306/db",
	} {
		if got := stores.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// The server stores open from URLs, with the schema and prefix parameters
// taken out for the executor and the rest left to the driver.
func TestOpenServers(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		spec := postgresSpec(t)
		exec, closeStore, err := stores.Open(ctx, spec)
		if err != nil {
			t.Fatalf("Open(%s): %v", stores.Redact(spec), err)
		}
		defer closeStore()
		if _, ok := exec.(*postgres.Executor); !ok {
			t.Fatalf("Open = %T, want *postgres.Executor", exec)
		}
		roundTrip(t, exec)
	})
	t.Run("mysql", func(t *testing.T) {
		spec := mysqlSpec(t)
		exec, closeStore, err := stores.Open(ctx, spec)
		if err != nil {
			t.Fatalf("Open(%s): %v", stores.Redact(spec), err)
		}
		defer closeStore()
		if _, ok := exec.(*mysql.Executor); !ok {
			t.Fatalf("Open = %T, want *mysql.Executor", exec)
		}
		roundTrip(t, exec)
	})
	for _, spec := range []string{"mysql://root@127.0.0.1:3306/", "mysql://root@/db", "postgres://%zz"} {
		if _, _, err := stores.Open(ctx, spec); !errors.Is(err, stores.ErrSpec) {
			t.Errorf("Open(%q) = %v, want ErrSpec", spec, err)
		}
	}
}

// roundTrip appends an event and reads it back.
func roundTrip(t *testing.T, exec evento.Executor) {
	t.Helper()
	ctx := context.Background()
	res, err := evento.New(exec).Create().Event(opened{}).Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	page, err := exec.Read(ctx, evento.Query{Filters: []evento.Filter{{AggregateType: "test/Thing", AggregateID: res.AggregateID}}})
	if err != nil || len(page.Edges) != 1 {
		t.Fatalf("Read = %v, %v; want the event", page, err)
	}
}
