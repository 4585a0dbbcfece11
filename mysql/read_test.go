package mysql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// A page read through an index reads the range of the index between its
// cursor and its bound, whatever the planner estimates: never the index
// entries before its cursor (which made every page of a catch-up cost in
// proportion to the events before it), and never a sort.
func TestReadsRangeOfTheirIndex(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	for i := range 40 {
		c := newCommit("a", fmt.Sprint("agg-", i%4), int64(i/4*100), 100)
		c.RoutingKey = "k"
		mustAppend(t, x, c)
	}
	for i := range 5 {
		mustAppend(t, x, newCommit("b", fmt.Sprint("b-", i), 0, 2))
	}
	if _, err := x.DB().ExecContext(ctx, "ANALYZE TABLE evento_events"); err != nil {
		t.Fatal(err)
	}
	const upTo = 4000
	at := func(p uint64) cursor.Value { return cursor.Encode(cursor.Position{Seq: p}) }
	for _, tc := range []struct {
		name  string
		q     evento.Query
		index string
	}{
		{"type", evento.Query{Filters: []evento.Filter{{AggregateType: "a"}}, Args: cursor.Forward(100, at(1000))}, "type_position"},
		{"type backward", evento.Query{Filters: []evento.Filter{{AggregateType: "a"}}, Args: cursor.Backward(100, at(3000))}, "type_position"},
		{"type and name", evento.Query{Filters: []evento.Filter{{AggregateType: "a", Name: "Event1"}}, Args: cursor.Forward(100, at(1000))}, "type_name_position"},
		{"aggregate", evento.Query{Filters: []evento.Filter{{AggregateType: "a", AggregateID: "agg-1"}}, Args: cursor.Forward(100, at(1000))}, "aggregate_position"},
		{"routing key", evento.Query{RoutingKey: evento.RoutingKeyOf("k"), Args: cursor.Forward(100, at(1000))}, "routing_key_position"},
		{"two types", evento.Query{Filters: []evento.Filter{{AggregateType: "b"}, {AggregateType: "a"}}, Args: cursor.Forward(100, at(1000))}, "type_position"},
		{"two types backward", evento.Query{Filters: []evento.Filter{{AggregateType: "a", Name: "Event2"}, {AggregateType: "b", AggregateID: "b-1"}},
			Args: cursor.Backward(100, at(3000))}, "type_name_position aggregate_position"},
		{"two aggregates of a type", evento.Query{Filters: []evento.Filter{{AggregateType: "a", AggregateID: "agg-1"}, {AggregateType: "a", AggregateID: "agg-2"}},
			Args: cursor.Forward(100, at(1000))}, "aggregate_position"},
	} {
		stmt, args, err := x.ReadStatement(tc.q, upTo)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		if err := x.DB().QueryRowContext(ctx, "EXPLAIN FORMAT=JSON "+stmt, args...).Scan(&plan); err != nil {
			t.Fatalf("%s: EXPLAIN %s: %v", tc.name, stmt, err)
		}
		var tree any
		if err := json.Unmarshal([]byte(plan), &tree); err != nil {
			t.Fatal(err)
		}
		// Every read of the table is a range of the index that ends with
		// the position (a union also reads its page of positions by
		// primary key); none sorts, but for the union's positions.
		tables := planTables(tree, nil)
		ranges := 0
		for _, table := range tables {
			name, _ := table["table_name"].(string)
			access, _ := table["access_type"].(string)
			key, _ := table["key"].(string)
			var parts []string
			if ps, ok := table["used_key_parts"].([]any); ok {
				for _, p := range ps {
					s, _ := p.(string)
					parts = append(parts, s)
				}
			}
			switch {
			case strings.HasPrefix(name, "<"): // a derived table: the union's positions
			case access == "eq_ref" && key == "PRIMARY" && len(tables) > 1:
			case access == "range" && len(parts) >= 2 && parts[len(parts)-1] == "position" &&
				slices.Contains(strings.Fields(tc.index), key):
				ranges++
			default:
				t.Errorf("%s: access %q on %q, key parts %v, want a range of %s ending with position:\n%s",
					tc.name, access, key, parts, tc.index, plan)
			}
		}
		if wantRanges := max(1, len(tc.q.Filters)); ranges != wantRanges {
			t.Errorf("%s: %d ranges read, want %d:\n%s", tc.name, ranges, wantRanges, plan)
		}
		if len(tables) == 1 && strings.Contains(plan, "filesort") {
			t.Errorf("%s: the read sorts:\n%s", tc.name, plan)
		}
		// Where every event matches, the page starts (or, backward, ends)
		// right next to the cursor.
		page, err := x.Read(ctx, tc.q)
		if err != nil || len(page.Edges) != 100 {
			t.Fatalf("%s: Read: %v, %v", tc.name, page, err)
		}
		if len(tc.q.Filters) > 1 || tc.q.Filters != nil && (tc.q.Filters[0].Name != "" || tc.q.Filters[0].AggregateID != "") {
			continue
		}
		first, last := page.Edges[0].Node.Position.Seq, page.Edges[99].Node.Position.Seq
		if tc.q.Args.IsBackward() && last != 2999 || !tc.q.Args.IsBackward() && first != 1001 {
			t.Errorf("%s: page of positions %d to %d", tc.name, first, last)
		}
	}
}

