package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
)

// TestReadMatchesReference pages through many query shapes, both ways and
// from cursors anywhere in the log, and checks every page against
// cursor.Paginate over the events that (*evento.Query).Match selects.
func TestReadMatchesReference(t *testing.T) {
	x := open(t, pebble.WithoutSync())
	all := appendRandomLog(t, x, rand.New(rand.NewPCG(7, 11)), 300)

	types := []string{"bank/Account", "bank/AccountOwner", "shop/Order"}
	filters := [][]evento.Filter{
		nil,
		{{AggregateType: "bank/Account"}},
		{{AggregateType: "bank/Account", AggregateID: "a1"}},
		{{AggregateType: "bank/Account", Name: "Event1"}},
		{{AggregateType: "bank/Account", AggregateID: "a2", Name: "Event2"}},
		{{AggregateType: "bank/Account", AggregateID: "a1"}, {AggregateType: "shop/Order", Name: "Event0"}},
		{{AggregateType: "bank/Account"}, {AggregateType: "bank/Account", AggregateID: "a1", Name: "Event1"}},
		{{AggregateType: "bank/AccountOwner", AggregateID: "a3"}, {AggregateType: "bank/AccountOwner", AggregateID: "a3", Name: "Event0"},
			{AggregateType: "shop/Order", AggregateID: "a0"}, {AggregateType: "bank/Account", Name: "Event2"}},
		{{AggregateType: "bank/Account", AggregateID: "a0"}, {AggregateType: "bank/Account", Name: "Event1"},
			{AggregateType: "shop/Order", Name: "Event2"}, {AggregateType: "bank/AccountOwner", AggregateID: "a1", Name: "Event0"}},
		{{AggregateType: "missing"}},
		{{AggregateType: "shop/Order", AggregateID: "missing"}},
	}
	for _, typ := range types {
		filters = append(filters,
			[]evento.Filter{{AggregateType: typ}, {AggregateType: typ, AggregateID: "a4"}},
			[]evento.Filter{{AggregateType: typ, AggregateID: "a0", Name: "Event1"}},
			[]evento.Filter{{AggregateType: typ, AggregateID: "a0", Name: "Event2"}, {AggregateType: typ, AggregateID: "a1", Name: "Event2"}})
	}
	routing := []evento.RoutingKey{evento.AnyRoutingKey(), evento.NoRoutingKey(), evento.RoutingKeyOf("eu"), evento.RoutingKeyOf("none-such")}

	for fi, fs := range filters {
		for _, rk := range routing {
			q := evento.Query{Filters: fs, RoutingKey: rk}
			want := matching(q, all)
			for _, size := range []int{1, 3, 50, 0} {
				name := fmt.Sprintf("filters%d/%s/size%d", fi, rk, size)
				checkWalk(t, name, x, q, want, size, len(all))
			}
		}
	}
}

