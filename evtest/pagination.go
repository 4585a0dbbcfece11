package evtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

var paginationScenarios = []scenario{
	{"MatchesReference", testPaginationMatchesReference},
	{"InvalidArgs", testPaginationInvalidArgs},
	{"MalformedCursor", testPaginationMalformedCursor},
	{"ManyFilters", testPaginationManyFilters},
	{"AggregateCursors", testPaginationAggregateCursors},
}

// Aggregate types of the pagination data set. Their payloads are raw bytes,
// never decoded.
var pageTypes = []string{"evtest/PageA", "evtest/PageB", "evtest/PageC"}

// pageNames are the event names of the pagination data set.
var pageNames = []string{"Created", "Updated", "Tagged"}

// pageRoutingKeys are the routing keys of the pagination aggregates, by
// aggregate index: none, red, blue, none, ...
var pageRoutingKeys = []string{"", "red", "blue"}

// pageDataSet appends about 240 events to 12 aggregates of 3 types, in
// commits of 1 to 4 events with mixed names, interleaved at random (with a
// fixed seed), and returns the full log read in global order.
func pageDataSet(t *testing.T, st *evento.Store, exec evento.Executor) []*evento.Event {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	versions := make([]int64, 12)
	var appended int
	for appended < 240 {
		agg := rng.IntN(len(versions))
		names := make([]string, 1+rng.IntN(4))
		for i := range names {
			names[i] = pageNames[rng.IntN(len(pageNames))]
		}
		appendRaw(t, exec, pageTypes[agg%3], fmt.Sprintf("agg-%d", agg), versions[agg], pageRoutingKeys[agg%3], names...)
		versions[agg] += int64(len(names))
		appended += len(names)
	}
	full := readAll(t, st, evento.Query{})
	if len(full) != appended {
		t.Fatalf("full log holds %d events, %d were appended", len(full), appended)
	}
	return full
}

// pageQueries returns every filter shape of the pagination scenarios.
func pageQueries() map[string][]evento.Filter {
	a, b, c := pageTypes[0], pageTypes[1], pageTypes[2]
	return map[string][]evento.Filter{
		"no filter":      nil,
		"(type)":         {{AggregateType: a}},
		"(type,id)":      {{AggregateType: b, AggregateID: "agg-4"}},
		"(type,name)":    {{AggregateType: c, Name: "Updated"}},
		"(type,id,name)": {{AggregateType: a, AggregateID: "agg-3", Name: "Tagged"}},
		"no match":       {{AggregateType: "evtest/Missing"}},
		"(unknown id)":   {{AggregateType: a, AggregateID: "agg-1"}},
		"several, overlapping": {
			{AggregateType: a, AggregateID: "agg-0"},
			{AggregateType: a, Name: "Created"},
			{AggregateType: b, Name: "Tagged"},
			{AggregateType: c, AggregateID: "agg-5", Name: "Updated"},
		},
	}
}

var pageRoutingModes = map[string]evento.RoutingKey{
	"any":  evento.AnyRoutingKey(),
	"none": evento.NoRoutingKey(),
	"red":  evento.RoutingKeyOf("red"),
}

