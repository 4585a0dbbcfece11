package sqlstore

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// txKeyset is a two-column keyset with casts and a bound, as PostgreSQL
// uses it.
var txKeyset = Keyset{
	Columns: []string{"tx_id", "seq"},
	Casts:   []string{"::xid8", ""},
	Bound:   "tx_id < horizon()",
	Values: func(p cursor.Position) ([]any, error) {
		if p.Tx == 0 {
			return nil, fmt.Errorf("%w: no transaction part", cursor.ErrInvalid)
		}
		return []any{p.Tx, int64(p.Seq)}, nil
	},
}

func TestKeysetStatement(t *testing.T) {
	d := Dialect{Placeholders: DollarNumbers}
	at := cursor.Encode(cursor.Position{Tx: 900, Seq: 42})
	for _, tc := range []struct {
		name string
		q    evento.Query
		want string
		args []any
	}{
		{
			name: "everything",
			want: "H WHERE tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $1",
			args: []any{int64(cursor.DefaultLimit + 1)},
		},
		{
			name: "filter and routing key, forward after a cursor",
			q: evento.Query{
				Filters:    []evento.Filter{{AggregateType: "A", AggregateID: "1"}},
				RoutingKey: evento.RoutingKeyOf("eu"),
				Args:       cursor.Forward(10, at),
			},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND routing_key = $3 AND tx_id < horizon()" +
				" AND (tx_id, seq) > ($4::xid8, $5) ORDER BY tx_id ASC, seq ASC LIMIT $6",
			args: []any{"A", "1", "eu", uint64(900), int64(42), int64(11)},
		},
		{
			name: "backward before a cursor",
			q:    evento.Query{Args: cursor.Backward(5, at)},
			want: "H WHERE tx_id < horizon() AND (tx_id, seq) < ($1::xid8, $2) ORDER BY tx_id DESC, seq DESC LIMIT $3",
			args: []any{uint64(900), int64(42), int64(6)},
		},
	} {
		checkStatement(t, tc.name, tc.want, tc.args)(txKeyset.Statement(d, "H", &tc.q))
	}
	// The events without a key: within filters, in the form the planner
	// does not count on where the dialect asks for it (UnestimatedNoKey).
	none := evento.NoRoutingKey()
	for _, tc := range []struct {
		name string
		d    Dialect
		q    evento.Query
		want string
	}{
		{"no key", d, evento.Query{RoutingKey: none},
			"H WHERE routing_key IS NULL AND tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $1"},
		{"no key, unestimated", Dialect{Placeholders: DollarNumbers, UnestimatedNoKey: true}, evento.Query{RoutingKey: none},
			"H WHERE routing_key IS NULL AND tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $1"},
		{"filter, no key", d, evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: none},
			"H WHERE ((aggregate_type = $1)) AND routing_key IS NULL AND tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $2"},
		{"filter, no key, unestimated", Dialect{Placeholders: DollarNumbers, UnestimatedNoKey: true},
			evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: none},
			"H WHERE ((aggregate_type = $1)) AND COALESCE(routing_key IS NULL, FALSE) AND tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $2"},
	} {
		args := []any{int64(cursor.DefaultLimit + 1)}
		if len(tc.q.Filters) > 0 {
			args = []any{"A", int64(cursor.DefaultLimit + 1)}
		}
		checkStatement(t, tc.name, tc.want, args)(txKeyset.Statement(tc.d, "H", &tc.q))
	}
	bad := evento.Query{Args: cursor.Forward(1, cursor.Encode(cursor.Position{Seq: 3}))}
	if _, _, err := txKeyset.Statement(d, "H", &bad); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("cursor the keyset refuses: err = %v, want cursor.ErrInvalid", err)
	}
}

