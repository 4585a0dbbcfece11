package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testSchema(migrations ...Migration) *Schema {
	return &Schema{
		Dialect:    Dialect{Placeholders: QuestionMarks, IdentQuote: '"'},
		Table:      `"m_schema_migrations"`,
		Begin:      []string{"BEGIN IMMEDIATE"},
		Migrations: migrations,
	}
}

func appliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM "m_schema_migrations" ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestMigrateAppliesPendingStepsOnce(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	v1 := Migration{Version: 1, Statements: []string{"CREATE TABLE a (x INTEGER)", "INSERT INTO a VALUES (1)"}}
	v2 := Migration{Version: 2, Statements: []string{"INSERT INTO a VALUES (2)"}}

	if err := testSchema(v1).Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := testSchema(v1, v2).Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	// A build that knows fewer migrations leaves the newer schema alone.
	if err := testSchema(v1).Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := db.QueryRow("SELECT SUM(x) FROM a").Scan(&sum); err != nil || sum != 3 {
		t.Errorf("SUM(x) = %d, %v; want 3 (each step ran once)", sum, err)
	}
	if vs := appliedVersions(t, db); len(vs) != 2 || vs[0] != 1 || vs[1] != 2 {
		t.Errorf("applied versions %v, want [1 2]", vs)
	}
}

func TestMigrateFailureRollsBackTheWholeRun(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	err := testSchema(
		Migration{Version: 1, Statements: []string{"CREATE TABLE a (x INTEGER)"}},
		Migration{Version: 2, Statements: []string{"THIS IS NOT SQL"}},
	).Migrate(ctx, db)
	if err == nil {
		t.Fatal("Migrate with a broken step succeeded")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'a'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table a exists after a failed run (count %d, %v)", n, err)
	}
	if err := testSchema(Migration{Version: 2}).Migrate(ctx, db); err == nil {
		t.Error("Migrate accepted a list that does not start at version 1")
	}
	if db.Stats().InUse != 0 {
		t.Error("a connection is still in use")
	}
}

func TestMigrateConcurrentOpeners(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s := testSchema(
		Migration{Version: 1, Statements: []string{"CREATE TABLE a (x INTEGER)"}},
		Migration{Version: 2, Statements: []string{"INSERT INTO a VALUES (1)"}},
	)
	// The file is made, in WAL mode, before the migrators open it: a
	// connection that finds a new file in another mode switches it to WAL
	// as it opens, which failed with SQLITE_BUSY in about one run in
	// twenty while the others opened it too. The migrations are what this
	// tests.
	if err := openSQLite(t, path).Ping(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		db := openSQLite(t, path)
		wg.Go(func() { errs[i] = s.Migrate(ctx, db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var n int
	if err := openSQLite(t, path).QueryRow("SELECT COUNT(*) FROM a").Scan(&n); err != nil || n != 1 {
		t.Errorf("COUNT(*) = %d, %v; want 1", n, err)
	}
}

// A run that fails in a way Retry accepts is rolled back and run again,
// after the pause, until it succeeds; one that fails otherwise, or a
// context that ends between runs, ends Migrate.
func TestMigrateRetries(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	s := testSchema(
		Migration{Version: 1, Statements: []string{"CREATE TABLE a (x INTEGER)"}},
		Migration{Version: 2, Statements: []string{"INSERT INTO a SELECT x FROM gate"}},
	)
	runs := 0
	var started []int
	s.Attempt = func(run int) []string {
		started = append(started, run)
		return []string{"SELECT 1"}
	}
	s.Retry = func(err error, run int) (time.Duration, bool) {
		runs++
		if run != runs {
			t.Errorf("Retry of run %d, want %d", run, runs)
		}
		if !strings.Contains(err.Error(), "no such table: gate") {
			return 0, false
		}
		if runs == 3 { // the gate opens after the third failed run
			if _, err := db.Exec("CREATE TABLE gate (x INTEGER); INSERT INTO gate VALUES (7)"); err != nil {
				t.Fatal(err)
			}
		}
		return time.Millisecond, true
	}
	if err := s.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if runs != 3 || !slices.Equal(started, []int{1, 2, 3, 4}) {
		t.Errorf("%d failed runs, runs started %v; want 3, [1 2 3 4]", runs, started)
	}
	var x int
	if err := db.QueryRow("SELECT x FROM a").Scan(&x); err != nil || x != 7 {
		t.Errorf("a holds %d, %v; want 7, inserted once", x, err)
	}
	if vs := appliedVersions(t, db); len(vs) != 2 {
		t.Errorf("applied versions %v, want [1 2]", vs)
	}

	// A refused error ends Migrate at once; a context that ends does too.
	broken := testSchema(Migration{Version: 1, Statements: []string{"SELECT * FROM missing"}})
	broken.Retry = func(error, int) (time.Duration, bool) { return time.Hour, false }
	if err := broken.Migrate(ctx, openSQLite(t, filepath.Join(t.TempDir(), "b.db"))); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Migrate = %v, want the statement's error", err)
	}
	broken.Retry = func(error, int) (time.Duration, bool) { return time.Hour, true }
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := broken.Migrate(short, openSQLite(t, filepath.Join(t.TempDir(), "c.db")))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Migrate = %v, want the context's error and the last run's", err)
	}
	stopping := errors.New("stopping")
	cancelled, cancelCause := context.WithCancelCause(ctx)
	time.AfterFunc(20*time.Millisecond, func() { cancelCause(stopping) })
	err = broken.Migrate(cancelled, openSQLite(t, filepath.Join(t.TempDir(), "d.db")))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, stopping) {
		t.Errorf("Migrate = %v, want context.Canceled and its cause", err)
	}
}