// planTables returns every "table" object of an EXPLAIN FORMAT=JSON tree.
func planTables(node any, out []map[string]any) []map[string]any {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if t, ok := v.(map[string]any); ok && k == "table" {
				out = append(out, t)
			}
			out = planTables(v, out)
		}
	case []any:
		for _, v := range n {
			out = planTables(v, out)
		}
	}
	return out
}

// A forward read far behind the last counter value the executor read is
// bounded by that value while its page comes back full, and reads the
// counter as soon as a page is not: the events appended through another
// executor since then are returned, and the page is read again only when
// the counter has moved.
func TestReadBehindBoundedByKnownHorizon(t *testing.T) {
	ctx := context.Background()
	dsn := freshDatabase(t)
	x, other := openDSN(t, dsn), openDSN(t, dsn)
	mustAppend(t, x, newCommit("A", "a", 0, 30))
	if _, err := x.Read(ctx, evento.Query{Args: cursor.Backward(1, "")}); err != nil {
		t.Fatal(err)
	}
	if got := x.KnownHorizon(); got != 30 {
		t.Fatalf("known horizon %d after a read of a log of 30 events, want 30", got)
	}
	mustAppend(t, other, newCommit("A", "b", 0, 5)) // positions 31..35, unknown to x

	page, queries, err := x.ReadRecorded(ctx, evento.Query{Args: cursor.Forward(10, "")})
	if err != nil {
		t.Fatal(err)
	}
	if got := positions(page.Nodes()); len(got) != 10 || got[0] != 1 || got[9] != 10 || !page.PageInfo.HasNextPage {
		t.Fatalf("first page: positions %v, next page %v; want 1..10 and a next page", got, page.PageInfo.HasNextPage)
	}
	if len(queries) != 1 || x.KnownHorizon() != 30 {
		t.Errorf("a full page 30 positions behind ran %d page statements and left the known horizon at %d; want 1 and 30 (no counter read)",
			len(queries), x.KnownHorizon())
	}

	ofB := evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "b"}}, Args: cursor.Forward(3, "")}
	page, queries, err = x.ReadRecorded(ctx, ofB)
	if err != nil {
		t.Fatal(err)
	}
	if got := positions(page.Nodes()); !slices.Equal(got, []uint64{31, 32, 33}) || !page.PageInfo.HasNextPage {
		t.Fatalf("events of b: positions %v, next page %v; want [31 32 33] and a next page", got, page.PageInfo.HasNextPage)
	}
	if len(queries) != 2 || x.KnownHorizon() != 35 {
		t.Errorf("a page empty below the known horizon ran %d page statements and left it at %d; want 2 (before and after the counter moved) and 35",
			len(queries), x.KnownHorizon())
	}

	ofC := evento.Query{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "c"}}, Args: cursor.Forward(3, "")}
	page, queries, err = x.ReadRecorded(ctx, ofC)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != 0 || len(queries) != 1 {
		t.Errorf("events of c before any: %d events in %d page statements; want none in 1 (the counter did not move)", len(page.Edges), len(queries))
	}
	mustAppend(t, other, newCommit("A", "c", 0, 1))
	page, queries, err = x.ReadRecorded(ctx, ofC)
	if err != nil {
		t.Fatal(err)
	}
	if got := positions(page.Nodes()); !slices.Equal(got, []uint64{36}) || len(queries) != 2 {
		t.Errorf("events of c after one was appended elsewhere: positions %v in %d page statements; want [36] in 2", got, len(queries))
	}
}