// matching returns the events of all that q matches, in order.
func matching(q evento.Query, all []*evento.Event) []*evento.Event {
	var out []*evento.Event
	for _, e := range all {
		if q.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// appendRandomLog appends n random commits over a few aggregates and
// returns every event, in position order.
func appendRandomLog(t *testing.T, x *pebble.Executor, rng *rand.Rand, n int) []*evento.Event {
	t.Helper()
	types := []string{"bank/Account", "bank/AccountOwner", "shop/Order"}
	keys := []string{"", "eu", "us"}
	versions := make(map[string]int64)
	var all []*evento.Event
	for range n {
		// a0 gets half the commits, so that it grows long.
		typ, id := types[rng.IntN(len(types))], fmt.Sprintf("a%d", max(0, rng.IntN(10)-5))
		v := versions[typ+"/"+id]
		c := newCommit(typ, id, v, 1+rng.IntN(3))
		if v == 0 {
			c.RoutingKey = keys[rng.IntN(len(keys))]
		}
		// Skewed names make an aggregate's rare names lie far apart, so
		// that intersections seek across many versions.
		for _, e := range c.Events {
			switch r := rng.IntN(10); {
			case r < 7:
				e.Name = "Event0"
			case r < 9:
				e.Name = "Event1"
			default:
				e.Name = "Event2"
			}
		}
		mustAppend(t, x, c)
		versions[typ+"/"+id] = c.Events[len(c.Events)-1].Version
		all = append(all, c.Events...)
	}
	return all
}

// checkWalk compares pages of q read from x with the reference pages,
// walking forward and backward from the ends and from cursors at several
// positions, present or not.
func checkWalk(t *testing.T, name string, x *pebble.Executor, q evento.Query, want []*evento.Event, size, logLen int) {
	t.Helper()
	pos := func(e *evento.Event) cursor.Position { return e.Position }
	starts := []cursor.Value{""}
	for _, p := range []uint64{0, 1, 2, uint64(logLen / 2), uint64(logLen), uint64(logLen + 5)} {
		starts = append(starts, cursor.Encode(cursor.Position{Seq: p}))
	}
	for _, backward := range []bool{false, true} {
		for _, start := range starts {
			args := cursor.Forward(size, start)
			if backward {
				args = cursor.Backward(size, start)
			}
			for pages := 0; pages < 1000; pages++ {
				q.Args = args
				got, err := x.Read(context.Background(), q)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				ref, err := cursor.Paginate(want, pos, args)
				if err != nil {
					t.Fatal(err)
				}
				if !samePage(got, ref) {
					t.Fatalf("%s: page for %+v\n got %v %+v\nwant %v %+v", name, args,
						positions(got.Nodes()), got.PageInfo, positions(ref.Nodes()), ref.PageInfo)
				}
				if backward && got.PageInfo.HasPreviousPage {
					args.Before = got.PageInfo.StartCursor
				} else if !backward && got.PageInfo.HasNextPage {
					args.After = got.PageInfo.EndCursor
				} else {
					break
				}
			}
		}
	}
}

func samePage(a, b *cursor.Page[*evento.Event]) bool {
	if a.PageInfo != b.PageInfo || len(a.Edges) != len(b.Edges) {
		return false
	}
	for i := range a.Edges {
		x, y := a.Edges[i], b.Edges[i]
		if x.Cursor != y.Cursor || x.Node.ID != y.Node.ID || x.Node.Position != y.Node.Position ||
			x.Node.RoutingKey != y.Node.RoutingKey || string(x.Node.Data) != string(y.Node.Data) {
			return false
		}
	}
	return true
}

func positions(es []*evento.Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Position.Seq
	}
	return out
}

func TestReadRejectsBadCursorsAndQueries(t *testing.T) {
	x := open(t)
	mustAppend(t, x, newCommit("T", "a", 0, 1))
	for _, args := range []cursor.Args{
		cursor.Forward(1, "!!!"),
		cursor.Backward(1, "AQ"),
		cursor.Forward(1, cursor.Encode(cursor.Position{Tx: 1, Seq: 1})),
		cursor.Forward(1, cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Seq: 1}}, Head: -1})),
	} {
		if _, err := x.Read(context.Background(), evento.Query{Args: args}); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("Read(%+v) error = %v, want cursor.ErrInvalid", args, err)
		}
	}
	if _, err := x.Read(context.Background(), evento.Query{Args: cursor.Args{First: 1, Last: 1}}); !errors.Is(err, cursor.ErrInvalidArgs) {
		t.Errorf("mixed directions: err = %v, want cursor.ErrInvalidArgs", err)
	}
	if _, err := x.Read(context.Background(), evento.Query{Filters: []evento.Filter{{Name: "x"}}}); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("filter without type: err = %v, want ErrInvalidArgument", err)
	}
}

