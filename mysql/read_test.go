package mysql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
// executor since then are returned, and the page is completed (a second
// page statement) only when the counter has moved.
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

// A page not full below the known horizon is completed, once the counter
// has moved, with the events after that horizon only: it reports a next
// page when there is one, and keeps the events it found before the newer
// ones.
func TestReadBehindCompletesShortPage(t *testing.T) {
	ctx := context.Background()
	dsn := freshDatabase(t)
	x, other := openDSN(t, dsn), openDSN(t, dsn)
	for i := range 10 {
		mustAppend(t, x, newCommit("A", fmt.Sprint("a", i), 0, 1)) // 1..10
	}
	mustAppend(t, x, newCommit("X", "x", 0, 30)) // 11..40
	if _, err := x.Read(ctx, evento.Query{Args: cursor.Backward(1, "")}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, other, newCommit("A", "late", 0, 1)) // 41, unknown to x
	ofA := []evento.Filter{{AggregateType: "A"}}

	// Exactly a page of A below 40, and one more after it.
	page, err := x.Read(ctx, evento.Query{Filters: ofA, Args: cursor.Forward(10, "")})
	if err != nil {
		t.Fatal(err)
	}
	if got := positions(page.Nodes()); len(got) != 10 || got[9] != 10 || !page.PageInfo.HasNextPage {
		t.Errorf("10 events of A: positions %v, next page %v; want 1..10 and a next page (41)", got, page.PageInfo.HasNextPage)
	}
	if x.KnownHorizon() != 41 {
		t.Errorf("known horizon %d, want 41", x.KnownHorizon())
	}
	mustAppend(t, other, newCommit("A", "later", 0, 1)) // 42
	page, args, err := x.ReadArgsRecorded(ctx, evento.Query{Filters: ofA, Args: cursor.Forward(20, "")})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 41, 42}
	if got := positions(page.Nodes()); !slices.Equal(got, want) || page.PageInfo.HasNextPage {
		t.Errorf("20 events of A: positions %v, next page %v; want %v and none", got, page.PageInfo.HasNextPage, want)
	}
	if n := len(page.Edges); n > 0 && (page.PageInfo.StartCursor != page.Edges[0].Cursor || page.PageInfo.EndCursor != page.Edges[n-1].Cursor) {
		t.Errorf("page cursors %+v do not match its edges", page.PageInfo)
	}
	// The second statement reads after the known horizon, 41, not from the
	// start again.
	if len(args) != 2 || !slices.Contains(args[1], any(int64(41))) {
		t.Errorf("page statements ran with arguments %v; want two, the second after position 41", args)
	}
}

// Reads by one executor while another appends, checked against the log
// they should see: every forward read is exactly the first page of the
// matching events after its cursor, whatever the executor's known horizon
// (left behind by the other's appends, refreshed now and then by a
// backward read).
func TestReadBehindMatchesLog(t *testing.T) {
	ctx := context.Background()
	dsn := freshDatabase(t)
	x, other := openDSN(t, dsn), openDSN(t, dsn)
	rnd := rand.New(rand.NewPCG(1, 2))
	types, keys := []string{"A", "B", "C"}, []string{"", "k1", "k2"}
	shapes := [][]evento.Filter{
		nil,
		{{AggregateType: "A"}},
		{{AggregateType: "B", Name: "Event1"}},
		{{AggregateType: "A"}, {AggregateType: "C"}},
		{{AggregateType: "C", AggregateID: "c-3"}},
		{{AggregateType: "B"}, {AggregateType: "A", AggregateID: "a-1"}},
	}
	routing := []evento.RoutingKey{evento.AnyRoutingKey(), evento.NoRoutingKey(), evento.RoutingKeyOf("k1")}
	var log []*evento.Event
	versions := map[string]int64{}
	for i := range 300 {
		for range rnd.IntN(12) {
			typ := types[rnd.IntN(len(types))]
			id := fmt.Sprintf("%s-%d", strings.ToLower(typ), rnd.IntN(5))
			c := newCommit(typ, id, versions[typ+id], 1+rnd.IntN(3))
			if versions[typ+id] == 0 {
				c.RoutingKey = keys[rnd.IntN(len(keys))]
			}
			mustAppend(t, other, c)
			versions[typ+id] += int64(len(c.Events))
			log = append(log, c.Events...)
		}
		if i%17 == 0 {
			if _, err := x.Read(ctx, evento.Query{Args: cursor.Backward(1, "")}); err != nil {
				t.Fatal(err)
			}
		}
		q := evento.Query{Filters: shapes[rnd.IntN(len(shapes))], RoutingKey: routing[rnd.IntN(len(routing))]}
		var after uint64
		if len(log) > 0 && rnd.IntN(4) > 0 {
			after = log[rnd.IntN(len(log))].Position.Seq
		}
		limit := 1 + rnd.IntN(20)
		q.Args = cursor.Forward(limit, "")
		if after > 0 {
			q.Args.After = cursor.Encode(cursor.Position{Seq: after})
		}
		var want []uint64
		for _, e := range log {
			if e.Position.Seq > after && q.Match(e) {
				want = append(want, e.Position.Seq)
			}
		}
		more := len(want) > limit
		want = want[:min(len(want), limit)]
		page, err := x.Read(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := positions(page.Nodes()); !slices.Equal(got, want) || page.PageInfo.HasNextPage != more {
			t.Fatalf("read %d (%+v after %d, limit %d, known horizon %d): positions %v, next page %v; want %v, %v",
				i, q.Filters, after, limit, x.KnownHorizon(), got, page.PageInfo.HasNextPage, want, more)
		}
	}
}
