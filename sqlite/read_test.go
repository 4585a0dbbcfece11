package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// seedPagination appends interleaved commits to aggregates of two types,
// with and without routing keys, and returns every event in global order.
func seedPagination(t *testing.T, x *sqlite.Executor) []*evento.Event {
	t.Helper()
	versions := map[string]int64{}
	keys := []string{"", "eu", "us"}
	for round := range 6 {
		for i, agg := range []string{"a1", "a2", "a3", "b1", "b2"} {
			typ := "A"
			if agg[0] == 'b' {
				typ = "B"
			}
			c := newCommit(typ, agg, versions[agg], 1+(round+i)%3)
			c.RoutingKey = keys[i%3]
			mustAppend(t, x, c)
			versions[agg] += int64(len(c.Events))
		}
	}
	return readAll(t, x, evento.Query{})
}

func TestReadPaginationMatchesReference(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	all := seedPagination(t, x)

	queries := []evento.Query{
		{},
		{Filters: []evento.Filter{{AggregateType: "A"}}},
		{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "a2"}}},
		{Filters: []evento.Filter{{AggregateType: "B", Name: "Event2"}}},
		{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "a1", Name: "Event1"}}},
		{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "a3"}, {AggregateType: "B", Name: "Event3"}}},
		{RoutingKey: evento.NoRoutingKey()},
		{RoutingKey: evento.RoutingKeyOf("eu")},
		{Filters: []evento.Filter{{AggregateType: "A"}, {AggregateType: "B"}}, RoutingKey: evento.RoutingKeyOf("us")},
		{Filters: []evento.Filter{{AggregateType: "missing"}}},
		// Several filters: the union of a read of each.
		{Filters: []evento.Filter{{AggregateType: "A", Name: "Event1"}, {AggregateType: "A", Name: "Event3"}}},
		{Filters: []evento.Filter{{AggregateType: "A", Name: "Event2"}, {AggregateType: "B", Name: "Event2"}, {AggregateType: "A", AggregateID: "a1"}}},
		{Filters: []evento.Filter{{AggregateType: "A", AggregateID: "a2"}, {AggregateType: "A", AggregateID: "a2", Name: "Event1"}, {AggregateType: "B", AggregateID: "b1"}}},
		{Filters: []evento.Filter{{AggregateType: "B", Name: "Event1"}, {AggregateType: "A", Name: "Event2"}}, RoutingKey: evento.NoRoutingKey()},
		{Filters: []evento.Filter{{AggregateType: "B"}, {AggregateType: "A", Name: "Event2"}, {AggregateType: "missing", Name: "Event1"}}, RoutingKey: evento.RoutingKeyOf("eu")},
	}
	position := func(e *evento.Event) cursor.Position { return e.Position }
	for qi, q := range queries {
		var matching []*evento.Event
		for _, e := range all {
			if q.Match(e) {
				matching = append(matching, e)
			}
		}
		// Walk every page both ways, with several page sizes.
		for _, size := range []int{1, 3, 7, 1000} {
			for _, backward := range []bool{false, true} {
				args := cursor.Forward(size, "")
				if backward {
					args = cursor.Backward(size, "")
				}
				for pages := 0; ; pages++ {
					page := comparePage(t, ctx, x, q, args, matching, position, fmt.Sprintf("query %d, %+v", qi, args))
					if page == nil || pages > len(all) {
						break
					}
					if backward && page.PageInfo.HasPreviousPage {
						args.Before = page.PageInfo.StartCursor
					} else if !backward && page.PageInfo.HasNextPage {
						args.After = page.PageInfo.EndCursor
					} else {
						break
					}
				}
			}
		}
		// Start from a cursor at every stored event, matching or not.
		for _, e := range all {
			for _, args := range []cursor.Args{cursor.Forward(4, e.Cursor()), cursor.Backward(4, e.Cursor())} {
				comparePage(t, ctx, x, q, args, matching, position, fmt.Sprintf("query %d, %+v", qi, args))
			}
		}
	}
}

// comparePage reads one page and checks it against cursor.Paginate over the
// matching events. It returns nil after reporting a mismatch.
func comparePage(t *testing.T, ctx context.Context, x *sqlite.Executor, q evento.Query, args cursor.Args,
	matching []*evento.Event, position func(*evento.Event) cursor.Position, what string,
) *cursor.Page[*evento.Event] {
	t.Helper()
	want, err := cursor.Paginate(matching, position, args)
	if err != nil {
		t.Fatalf("%s: Paginate: %v", what, err)
	}
	q.Args = args
	got, err := x.Read(ctx, q)
	if err != nil {
		t.Errorf("%s: Read: %v", what, err)
		return nil
	}
	if !reflect.DeepEqual(got.PageInfo, want.PageInfo) || len(got.Edges) != len(want.Edges) {
		t.Errorf("%s: page %v with %d edges, want %v with %d", what, got.PageInfo, len(got.Edges), want.PageInfo, len(want.Edges))
		return nil
	}
	for i := range got.Edges {
		g, w := got.Edges[i], want.Edges[i]
		if g.Cursor != w.Cursor || g.Node.ID != w.Node.ID {
			t.Errorf("%s: edge %d is %s at %v, want %s at %v", what, i, g.Node.ID, g.Node.Position, w.Node.ID, w.Node.Position)
			return nil
		}
	}
	return got
}