func TestReadOfEmptyStore(t *testing.T) {
	x := open(t)
	for _, args := range []cursor.Args{{}, cursor.Backward(5, ""), cursor.Forward(5, cursor.Encode(cursor.Position{Seq: 1 << 62}))} {
		p, err := x.Read(context.Background(), evento.Query{Args: args})
		if err != nil || len(p.Edges) != 0 || p.PageInfo != (cursor.PageInfo{}) {
			t.Errorf("Read(%+v) = %+v, %v; want an empty page", args, p, err)
		}
	}
}

// An index entry whose event record is missing fails the read with a
// corruption error, whether the read reaches the position by stepping
// from the one before (forward), from the one after (backward) or by a
// seek; it never skips the event silently.
func TestReadMissingRecord(t *testing.T) {
	x := open(t, pebble.WithoutSync())
	ctx := context.Background()
	for i := range 6 {
		mustAppend(t, x, newCommit("bank/Account", fmt.Sprint("a", i%2), int64(i/2), 1))
	}
	if err := pebble.DeleteEventRecord(x, 4); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]evento.Query{
		"forward":  {Filters: []evento.Filter{{AggregateType: "bank/Account"}}, Args: cursor.Forward(10, "")},
		"backward": {Filters: []evento.Filter{{AggregateType: "bank/Account"}}, Args: cursor.Backward(10, "")},
		"seek":     {Filters: []evento.Filter{{AggregateType: "bank/Account", AggregateID: "a1"}}, Args: cursor.Forward(10, "")},
	} {
		_, err := x.Read(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "position 4, which holds no event") {
			t.Errorf("%s: Read = %v, want the missing record reported", name, err)
		}
	}
}

// The plan of a read of one type, or of one type's name, yields exactly
// the positions of the matching events, and the loader finds each of them,
// over runs of one type shorter and longer than the loader's stepping
// distance, both ways; and pages from cursors inside runs match the
// reference.
func TestReadOfOneTypeYieldsOnlyItsEvents(t *testing.T) {
	x := open(t, pebble.WithoutSync())
	var all []*evento.Event
	versions := make(map[string]int64)
	for i, run := range []int{1, 2, 1, 3, 15, 16, 17, 1, 40, 2, 1, 1, 5, 33} {
		typ := []string{"bank/Account", "shop/Order"}[i%2]
		for range run {
			id := fmt.Sprintf("a%d", len(all)%3)
			c := newCommit(typ, id, versions[typ+id], 1)
			c.Events[0].Name = fmt.Sprintf("Event%d", len(all)%2)
			mustAppend(t, x, c)
			versions[typ+id]++
			all = append(all, c.Events...)
		}
	}
	// Commits of several events of one type, between single events.
	for i := range 6 {
		typ := []string{"bank/Account", "shop/Order"}[i%2]
		c := newCommit(typ, fmt.Sprintf("b%d", i), 0, 1+i*4)
		mustAppend(t, x, c)
		all = append(all, c.Events...)
	}
	for _, f := range []evento.Filter{
		{AggregateType: "bank/Account"}, {AggregateType: "shop/Order"},
		{AggregateType: "shop/Order", Name: "Event1"}, {AggregateType: "bank/Account", Name: "Event0"},
		{AggregateType: "missing"},
	} {
		q := evento.Query{Filters: []evento.Filter{f}}
		var want []*evento.Event
		var forward []uint64
		for _, e := range all {
			if q.Match(e) {
				want = append(want, e)
				forward = append(forward, e.Position.Seq)
			}
		}
		for _, backward := range []bool{false, true} {
			q.Args = cursor.Forward(10, "")
			wantPos := forward
			if backward {
				q.Args = cursor.Backward(10, "")
				wantPos = slices.Clone(forward)
				slices.Reverse(wantPos)
			}
			got, err := pebble.PlanPositions(x, q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, wantPos) {
				t.Errorf("%+v backward=%v: yields %v, want %v", f, backward, got, wantPos)
			}
		}
		for _, size := range []int{1, 4, 16, 0} {
			checkWalk(t, fmt.Sprintf("%+v/size%d", f, size), x, evento.Query{Filters: q.Filters}, want, size, len(all))
		}
	}
}
