package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"
)

// defaultDSN is the test server unless EVENTO_POSTGRES_DSN names another.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// latestSchema is the schema version Open migrates to.
const latestSchema = 5

func dsn() string { return testenv.DSN("EVENTO_POSTGRES_DSN", defaultDSN) }

// connect returns a connection to the test server for the test's own SQL,
// closed when the test ends. An unreachable server skips the test, or fails
// it in CI.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn())
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// freshSchema creates a schema of its own for the test and drops it, with
// everything in it, when the test ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	conn := connect(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "evento_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA "`+name+`"`); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA "`+name+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openIn returns an executor on the given schema, closed when the test
// ends (before the schema is dropped).
func openIn(t testing.TB, schema string, opts ...postgres.Option) *postgres.Executor {
	t.Helper()
	x, err := postgres.Open(context.Background(), dsn(), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// openOneConnection returns an executor on schema over a pool of one
// connection, and the pool, both closed when the test ends. configure, when
// not nil, adjusts the pool's configuration first.
func openOneConnection(t testing.TB, schema string, configure func(*pgxpool.Config)) (*postgres.Executor, *pgxpool.Pool) {
	t.Helper()
	return openPool(t, schema, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1
		if configure != nil {
			configure(cfg)
		}
	})
}

// openPool returns an executor on schema over a pool of the test server's
// configuration as configure adjusts it, and the pool, both closed when
// the test ends.
func openPool(t testing.TB, schema string, configure func(*pgxpool.Config)) (*postgres.Executor, *pgxpool.Pool) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn())
	if err != nil {
		t.Fatal(err)
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	x, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x, pool
}

// open returns an executor on a fresh schema.
func open(t testing.TB, opts ...postgres.Option) *postgres.Executor {
	t.Helper()
	return openIn(t, freshSchema(t), opts...)
}

// newCommit returns a commit of n events to the aggregate, after version
// expected, named "Event1", "Event2", ... by version.
func newCommit(aggType, aggID string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: aggType, AggregateID: aggID, ExpectedVersion: expected}
	now := time.Now().UTC()
	for i := range n {
		v := expected + int64(i) + 1
		c.Events = append(c.Events, &evento.Event{
			ID:            ulid.Make(),
			AggregateType: aggType,
			AggregateID:   aggID,
			Version:       v,
			Name:          fmt.Sprintf("Event%d", v%3+1),
			Data:          fmt.Appendf(nil, `{"v":%d}`, v),
			Timestamp:     now,
		})
	}
	return c
}

// mustAppend appends c or fails the test.
func mustAppend(t testing.TB, x *postgres.Executor, c *evento.Commit) {
	t.Helper()
	if err := x.Append(context.Background(), c); err != nil {
		t.Fatalf("Append %s/%s after version %d: %v", c.AggregateType, c.AggregateID, c.ExpectedVersion, err)
	}
}

// readAll pages forward through every event matching q.
func readAll(t testing.TB, x *postgres.Executor, q evento.Query) []*evento.Event {
	t.Helper()
	var all []*evento.Event
	q.Args = cursor.Forward(cursor.MaxLimit, "")
	for {
		page, err := x.Read(context.Background(), q)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		all = append(all, page.Nodes()...)
		if !page.PageInfo.HasNextPage {
			return all
		}
		q.Args.After = page.PageInfo.EndCursor
	}
}

// openInMode returns an executor on schema over a pool whose queries run in
// the given pgx mode, both closed when the test ends.
func openInMode(t testing.TB, schema string, mode pgx.QueryExecMode) *postgres.Executor {
	t.Helper()
	x, _ := openPool(t, schema, func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = mode })
	return x
}
