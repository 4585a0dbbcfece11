package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

// A version 3 database upgrades to version 4, which drops the index on
// (aggregate_type, aggregate_id, position): reads of one aggregate page by
// version through the unique (aggregate_type, aggregate_id, version) index,
// with the cursors of its own events and with any other position, in both
// directions, and never scan the events of other aggregates.
func TestSchemaUpgradeToVersion4(t *testing.T) {
	ctx := context.Background()
	db := olderDatabase(t, "evento_", 3)
	// Positions 1..30: a1, b1, c1, a2, b2, c2, ... where c is aggregate
	// "a" of another type.
	for v := 1; v <= 10; v++ {
		for _, agg := range [][2]string{{"T", "a"}, {"T", "b"}, {"U", "a"}} {
			if _, err := db.Exec(`INSERT INTO evento_events (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)`+
				` VALUES (?, ?, ?, ?, 'E', NULL, NULL, NULL, 0)`, ulid.Make().Bytes(), agg[0], agg[1], v); err != nil {
				t.Fatal(err)
			}
		}
	}
	x := upgrade(t, db)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'evento_events_aggregate_position'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the aggregate position index is still there (%d, %v)", n, err)
	}

	agg := []evento.Filter{{AggregateType: "T", AggregateID: "a"}}
	positions := func(args cursor.Args) []uint64 {
		t.Helper()
		page, err := x.Read(ctx, evento.Query{Filters: agg, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, e := range page.Nodes() {
			got = append(got, e.Position.Seq)
		}
		return got
	}
	at := func(p uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: p}) }
	for _, c := range []struct {
		args cursor.Args
		want []uint64
	}{
		{cursor.Forward(3, ""), []uint64{1, 4, 7}},
		{cursor.Forward(3, at(7)), []uint64{10, 13, 16}},   // its own event
		{cursor.Forward(3, at(8)), []uint64{10, 13, 16}},   // another aggregate's
		{cursor.Forward(3, at(30)), nil},                   // after its last event
		{cursor.Forward(3, at(99)), nil},                   // past the log
		{cursor.Backward(3, ""), []uint64{22, 25, 28}},     // the last page
		{cursor.Backward(3, at(22)), []uint64{13, 16, 19}}, // its own event
		{cursor.Backward(3, at(21)), []uint64{13, 16, 19}}, // another type's
		{cursor.Backward(3, at(1)), nil},                   // before its first event
		{cursor.Backward(3, at(99)), []uint64{22, 25, 28}},
	} {
		if got := positions(c.args); !slices.Equal(got, c.want) {
			t.Errorf("%+v: positions %v, want %v", c.args, got, c.want)
		}
	}

	for _, args := range []cursor.Args{cursor.Forward(3, ""), cursor.Forward(3, at(8)), cursor.Backward(3, at(21))} {
		query, qargs, err := x.ReadStatement(evento.Query{Filters: agg, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, db, query, qargs)
		if !strings.Contains(plan, "SEARCH evento_events USING INDEX sqlite_autoindex_evento_events_2 (aggregate_type=? AND aggregate_id=?") ||
			strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%+v: the read of one aggregate does not walk its version index in order:\n%s\n%s", args, query, plan)
		}
	}
}

// explain returns SQLite's query plan for query, one step per line.
func explain(t *testing.T, db *sql.DB, query string, args []any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// olderDatabase returns a database with the first n migrations of the
// schema under prefix applied, as a build that knew only those made it.
func olderDatabase(t *testing.T, prefix string, n int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "old.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlite.MigrateTo(context.Background(), db, prefix, n); err != nil {
		t.Fatal(err)
	}
	return db
}

// upgrade opens an executor on db, which brings its schema up to date, and
// checks that it reached the latest version.
func upgrade(t *testing.T, db *sql.DB, opts ...sqlite.Option) *sqlite.Executor {
	t.Helper()
	ctx := context.Background()
	x, err := sqlite.New(ctx, db, opts...)
	if err != nil {
		t.Fatalf("open an older database: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	if v, err := x.SchemaVersion(ctx); err != nil || v != (evento.SchemaVersion{Applied: 4, Latest: 4}) {
		t.Fatalf("SchemaVersion = %+v, %v; want 4 of 4", v, err)
	}
	return x
}

// A read of one aggregate from a cursor that is not one of its events
// finds the aggregate's version at the cursor by a binary search over its
// versions (point lookups of the version index); and when a version is
// missing, so that the search cannot run, the read still finds it.
func TestForeignCursorSearchesVersions(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	// Order o0, Ledger versions 1–300, o1, 301–600, o2, ..., o4.
	const commits, size = 4, 300
	for i := range commits {
		mustAppend(t, x, newCommit("Order", "o"+string(rune('0'+i)), 0, 1))
		mustAppend(t, x, newCommit("Ledger", "main", int64(i*size), size))
	}
	mustAppend(t, x, newCommit("Order", "o4", 0, 1))
	orders := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "Order"}}})
	ledger := []evento.Filter{{AggregateType: "Ledger", AggregateID: "main"}}
	cases := []struct {
		args cursor.Args
		want []int64 // the versions read
	}{
		{cursor.Forward(2, orders[0].Cursor()), []int64{1, 2}},
		{cursor.Forward(2, orders[2].Cursor()), []int64{601, 602}},
		{cursor.Forward(2, orders[4].Cursor()), nil},
		{cursor.Backward(2, orders[4].Cursor()), []int64{1199, 1200}},
		{cursor.Backward(2, orders[1].Cursor()), []int64{299, 300}},
		{cursor.Backward(2, orders[0].Cursor()), nil},
	}
	check := func(when string) {
		t.Helper()
		for _, c := range cases {
			page, err := x.Read(ctx, evento.Query{Filters: ledger, Args: c.args})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range page.Nodes() {
				got = append(got, e.Version)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s, %+v: read versions %v, want %v", when, c.args, got, c.want)
			}
		}
	}
	check("dense versions")
	for _, c := range cases {
		query, qargs, err := x.ReadStatement(evento.Query{Filters: ledger, Args: c.args})
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, x.DB(), query, qargs)
		if !strings.Contains(plan, "RECURSIVE STEP") ||
			!strings.Contains(plan, "INDEX sqlite_autoindex_evento_events_2 (aggregate_type=? AND aggregate_id=? AND version=?)") {
			t.Errorf("%+v: the read does not search the version index:\n%s\n%s", c.args, query, plan)
		}
	}
	// A version missing from the middle (not something the store does)
	// stops the search; the read then reads the versions beyond the
	// cursor as before.
	if _, err := x.DB().Exec(`DELETE FROM evento_events WHERE aggregate_type = 'Ledger' AND version IN (450, 750)`); err != nil {
		t.Fatal(err)
	}
	check("versions 450 and 750 missing")
}
