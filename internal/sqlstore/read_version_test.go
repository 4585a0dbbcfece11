package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	_ "modernc.org/sqlite"
)

// recorder runs queries on a database and records their text.
type recorder struct {
	*sql.DB
	queries []string
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.queries = append(r.queries, query)
	return r.DB.QueryContext(ctx, query, args...)
}

// On an embedded engine, a read of one aggregate after one of its own
// events looks that event's version up first and compares versions with it
// in a short statement; any other cursor, or an engine with round trips,
// takes the one statement that finds the version itself. Both return the
// aggregate's events after (or before) the cursor's position.
func TestReadByVersionStatements(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id BLOB, aggregate_type TEXT, aggregate_id TEXT,
		version INTEGER, name TEXT, routing_key TEXT, data BLOB, metadata BLOB, timestamp INTEGER,
		UNIQUE (aggregate_type, aggregate_id, version))`); err != nil {
		t.Fatal(err)
	}
	// Positions 1..8: a1 b1 a2 b2 a3 b3 a4 b4.
	for v := 1; v <= 4; v++ {
		for _, id := range []string{"a", "b"} {
			if _, err := db.Exec(`INSERT INTO events (id, aggregate_type, aggregate_id, version, name, timestamp) VALUES (randomblob(16), 'T', ?, ?, 'E', 0)`, id, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := func(p uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: p}) }
	agg := []evento.Filter{{AggregateType: "T", AggregateID: "a"}}
	for _, tc := range []struct {
		name     string
		embedded bool
		args     cursor.Args
		want     []uint64
		lookup   bool // the version was looked up first
		short    bool // the read compared versions with a bound value
	}{
		{"own event, forward", true, cursor.Forward(10, at(3)), []uint64{5, 7}, true, true},
		{"own event, backward", true, cursor.Backward(10, at(5)), []uint64{1, 3}, true, true},
		{"another aggregate's event", true, cursor.Forward(10, at(4)), []uint64{5, 7}, true, false},
		{"past the log", true, cursor.Backward(10, at(99)), []uint64{1, 3, 5, 7}, true, false},
		{"no cursor", true, cursor.Forward(10, ""), []uint64{1, 3, 5, 7}, false, false},
		{"engine with round trips", false, cursor.Forward(10, at(3)), []uint64{5, 7}, false, false},
	} {
		rec := &recorder{DB: db}
		r := NewEventReader(Dialect{Placeholders: QuestionMarks, IdentQuote: '"', Embedded: tc.embedded}, "events").ByVersion()
		page, err := r.Read(ctx, rec, &evento.Query{Filters: agg, Args: tc.args})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []uint64
		for _, e := range page.Nodes() {
			got = append(got, e.Position.Seq)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: positions %v, want %v", tc.name, got, tc.want)
		}
		main := rec.queries[len(rec.queries)-1]
		lookup := len(rec.queries) == 2
		short := strings.Contains(main, "version > ?") || strings.Contains(main, "version < ?")
		if lookup != tc.lookup || short != tc.short || len(rec.queries) > 2 {
			t.Errorf("%s: ran %q; want a lookup first: %v, a bound version: %v", tc.name, rec.queries, tc.lookup, tc.short)
		}
	}
}