// testPaginationMatchesReference walks every filter shape under every
// routing mode, forward and backward, with several page sizes, and compares
// every page with cursor.Paginate over the full log filtered by
// Query.Match.
func testPaginationMatchesReference(t *testing.T, h *harness) {
	st, exec := h.open(t)
	if _, merged := exec.(*evento.Group); merged {
		t.Skip("evtest: a Group merges its members' logs; cursor.Paginate over positions is not its reference (the root package's group tests check its paging)")
	}
	full := pageDataSet(t, st, exec)
	var starts []cursor.Value
	for i := 0; i < len(full); i += 37 {
		starts = append(starts, cursorOf(t, full[i]))
	}
	starts = append(starts, cursorOf(t, full[len(full)-1]))

	for shape, filters := range pageQueries() {
		for mode, rk := range pageRoutingModes {
			q := evento.Query{Filters: filters, RoutingKey: rk}
			var want []*evento.Event
			for _, e := range full {
				if q.Match(e) {
					want = append(want, e)
				}
			}
			what := shape + ", routing key " + mode
			for _, size := range []int{1, 7, 1000} {
				walk(t, st, q, want, size, false, what)
				walk(t, st, q, want, size, true, what)
			}
			for _, c := range starts {
				comparePage(t, st, q, want, cursor.Forward(7, c), what+", forward from a cursor")
				comparePage(t, st, q, want, cursor.Backward(7, c), what+", backward from a cursor")
				comparePage(t, st, q, want, cursor.Args{After: c}, what+", default size after a cursor")
				comparePage(t, st, q, want, cursor.Args{Before: c}, what+", default size before a cursor")
			}
			comparePage(t, st, q, want, cursor.Args{}, what+", zero Args")
		}
	}
}

// walk pages through q from one end to the other and checks every page
// against the reference; the walk must visit exactly want.
func walk(t *testing.T, st *evento.Store, q evento.Query, want []*evento.Event, size int, backward bool, what string) {
	t.Helper()
	dir := "forward"
	if backward {
		dir = "backward"
	}
	what = fmt.Sprintf("%s, %s by %d", what, dir, size)
	var seen []*evento.Event
	args := cursor.Forward(size, "")
	if backward {
		args = cursor.Backward(size, "")
	}
	for pages := 0; ; pages++ {
		if pages > len(want)+1 {
			t.Errorf("%s: walk does not end after %d pages", what, pages)
			return
		}
		page, ok := comparePage(t, st, q, want, args, fmt.Sprintf("%s, page %d", what, pages+1))
		if !ok {
			return
		}
		if backward {
			seen = append(page.Nodes(), seen...)
			if !page.PageInfo.HasPreviousPage {
				break
			}
			args.Before = page.PageInfo.StartCursor
		} else {
			seen = append(seen, page.Nodes()...)
			if !page.PageInfo.HasNextPage {
				break
			}
			args.After = page.PageInfo.EndCursor
		}
	}
	sameEvents(t, what+": whole walk", seen, want)
}

// comparePage reads one page and compares it with cursor.Paginate over
// want: the same events in the same order, the same cursors, the same
// PageInfo.
func comparePage(t *testing.T, st *evento.Store, q evento.Query, want []*evento.Event, args cursor.Args, what string) (*cursor.Page[*evento.Event], bool) {
	t.Helper()
	q.Args = args
	got, err := st.Read(t.Context(), q)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return nil, false
	}
	ref, err := cursor.Paginate(want, func(e *evento.Event) cursor.Position { return e.Position }, args)
	if err != nil {
		t.Fatalf("%s: reference: %v", what, err)
	}
	if len(got.Edges) != len(ref.Edges) {
		t.Errorf("%s: %d edges %s, want %d %s", what, len(got.Edges), describe(got.Nodes()), len(ref.Edges), describe(ref.Nodes()))
		return got, false
	}
	for i, e := range got.Edges {
		r := ref.Edges[i]
		if e.Node.ID != r.Node.ID || e.Node.Position != r.Node.Position || e.Cursor != r.Cursor {
			t.Errorf("%s: edge %d is %s at %v cursor %q, want %s at %v cursor %q", what, i,
				e.Node.ID, e.Node.Position, e.Cursor, r.Node.ID, r.Node.Position, r.Cursor)
			return got, false
		}
	}
	if got.PageInfo != ref.PageInfo {
		t.Errorf("%s: PageInfo %+v, want %+v", what, got.PageInfo, ref.PageInfo)
		return got, false
	}
	return got, true
}

