package sqlstore

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestStatement(t *testing.T) {
	head := "SELECT " + EventColumns + " FROM t"
	at := func(seq uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: seq}) }
	for _, tc := range []struct {
		name     string
		q        evento.Query
		question string
		dollar   string
		args     []any
	}{
		{
			name:     "everything",
			q:        evento.Query{},
			question: head + " ORDER BY position ASC LIMIT ?",
			dollar:   head + " ORDER BY position ASC LIMIT $1",
			args:     []any{int64(cursor.DefaultLimit + 1)},
		},
		{
			name: "filters of every shape, forward after a cursor",
			q: evento.Query{
				Filters: []evento.Filter{
					{AggregateType: "A"},
					{AggregateType: "A", AggregateID: "1"},
					{AggregateType: "B", Name: "N"},
					{AggregateType: "C", AggregateID: "2", Name: "M"},
				},
				Args: cursor.Forward(10, at(42)),
			},
			question: head + " WHERE ((aggregate_type = ?) OR (aggregate_type = ? AND aggregate_id = ?)" +
				" OR (aggregate_type = ? AND name = ?) OR (aggregate_type = ? AND aggregate_id = ? AND name = ?))" +
				" AND position > ? ORDER BY position ASC LIMIT ?",
			dollar: head + " WHERE ((aggregate_type = $1) OR (aggregate_type = $2 AND aggregate_id = $3)" +
				" OR (aggregate_type = $4 AND name = $5) OR (aggregate_type = $6 AND aggregate_id = $7 AND name = $8))" +
				" AND position > $9 ORDER BY position ASC LIMIT $10",
			args: []any{"A", "A", "1", "B", "N", "C", "2", "M", int64(42), int64(11)},
		},
		{
			name:     "routing key value, backward before a cursor",
			q:        evento.Query{RoutingKey: evento.RoutingKeyOf("eu"), Args: cursor.Backward(5, at(7))},
			question: head + " WHERE routing_key = ? AND position < ? ORDER BY position DESC LIMIT ?",
			dollar:   head + " WHERE routing_key = $1 AND position < $2 ORDER BY position DESC LIMIT $3",
			args:     []any{"eu", int64(7), int64(6)},
		},
		{
			name:     "no routing key, backward from the end",
			q:        evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: evento.NoRoutingKey(), Args: cursor.Backward(3, "")},
			question: head + " WHERE ((aggregate_type = ?)) AND routing_key IS NULL ORDER BY position DESC LIMIT ?",
			dollar:   head + " WHERE ((aggregate_type = $1)) AND routing_key IS NULL ORDER BY position DESC LIMIT $2",
			args:     []any{"A", int64(4)},
		},
	} {
		for _, d := range []struct {
			dialect Dialect
			want    string
		}{{Dialect{Placeholders: QuestionMarks}, tc.question}, {Dialect{Placeholders: DollarNumbers}, tc.dollar}} {
			got, args, err := NewEventReader(d.dialect, "t").Statement(&tc.q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got != d.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.name, got, d.want)
			}
			if !reflect.DeepEqual(args, tc.args) {
				t.Errorf("%s: args %#v, want %#v", tc.name, args, tc.args)
			}
		}
	}
}

func TestStatementRejects(t *testing.T) {
	r := NewEventReader(Dialect{}, "t")
	for _, tc := range []struct {
		q    evento.Query
		want error
	}{
		{evento.Query{Filters: []evento.Filter{{AggregateID: "x"}}}, evento.ErrInvalidArgument},
		{evento.Query{Args: cursor.Args{First: -1}}, cursor.ErrInvalidArgs},
		{evento.Query{Args: cursor.Forward(1, "%%%")}, cursor.ErrInvalid},
		{evento.Query{Args: cursor.Backward(1, cursor.Encode(cursor.Position{Tx: 1, Seq: 1}))}, cursor.ErrInvalid},
		{evento.Query{Args: cursor.Forward(1, cursor.Encode(cursor.Position{Seq: 1 << 63}))}, cursor.ErrInvalid},
	} {
		if _, _, err := r.Statement(&tc.q); !errors.Is(err, tc.want) {
			t.Errorf("Statement(%+v): err = %v, want %v", tc.q, err, tc.want)
		}
	}
}

