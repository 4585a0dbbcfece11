package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
)

// tablesIn lists the tables of the database dsn names.
func tablesIn(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

func sqlOpen(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Table names cannot be bind parameters, so the prefix is the one piece of
// configuration that reaches SQL text. Prefixes built to break out of the
// backtick quoting, end the statement or comment out the rest of it are
// refused before anything reaches the server.
func TestTablePrefixCannotInjectSQL(t *testing.T) {
	dsn := freshDatabase(t)
	db := sqlOpen(t, dsn)
	if _, err := db.Exec("CREATE TABLE victim (x INT)"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"x`; DROP TABLE victim; -- ",
		"x` (a INT); DROP TABLE victim; CREATE TABLE `y",
		"evento_`victim",
		"a`b",
		"x; DROP TABLE victim",
		"x/*", "x--", "x#", "x'", `x"`, `x\`, "x.victim_", "victim.", "x y",
		"X_", "1abc", "a-b", "é_", "evento_\x00", "evento_\n",
		"a_very_long_prefix_that_goes_beyond_forty_one_chars",
		"",
	} {
		x, err := mysql.Open(context.Background(), dsn, mysql.WithTablePrefix(p))
		if !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("prefix %q: err = %v, want ErrInvalidArgument", p, err)
		}
		if x != nil {
			x.Close()
		}
		if _, err := mysql.New(context.Background(), db, mysql.WithTablePrefix(p)); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("New with prefix %q: err = %v, want ErrInvalidArgument", p, err)
		}
	}
	if got := tablesIn(t, db); !slices.Equal(got, []string{"victim"}) {
		t.Fatalf("tables after refused prefixes: %v, want only victim", got)
	}

	// A valid prefix names every table, and nothing else.
	x := openDSN(t, dsn, mysql.WithTablePrefix("tenant_1_"))
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	want := []string{"tenant_1_counter", "tenant_1_dead_letters", "tenant_1_events", "tenant_1_schema_migrations",
		"tenant_1_snapshots", "tenant_1_subscriptions", "victim"}
	if got := tablesIn(t, db); !slices.Equal(got, want) {
		t.Errorf("tables: %v, want %v", got, want)
	}
	// Two prefixes in one database are two independent stores.
	y := openDSN(t, dsn)
	if n := len(readAll(t, y, evento.Query{})); n != 0 {
		t.Errorf("the default prefix sees %d events of tenant_1_", n)
	}
}

// Only the DSN's database is touched; a DSN or pool without one is refused.
func TestOpenNeedsADatabase(t *testing.T) {
	cfg := serverConfig(t)
	admin(t) // skips when the server is unreachable
	if _, err := mysql.Open(context.Background(), cfg.FormatDSN()); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("Open without a database: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := mysql.New(context.Background(), sqlOpen(t, cfg.FormatDSN())); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("New without a default database: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := mysql.Open(context.Background(), "not a dsn"); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("Open with a malformed DSN: err = %v, want ErrInvalidArgument", err)
	}
}

func TestNewLeavesTheDatabaseOpen(t *testing.T) {
	db := sqlOpen(t, freshDatabase(t)+"?interpolateParams=true")
	x, err := mysql.New(context.Background(), db, mysql.WithTablePrefix("app_"))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM app_events").Scan(&n); err != nil || n != 1 {
		t.Errorf("after Close: count = %d, err = %v; want 1 event and an open database", n, err)
	}
}

// New also works on a pool without interpolateParams, through server-side
// prepared statements.
func TestNewWithoutInterpolation(t *testing.T) {
	db := sqlOpen(t, freshDatabase(t))
	x, err := mysql.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 3))
	mustAppend(t, x, newCommit("t", "a", 3, 2))
	if err := x.Append(context.Background(), newCommit("t", "a", 3, 1)); !errors.Is(err, evento.ErrVersionConflict) {
		t.Errorf("stale commit: err = %v, want ErrVersionConflict", err)
	}
	if got := positions(readAll(t, x, evento.Query{})); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("positions %v, want 1..5", got)
	}
}

// Several processes opening a fresh database at once apply each migration
// once: they queue on the migration lock.
func TestConcurrentMigrations(t *testing.T) {
	dsn := freshDatabase(t)
	const openers = 6
	var wg sync.WaitGroup
	execs := make([]*mysql.Executor, openers)
	errs := make([]error, openers)
	for i := range execs {
		wg.Go(func() { execs[i], errs[i] = mysql.Open(context.Background(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer execs[i].Close()
	}
	if t.Failed() {
		return
	}
	var versions int
	if err := sqlOpen(t, dsn).QueryRow("SELECT COUNT(*) FROM evento_schema_migrations").Scan(&versions); err != nil || versions != 2 {
		t.Errorf("%d recorded migrations (%v), want 2", versions, err)
	}
	mustAppend(t, execs[0], newCommit("t", "a", 0, 1))
	if n := len(readAll(t, execs[openers-1], evento.Query{})); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// MySQL commits each schema statement on its own, so a migration
// interrupted midway is completed by the next start: every statement can
// run again, keeps the events, and keeps the counter, or rebuilds it from
// the events when it is missing.
func TestMigrationsRunAgain(t *testing.T) {
	dsn := freshDatabase(t)
	mustAppend(t, openDSN(t, dsn), newCommit("t", "a", 0, 3))
	db := sqlOpen(t, dsn)
	version := int64(3)
	for _, interrupted := range [][]string{
		// The run stopped before recording its version.
		{"DELETE FROM evento_schema_migrations"},
		// The run stopped before creating the counter.
		{"DELETE FROM evento_schema_migrations", "DROP TABLE evento_counter"},
	} {
		for _, stmt := range interrupted {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		x := openDSN(t, dsn)
		c := newCommit("t", "a", version, 1)
		mustAppend(t, x, c)
		version++
		if want := uint64(version); c.Events[0].Position.Seq != want {
			t.Errorf("after %q and a new start: next position %v, want %d", interrupted, c.Events[0].Position, want)
		}
		if n := len(readAll(t, x, evento.Query{})); n != int(version) {
			t.Errorf("after %q: %d events, want %d", interrupted, n, version)
		}
	}
}

// Connections that read uncommitted data, set by the DSN here, are refused:
// reads would return events of appends that may still roll back.
func TestOpenRefusesReadUncommitted(t *testing.T) {
	dsn := freshDatabase(t)
	variable := "transaction_isolation"
	var level string
	if err := admin(t).QueryRow("SELECT @@SESSION.transaction_isolation").Scan(&level); err != nil {
		variable = "tx_isolation" // MariaDB before 11.1
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	uncommitted := dsn + sep + variable + "=%27READ-UNCOMMITTED%27"
	_, err := mysql.Open(context.Background(), uncommitted)
	if !errors.Is(err, evento.ErrInvalidArgument) || !strings.Contains(err.Error(), "READ UNCOMMITTED") {
		t.Errorf("Open under READ UNCOMMITTED: err = %v, want ErrInvalidArgument naming it", err)
	}
	if _, err := mysql.New(context.Background(), sqlOpen(t, uncommitted)); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("New under READ UNCOMMITTED: err = %v, want ErrInvalidArgument", err)
	}
	// The other levels are accepted.
	for _, level := range []string{"READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE"} {
		x, err := mysql.Open(context.Background(), dsn+sep+variable+"=%27"+level+"%27")
		if err != nil {
			t.Errorf("Open under %s: %v", level, err)
			continue
		}
		mustAppend(t, x, newCommit("t", level, 0, 1))
		x.Close()
	}
}