// testPaginationInvalidArgs checks that unusable page arguments and
// filters are refused, by the Store and by the executor itself.
func testPaginationInvalidArgs(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 3)
	c := cursorOf(t, readAll(t, st, evento.Query{})[1])
	for _, args := range []cursor.Args{
		{First: -1}, {Last: -1}, {First: 1, Last: 1}, {After: c, Before: c}, {First: 1, Before: c},
		{First: cursor.MaxLimit + 1}, {Last: cursor.MaxLimit + 1},
	} {
		q := evento.Query{Args: args}
		_, err := st.Read(ctx, q)
		wantErr(t, fmt.Sprintf("Store.Read with %+v", args), err, cursor.ErrInvalidArgs)
		err = noPanic(func() error { _, err := exec.Read(ctx, q); return err })
		wantErr(t, fmt.Sprintf("Executor.Read with %+v", args), err, cursor.ErrInvalidArgs)
	}
	tooMany := make([]evento.Filter, evento.MaxFilters+1)
	for i := range tooMany {
		tooMany[i] = evento.Filter{AggregateType: counterType, AggregateID: fmt.Sprint(i)}
	}
	for what, filters := range map[string][]evento.Filter{
		"filter without aggregate type": {{AggregateID: "c"}},
		"too many filters":              tooMany,
	} {
		q := evento.Query{Filters: filters, Args: cursor.Forward(10, "")}
		_, err := st.Read(ctx, q)
		wantErr(t, "Store.Read with "+what, err, evento.ErrInvalidArgument)
		err = noPanic(func() error { _, err := exec.Read(ctx, q); return err })
		wantErr(t, "Executor.Read with "+what, err, evento.ErrInvalidArgument)
	}
	// MaxLimit itself is a valid page size.
	page := must(st.Read(ctx, evento.Query{Args: cursor.Forward(cursor.MaxLimit, "")}))(t)
	if len(page.Edges) != 3 || page.PageInfo.HasNextPage {
		t.Errorf("page of MaxLimit = %d edges, HasNextPage %v; want 3, false", len(page.Edges), page.PageInfo.HasNextPage)
	}
}

// testPaginationManyFilters reads with evento.MaxFilters filters: the
// same filter repeated, and filters of aggregates and of names of one type
// that overlap pairwise, with and without a routing key, both ways.
func testPaginationManyFilters(t *testing.T, h *harness) {
	st, exec := h.open(t)
	if _, merged := exec.(*evento.Group); merged {
		t.Skip("evtest: a Group merges its members' logs; cursor.Paginate over positions is not its reference")
	}
	full := pageDataSet(t, st, exec)
	repeated := make([]evento.Filter, evento.MaxFilters)
	for i := range repeated {
		repeated[i] = evento.Filter{AggregateType: pageTypes[0], Name: "Created"}
	}
	var overlapping []evento.Filter
	for i := range evento.MaxFilters / 2 {
		name := fmt.Sprint("Name-", i)
		if i < len(pageNames) {
			name = pageNames[i]
		}
		overlapping = append(overlapping,
			evento.Filter{AggregateType: pageTypes[0], AggregateID: fmt.Sprint("agg-", i)},
			evento.Filter{AggregateType: pageTypes[0], Name: name})
	}
	for what, filters := range map[string][]evento.Filter{"repeated": repeated, "overlapping": overlapping} {
		for mode, rk := range map[string]evento.RoutingKey{"any": evento.AnyRoutingKey(), "red": evento.RoutingKeyOf("red")} {
			q := evento.Query{Filters: filters, RoutingKey: rk}
			var want []*evento.Event
			for _, e := range full {
				if q.Match(e) {
					want = append(want, e)
				}
			}
			if len(want) == 0 && mode == "any" {
				t.Fatalf("%s: the data set has no event to match", what)
			}
			for _, size := range []int{7, 1000} {
				walk(t, st, q, want, size, false, what+" filters, routing key "+mode)
				walk(t, st, q, want, size, true, what+" filters, routing key "+mode)
			}
		}
	}
}

