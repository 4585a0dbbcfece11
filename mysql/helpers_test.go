package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/mysql"
	driver "github.com/go-sql-driver/mysql"
	"github.com/oklog/ulid/v2"
)

// defaultDSN is the test server when EVENTO_MYSQL_DSN is unset.
const defaultDSN = "root@tcp(127.0.0.1:3306)/"

// serverConfig returns the test server's connection settings, from
// EVENTO_MYSQL_DSN or defaultDSN; any database it names is ignored.
func serverConfig(t testing.TB) *driver.Config {
	t.Helper()
	cfg, err := driver.ParseDSN(testenv.DSN("EVENTO_MYSQL_DSN", defaultDSN))
	if err != nil {
		t.Fatalf("EVENTO_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	return cfg
}

// admin returns a connection pool to the test server without a default
// database, closed when the test ends, or ends the test (a skip, or a
// failure in CI) when the server is unreachable.
func admin(t testing.TB) *sql.DB {
	t.Helper()
	cfg := serverConfig(t)
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Unavailable(t, "MySQL/MariaDB at "+cfg.Addr, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// freshDatabase creates an empty database on the test server, dropped when
// the test ends, and returns a DSN that names it. Every test gets its own,
// so tests may run in parallel and leave nothing behind.
func freshDatabase(t testing.TB) string {
	t.Helper()
	db := admin(t)
	name := fmt.Sprintf("evento_t_%016x", rand.Uint64())
	if _, err := db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg := serverConfig(t)
	cfg.DBName = name
	return cfg.FormatDSN()
}

// openDSN opens an executor on dsn, closed when the test ends.
func openDSN(t testing.TB, dsn string, opts ...mysql.Option) *mysql.Executor {
	t.Helper()
	x, err := mysql.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return x
}

// open returns an executor on a fresh database.
func open(t testing.TB, opts ...mysql.Option) *mysql.Executor {
	t.Helper()
	return openDSN(t, freshDatabase(t), opts...)
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
func mustAppend(t testing.TB, x evento.Executor, c *evento.Commit) {
	t.Helper()
	if err := x.Append(context.Background(), c); err != nil {
		t.Fatalf("Append %s/%s after version %d: %v", c.AggregateType, c.AggregateID, c.ExpectedVersion, err)
	}
}

// readAll pages forward through every event matching q.
func readAll(t testing.TB, x evento.Executor, q evento.Query) []*evento.Event {
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

// readAfter returns every event after the cursor.
func readAfter(t testing.TB, x evento.Executor, after cursor.Value) []*evento.Event {
	t.Helper()
	page, err := x.Read(context.Background(), evento.Query{Args: cursor.Forward(cursor.MaxLimit, after)})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return page.Nodes()
}

// positions returns the events' positions.
func positions(events []*evento.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Position.Seq
	}
	return out
}