func TestReadRejectsMalformedCursors(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "a", 0, 3))
	bad := []cursor.Value{
		"not a cursor!",
		"AQ", // truncated
		"AQEB" + "AAAA",
		cursor.Encode(cursor.Position{Tx: 7, Seq: 1}),                                        // from a store ordered by transaction
		cursor.Encode(cursor.Position{Seq: 1 << 63}),                                         // beyond an SQL integer
		cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Seq: 1}}, Head: -1}), // a composite store's cursor
		cursor.Value(string(make([]byte, cursor.MaxLen+1))),                                  // oversized
	}
	for _, v := range bad {
		for _, args := range []cursor.Args{cursor.Forward(10, v), cursor.Backward(10, v)} {
			_, err := x.Read(ctx, evento.Query{Args: args})
			if !errors.Is(err, cursor.ErrInvalid) {
				t.Errorf("cursor %.20q: err = %v, want cursor.ErrInvalid", v, err)
			}
		}
	}
}

func TestReadRejectsInvalidQueries(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	if _, err := x.Read(ctx, evento.Query{Filters: []evento.Filter{{Name: "Event1"}}}); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("filter without type: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := x.Read(ctx, evento.Query{Args: cursor.Args{First: 1, Last: 1}}); !errors.Is(err, cursor.ErrInvalidArgs) {
		t.Errorf("mixed directions: err = %v, want cursor.ErrInvalidArgs", err)
	}
	if _, err := x.Read(ctx, evento.Query{Args: cursor.Forward(cursor.MaxLimit+1, "")}); !errors.Is(err, cursor.ErrInvalidArgs) {
		t.Errorf("oversized page: err = %v, want cursor.ErrInvalidArgs", err)
	}
}

// A read of several filters, up to 64 of them, is the union of a range
// read of each filter's index, in both directions, from either end and
// from a cursor: never the planner's OR of the filters, which reads every
// match after the cursor and sorts them all (a catch-up then costs the
// square of the log).
func TestReadSeveralFiltersReadsEachIndexRange(t *testing.T) {
	x := open(t)
	seedPagination(t, x)
	at := cursor.Encode(cursor.Position{Seq: 7})
	// As many filters as a read unites: two names, and one aggregate
	// (missing or not) after another.
	most := []evento.Filter{{AggregateType: "A", Name: "Event1"}, {AggregateType: "A", Name: "Event2"}}
	for i := 0; len(most) < 64; i++ {
		most = append(most, evento.Filter{AggregateType: "B", AggregateID: fmt.Sprint("b", i)})
	}
	for _, filters := range [][]evento.Filter{
		{{AggregateType: "A", Name: "Event1"}, {AggregateType: "A", Name: "Event3"}},
		{{AggregateType: "A", Name: "Event2"}, {AggregateType: "B"}},
		{{AggregateType: "A", Name: "Event2"}, {AggregateType: "B", AggregateID: "b1"}},
		{{AggregateType: "A", Name: "Event1"}, {AggregateType: "B", Name: "Event2"}, {AggregateType: "A", AggregateID: "a3"}},
		most,
	} {
		aggregates := 0
		for _, f := range filters {
			if f.AggregateID != "" {
				aggregates++
			}
		}
		for _, args := range []cursor.Args{cursor.Forward(10, ""), cursor.Forward(10, at), cursor.Backward(10, ""), cursor.Backward(10, at)} {
			for _, key := range []evento.RoutingKey{{}, evento.NoRoutingKey(), evento.RoutingKeyOf("eu")} {
				q := evento.Query{Filters: filters, RoutingKey: key, Args: args}
				query, qargs, err := x.ReadStatement(q)
				if err != nil {
					t.Fatal(err)
				}
				plan := explain(t, x.DB(), query, qargs)
				// A filter of one aggregate pages by version, through the
				// unique (aggregate_type, aggregate_id, version) index: from
				// a cursor, a range of versions.
				byVersion := "sqlite_autoindex_evento_events_2 (aggregate_type=? AND aggregate_id=?"
				if args.After != "" || args.Before != "" {
					byVersion += " AND version"
				}
				if strings.Contains(plan, "MULTI-INDEX OR") || strings.Contains(plan, "SCAN evento_events") ||
					strings.Count(plan, "SEARCH evento_events USING ") < len(filters) ||
					strings.Count(plan, byVersion) < aggregates {
					t.Errorf("%d filters %+v %v: not a range read of each filter's index:\n%s\n%s", len(filters), args, key, query, plan)
				}
			}
		}
	}
}

// Reads of up to evento.MaxFilters filters of one aggregate each, read
// from a cursor (whose version searches nest subqueries in a union), match
// the reference on both sides of the number of filters a read unites.
// (Each read compiles a statement of up to 64 subqueries: a few cursors
// keep the test short under the race detector.)
func TestReadManyAggregateFilters(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	all := seedPagination(t, x)
	position := func(e *evento.Event) cursor.Position { return e.Position }
	at := []cursor.Value{all[1].Cursor(), all[len(all)/2].Cursor(), all[len(all)-1].Cursor(),
		cursor.Encode(cursor.Position{Seq: all[len(all)-1].Position.Seq + 5})}
	for _, n := range []int{64, 65, evento.MaxFilters} {
		filters := []evento.Filter{{AggregateType: "A", AggregateID: "a2"}, {AggregateType: "B", AggregateID: "b1"}}
		for i := len(filters); i < n; i++ {
			filters = append(filters, evento.Filter{AggregateType: "A", AggregateID: fmt.Sprint("missing-", i)})
		}
		q := evento.Query{Filters: filters}
		var matching []*evento.Event
		for _, e := range all {
			if q.Match(e) {
				matching = append(matching, e)
			}
		}
		for _, c := range at {
			for _, args := range []cursor.Args{cursor.Forward(4, c), cursor.Backward(4, c)} {
				comparePage(t, ctx, x, q, args, matching, position, fmt.Sprintf("%d filters, %+v", n, args))
			}
		}
	}
}