// testPaginationAggregateCursors reads aggregates of many sizes (0 to 70
// versions, around the powers of two) interleaved with one another and
// with another type, from the cursors of their own events and of others'
// (which a store that pages an aggregate by version translates to the
// aggregate's version there), alone, with a name, and with another filter,
// both ways, and compares every page with the reference.
func testPaginationAggregateCursors(t *testing.T, h *harness) {
	st, exec := h.open(t)
	if _, merged := exec.(*evento.Group); merged {
		t.Skip("evtest: a Group merges its members' logs; cursor.Paginate over positions is not its reference")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int64{0, 1, 2, 3, 15, 16, 17, 33, 64, 70}
	have, others := make([]int64, len(sizes)), 0
	for {
		var open []int
		for i := range sizes {
			if have[i] < sizes[i] {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			break
		}
		if rng.IntN(3) == 0 {
			appendRaw(t, exec, pageTypes[1], fmt.Sprint("other-", others), 0, "", pageNames[:1+rng.IntN(3)]...)
			others++
			continue
		}
		i := open[rng.IntN(len(open))]
		names := make([]string, 1+rng.Int64N(min(sizes[i]-have[i], 4)))
		for j := range names {
			names[j] = pageNames[rng.IntN(len(pageNames))]
		}
		appendRaw(t, exec, pageTypes[0], fmt.Sprint("agg-", i), have[i], "", names...)
		have[i] += int64(len(names))
	}
	full := readAll(t, st, evento.Query{})
	for i := range sizes {
		agg := evento.Filter{AggregateType: pageTypes[0], AggregateID: fmt.Sprint("agg-", i)}
		named := agg
		named.Name = "Updated"
		for what, filters := range map[string][]evento.Filter{
			"alone":         {agg},
			"with a name":   {named},
			"with a filter": {agg, {AggregateType: pageTypes[1], Name: "Tagged"}},
		} {
			q := evento.Query{Filters: filters}
			var want []*evento.Event
			for _, e := range full {
				if q.Match(e) {
					want = append(want, e)
				}
			}
			what := fmt.Sprintf("aggregate of %d versions %s", sizes[i], what)
			for range 12 {
				c := cursorOf(t, full[rng.IntN(len(full))])
				size := 1 + rng.IntN(4)
				comparePage(t, st, q, want, cursor.Forward(size, c), what+", forward from a cursor")
				comparePage(t, st, q, want, cursor.Backward(size, c), what+", backward from a cursor")
			}
		}
	}
}

// testPaginationMalformedCursor checks that malformed cursors are refused
// with cursor.ErrInvalid, both ways, without panicking.
func testPaginationMalformedCursor(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	increments(t, st, "c", 0, 3)
	real := string(cursorOf(t, readAll(t, st, evento.Query{})[2]))
	bad := map[string]cursor.Value{
		"garbage":                 "!!not a cursor!!",
		"valid base64 of zeros":   "AAAA",
		"one zero byte":           "AA",
		"valid base64, too short": "AQ",
		"padded base64":           "AQE=",
		"header only":             "AQI",
		"truncated real cursor":   cursor.Value(real[:len(real)-2]),
		"real cursor plus bytes":  cursor.Value(real + "AA"),
		"vector of 20 members":    cursor.EncodeVector(cursor.Vector{Positions: make([]cursor.Position, 20), Head: -1}),
		"oversized":               cursor.Value(strings.Repeat("A", cursor.MaxLen+4)),
	}
	for what, v := range bad {
		for _, args := range []cursor.Args{cursor.Forward(5, v), cursor.Backward(5, v)} {
			q := evento.Query{Filters: []evento.Filter{{AggregateType: counterType}}, Args: args}
			err := noPanic(func() error { _, err := st.Read(ctx, q); return err })
			wantErr(t, "Store.Read with a "+what, err, cursor.ErrInvalid)
			err = noPanic(func() error { _, err := exec.Read(ctx, q); return err })
			wantErr(t, "Executor.Read with a "+what, err, cursor.ErrInvalid)
		}
	}
}

// noPanic runs fn and turns a panic into an error.
func noPanic(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}