// A keyset with a table reads one aggregate by version: the cursor's
// position becomes the version of the aggregate's event there, or the
// nearest version on the cursor's side of it.
func TestKeysetStatementByVersion(t *testing.T) {
	d := Dialect{Placeholders: DollarNumbers}
	k := txKeyset
	k.Table, k.Search = "E", true
	k.Bound = "" // PostgreSQL reads one aggregate without the horizon
	at := cursor.Encode(cursor.Position{Tx: 900, Seq: 42})
	agg := []evento.Filter{{AggregateType: "A", AggregateID: "1"}}
	for _, tc := range []struct {
		name string
		q    evento.Query
		want string
		args []any
	}{
		{
			name: "first page",
			q:    evento.Query{Filters: agg, Args: cursor.Forward(3, "")},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) ORDER BY version ASC LIMIT $3",
			args: []any{"A", "1", int64(4)},
		},
		{
			name: "forward after a cursor",
			q:    evento.Query{Filters: agg, Args: cursor.Forward(3, at)},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version > COALESCE(" +
				"(SELECT version FROM E WHERE tx_id = $3::xid8 AND seq = $4 AND aggregate_type = $5 AND aggregate_id = $6), " +
				"(WITH RECURSIVE search (lo, hi, c) AS (SELECT lo, hi," +
				" (SELECT (tx_id, seq) <= ($7::xid8, $8) FROM E WHERE aggregate_type = $9 AND aggregate_id = $10 AND version = (lo + hi + 1) / 2)" +
				" FROM (SELECT CAST(0 AS BIGINT) AS lo," +
				" COALESCE((SELECT version FROM E WHERE aggregate_type = $11 AND aggregate_id = $12 ORDER BY version DESC LIMIT 1), 0) AS hi) AS start" +
				" UNION ALL SELECT" +
				" CASE c WHEN TRUE THEN (lo + hi + 1) / 2 WHEN FALSE THEN lo END," +
				" CASE c WHEN TRUE THEN hi WHEN FALSE THEN (lo + hi + 1) / 2 - 1 END," +
				" (SELECT (tx_id, seq) <= ($13::xid8, $14) FROM E WHERE aggregate_type = $15 AND aggregate_id = $16 AND version =" +
				" CASE c WHEN TRUE THEN ((lo + hi + 1) / 2 + hi + 1) / 2 WHEN FALSE THEN (lo + (lo + hi + 1) / 2) / 2 END)" +
				" FROM search WHERE lo < hi) SELECT lo FROM search WHERE lo = hi), " +
				"(SELECT MAX(version) FROM E WHERE aggregate_type = $17 AND aggregate_id = $18 AND (tx_id, seq) <= ($19::xid8, $20)), 0)" +
				" ORDER BY version ASC LIMIT $21",
			args: []any{"A", "1", uint64(900), int64(42), "A", "1", uint64(900), int64(42), "A", "1", "A", "1", uint64(900), int64(42), "A", "1",
				"A", "1", uint64(900), int64(42), int64(4)},
		},
		{
			name: "backward before a cursor",
			q:    evento.Query{Filters: agg, Args: cursor.Backward(3, at)},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version < COALESCE(" +
				"(SELECT version FROM E WHERE tx_id = $3::xid8 AND seq = $4 AND aggregate_type = $5 AND aggregate_id = $6), " +
				"(WITH RECURSIVE search (lo, hi, c) AS (SELECT lo, hi," +
				" (SELECT (tx_id, seq) >= ($7::xid8, $8) FROM E WHERE aggregate_type = $9 AND aggregate_id = $10 AND version = (lo + hi) / 2)" +
				" FROM (SELECT CAST(1 AS BIGINT) AS lo," +
				" COALESCE((SELECT version FROM E WHERE aggregate_type = $11 AND aggregate_id = $12 ORDER BY version DESC LIMIT 1), 0) + 1 AS hi) AS start" +
				" UNION ALL SELECT" +
				" CASE c WHEN TRUE THEN lo WHEN FALSE THEN (lo + hi) / 2 + 1 END," +
				" CASE c WHEN TRUE THEN (lo + hi) / 2 WHEN FALSE THEN hi END," +
				" (SELECT (tx_id, seq) >= ($13::xid8, $14) FROM E WHERE aggregate_type = $15 AND aggregate_id = $16 AND version =" +
				" CASE c WHEN TRUE THEN (lo + (lo + hi) / 2) / 2 WHEN FALSE THEN ((lo + hi) / 2 + 1 + hi) / 2 END)" +
				" FROM search WHERE lo < hi) SELECT hi FROM search WHERE lo = hi), " +
				"(SELECT MIN(version) FROM E WHERE aggregate_type = $17 AND aggregate_id = $18 AND (tx_id, seq) >= ($19::xid8, $20)), 9223372036854775807)" +
				" ORDER BY version DESC LIMIT $21",
			args: []any{"A", "1", uint64(900), int64(42), "A", "1", uint64(900), int64(42), "A", "1", "A", "1", uint64(900), int64(42), "A", "1",
				"A", "1", uint64(900), int64(42), int64(4)},
		},
		{
			name: "two aggregates stay in global order",
			q:    evento.Query{Filters: append(agg, evento.Filter{AggregateType: "A", AggregateID: "2"}), Args: cursor.Forward(3, at)},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2) OR (aggregate_type = $3 AND aggregate_id = $4))" +
				" AND (tx_id, seq) > ($5::xid8, $6) ORDER BY tx_id ASC, seq ASC LIMIT $7",
			args: []any{"A", "1", "A", "2", uint64(900), int64(42), int64(4)},
		},
	} {
		checkStatement(t, tc.name, tc.want, tc.args)(k.Statement(d, "H", &tc.q))
	}
	// With SearchFunc, the search is a call of that function.
	called := k
	called.SearchFunc = "s.version_at"
	checkStatement(t, "search function", "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version < COALESCE("+
		"(SELECT version FROM E WHERE tx_id = $3::xid8 AND seq = $4 AND aggregate_type = $5 AND aggregate_id = $6), "+
		"s.version_at((SELECT CAST($7 AS TEXT)), $8, $9::xid8, $10, TRUE), "+
		"(SELECT MIN(version) FROM E WHERE aggregate_type = $11 AND aggregate_id = $12 AND (tx_id, seq) >= ($13::xid8, $14)), 9223372036854775807)"+
		" ORDER BY version DESC LIMIT $15",
		[]any{"A", "1", uint64(900), int64(42), "A", "1", "A", "1", uint64(900), int64(42), "A", "1", uint64(900), int64(42), int64(4)},
	)(called.Statement(d, "H", &evento.Query{Filters: agg, Args: cursor.Backward(3, at)}))
	// Without Search, a version the cursor's own event does not give is
	// read from every version beyond the cursor.
	plain := k
	plain.Search = false
	checkStatement(t, "without search", "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version > COALESCE("+
		"(SELECT version FROM E WHERE tx_id = $3::xid8 AND seq = $4 AND aggregate_type = $5 AND aggregate_id = $6), "+
		"(SELECT MAX(version) FROM E WHERE aggregate_type = $7 AND aggregate_id = $8 AND (tx_id, seq) <= ($9::xid8, $10)), 0)"+
		" ORDER BY version ASC LIMIT $11",
		[]any{"A", "1", uint64(900), int64(42), "A", "1", "A", "1", uint64(900), int64(42), int64(4)},
	)(plain.Statement(d, "H", &evento.Query{Filters: agg, Args: cursor.Forward(3, at)}))
	// The version at the cursor, when the caller knows it.
	for _, tc := range []struct {
		args cursor.Args
		want string
	}{
		{cursor.Forward(3, at), "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version > $3 ORDER BY version ASC LIMIT $4"},
		{cursor.Backward(3, at), "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND version < $3 ORDER BY version DESC LIMIT $4"},
	} {
		checkStatement(t, "at version 17", tc.want, []any{"A", "1", int64(17), int64(4)})(
			k.StatementAtVersion(d, "H", &evento.Query{Filters: agg, Args: tc.args}, 17))
	}
}

// checkStatement returns a check of a built statement and its arguments
// against want and args.
func checkStatement(t *testing.T, name, want string, args []any) func(string, []any, error) {
	t.Helper()
	return func(got string, gotArgs []any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		if !reflect.DeepEqual(gotArgs, args) {
			t.Errorf("%s: args %#v, want %#v", name, gotArgs, args)
		}
	}
}
