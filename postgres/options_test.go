package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

// freshDatabase creates a database of its own for the test and returns a
// pool on it; both are gone when the test ends.
func freshDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	admin := connect(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "evento_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(context.Background(), `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create database: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if _, err := admin.Exec(context.Background(), `DROP DATABASE "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return pool
}

// Names that would inject SQL are refused before any statement runs; the
// canary table next to the executor's survives every attempt.
func TestSchemaAndPrefixInjection(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	conn := connect(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE "`+schema+`".canary (x int)`); err != nil {
		t.Fatal(err)
	}
	drop := `x"; DROP TABLE "` + schema + `".canary; --`
	for _, opt := range []struct {
		what string
		opt  postgres.Option
	}{
		{"schema with a quote", postgres.WithSchema(drop)},
		{"schema with a semicolon", postgres.WithSchema("public; DROP TABLE canary")},
		{"qualified schema", postgres.WithSchema(schema + ".canary")},
		{"upper-case schema", postgres.WithSchema("Public")},
		{"empty schema", postgres.WithSchema("")},
		{"schema too long", postgres.WithSchema(strings.Repeat("s", 64))},
		{"schema with a dollar", postgres.WithSchema("a$evento$b")},
		{"prefix with a quote", postgres.WithTablePrefix(drop)},
		{"prefix with a dot", postgres.WithTablePrefix("public.evento_")},
		{"prefix with a space", postgres.WithTablePrefix("evento events")},
		{"empty prefix", postgres.WithTablePrefix("")},
		{"prefix too long", postgres.WithTablePrefix(strings.Repeat("p", 42))},
	} {
		y, err := postgres.Open(ctx, dsn(), opt.opt)
		if !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", opt.what, err)
		}
		if y != nil {
			y.Close()
		}
		pool, err := pgxpool.New(ctx, dsn())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.New(ctx, pool, opt.opt); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("New with %s: err = %v, want ErrInvalidArgument", opt.what, err)
		}
		pool.Close()
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM "`+schema+`".canary`).Scan(&n); err != nil {
		t.Errorf("canary table: %v", err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
}

// Every name is quoted: a schema named after a reserved word works, in a
// database of the test's own so that the name cannot collide.
func TestReservedWordSchema(t *testing.T) {
	pool := freshDatabase(t)
	ctx := context.Background()
	for _, schema := range []string{"select", "user", "order"} {
		x, err := postgres.New(ctx, pool, postgres.WithSchema(schema), postgres.WithTablePrefix("from_"))
		if err != nil {
			t.Fatalf("schema %q: %v", schema, err)
		}
		c := newCommit("t", "a", 0, 2)
		mustAppend(t, x, c)
		if got := readAll(t, x, evento.Query{}); len(got) != 2 {
			t.Errorf("schema %q: read %d events, want 2", schema, len(got))
		}
		if _, err := x.AcquireLease(ctx, "k", "w", 1e9); err != nil {
			t.Errorf("schema %q: lease: %v", schema, err)
		}
		if err := x.SaveSnapshot(ctx, &evento.Snapshot{Key: evento.SnapshotKey{AggregateType: "t", AggregateID: "a"}}); err != nil {
			t.Errorf("schema %q: snapshot: %v", schema, err)
		}
		if _, err := x.HorizonLag(ctx); err != nil {
			t.Errorf("schema %q: horizon lag: %v", schema, err)
		}
	}
}

// Processes that start at once against a schema that does not exist yet
// create it, and apply each migration, once.
func TestConcurrentMigrations(t *testing.T) {
	pool := freshDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = postgres.New(ctx, pool, postgres.WithSchema("tenant"))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var versions int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tenant.evento_schema_migrations`).Scan(&versions); err != nil || versions != latestSchema {
		t.Errorf("applied versions: %d, %v; want %d", versions, err, latestSchema)
	}
	x, err := postgres.New(ctx, pool, postgres.WithSchema("tenant"))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
}

func TestNewLeavesThePoolOpen(t *testing.T) {
	schema := freshSchema(t)
	pool, err := pgxpool.New(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	x, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema), postgres.WithTablePrefix("app_"))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM "`+schema+`".app_events`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after Close: count = %d, err = %v; want 1 event and an open pool", n, err)
	}
	if _, err := postgres.New(context.Background(), nil); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("New(nil): err = %v, want ErrInvalidArgument", err)
	}
}

// A DSN that does not parse fails with pgx's reason, without the DSN or
// its password, whatever the error pgx wraps quotes.
func TestOpenBadDSNHidesIt(t *testing.T) {
	for dsn, reason := range map[string]string{
		"postgres://u:s3cret@127.0.0.1:5432/db?sslmode=bogus":       "failed to configure TLS",
		"postgres://u:s3cret@127.0.0.1:notaport/db":                 "invalid port",
		"postgres://u:s3%zzcret@127.0.0.1/db":                       "failed to parse as URL",
		"postgres://u:s3cret@127.0.0.1/db?connect_timeout=abc":      "invalid connect_timeout",
		"host=x password=s3cret port=abc":                           "invalid port",
		"host=x password='s3cret":                                   "failed to parse as keyword/value",
		"postgres://u:s3cret@127.0.0.1/db?target_session_attrs=foo": "unknown target_session_attrs value: foo",
	} {
		_, err := postgres.Open(context.Background(), dsn)
		if !errors.Is(err, evento.ErrInvalidArgument) || strings.Contains(err.Error(), "s3") || !strings.HasSuffix(err.Error(), ": "+reason) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument ending with %q, without the password", dsn, err, reason)
		}
	}
}