// A reader that forces indexes names, in the statement of a read from a
// cursor that one index serves, that index, and no index in any other
// read (several filters: see below).
func TestStatementForcesIndexes(t *testing.T) {
	ix := Indexes{Type: "ty", TypeName: "tn", Aggregate: "ag", RoutingKey: "rk"}
	d := Dialect{Placeholders: QuestionMarks, IdentQuote: '`'}
	r := NewEventReader(d, "t").ForceIndexes(ix)
	head := "SELECT " + EventColumns + " FROM t"
	at := func(seq uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: seq}) }
	for _, tc := range []struct {
		name  string
		q     evento.Query
		index string
	}{
		{"a type", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}}, "ty"},
		{"a type and a routing key", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: evento.RoutingKeyOf("k")}, "ty"},
		{"a type and a name", evento.Query{Filters: []evento.Filter{{AggregateType: "A", Name: "N"}}}, "tn"},
		{"an aggregate", evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "1"}}}, "ag"},
		{"an aggregate and a name", evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "1", Name: "N"}}}, "ag"},
		{"a routing key", evento.Query{RoutingKey: evento.RoutingKeyOf("k")}, "rk"},
		{"no routing key", evento.Query{RoutingKey: evento.NoRoutingKey()}, "rk"},
		{"two filters of an aggregate", evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "1", Name: "N"}, {AggregateType: "A", AggregateID: "1", Name: "M"}}}, "ag"},
		{"a type, and filters it covers", evento.Query{Filters: []evento.Filter{{AggregateType: "A", Name: "N"}, {AggregateType: "A"}, {AggregateType: "A", AggregateID: "1"}, {AggregateType: "A"}}}, "ty"},
		{"everything", evento.Query{}, ""},
		{"any routing key", evento.Query{RoutingKey: evento.AnyRoutingKey(), Args: cursor.Backward(5, at(9))}, ""},
		{"a type from the start", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, Args: cursor.Forward(10, "")}, ""},
		{"an aggregate from the end", evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "1"}}, Args: cursor.Backward(10, "")}, ""},
	} {
		if tc.q.Args == (cursor.Args{}) {
			tc.q.Args = cursor.Forward(10, at(42))
		}
		got, _, err := r.Statement(&tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := head
		if tc.index != "" {
			want += " FORCE INDEX (`" + tc.index + "`)"
		}
		if !strings.HasPrefix(got, want+" ") {
			t.Errorf("%s: %s\ndoes not start with %s", tc.name, got, want)
		}
		simple, err := Simplified(&tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if plain, _, _ := NewEventReader(d, "t").Statement(simple); got != strings.Replace(plain, head, want, 1) {
			t.Errorf("%s: %s\nis not the unforced statement %s with the index named", tc.name, got, plain)
		}
	}
	// Filters of several types: a union of a read of each filter through
	// its index.
	q := evento.Query{
		Filters:    []evento.Filter{{AggregateType: "A", Name: "N"}, {AggregateType: "B"}, {AggregateType: "A", Name: "M"}, {AggregateType: "C", AggregateID: "1"}},
		RoutingKey: evento.RoutingKeyOf("k"),
		Args:       cursor.Backward(5, cursor.Encode(cursor.Position{Seq: 9})),
	}
	cols := "e." + strings.ReplaceAll(EventColumns, ", ", ", e.")
	checkStatement(t, "several types", "SELECT "+cols+" FROM (SELECT position FROM ("+
		"(SELECT position FROM t FORCE INDEX (`tn`) WHERE ((aggregate_type = ? AND name = ?)) AND routing_key = ? AND position < ? ORDER BY position DESC LIMIT ?)"+
		" UNION (SELECT position FROM t FORCE INDEX (`ty`) WHERE ((aggregate_type = ?)) AND routing_key = ? AND position < ? ORDER BY position DESC LIMIT ?)"+
		" UNION (SELECT position FROM t FORCE INDEX (`tn`) WHERE ((aggregate_type = ? AND name = ?)) AND routing_key = ? AND position < ? ORDER BY position DESC LIMIT ?)"+
		" UNION (SELECT position FROM t FORCE INDEX (`ag`) WHERE ((aggregate_type = ? AND aggregate_id = ?)) AND routing_key = ? AND position < ? ORDER BY position DESC LIMIT ?)"+
		") AS u ORDER BY position DESC LIMIT ?) AS k JOIN t AS e ON e.position = k.position ORDER BY e.position DESC",
		[]any{"A", "N", "k", int64(9), int64(6), "B", "k", int64(9), int64(6), "A", "M", "k", int64(9), int64(6), "C", "1", "k", int64(9), int64(6), int64(6)})(r.Statement(&q))
	q.Args = cursor.Backward(5, "%%%")
	if _, _, err := r.Statement(&q); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("several types, malformed cursor: err = %v", err)
	}

	// Paged by version, a read of one aggregate is the version key's.
	q = evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "1"}}}
	if got, _, _ := r.ByVersion().Statement(&q); strings.Contains(got, "FORCE") {
		t.Errorf("by version: %s", got)
	}
}
