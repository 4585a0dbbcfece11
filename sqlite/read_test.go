package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
