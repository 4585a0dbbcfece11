package mysql_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Reads of one type page through a log where the type's events lie
// together, then scattered among another type's, then together again:
// every page holds what a filter of the whole log finds, in order, full
// until the last; the dense stretches of the type, of the other type and
// of the events without a key are read by the primary key at pages of 100
// and more, and a walk that runs into the scattered stretch finishes its
// page through the index. Pages under 32 events never walk (a page must
// cover 32 positions to measure a density), and the name and key filters
// match too few events here to walk: those cases check only the events.
func TestReadWalksDenseRuns(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	versions := map[string]int64{}
	add := func(typ, id, key string, n int) {
		c := newCommit(typ, id, versions[typ+id], n)
		if versions[typ+id] == 0 {
			c.RoutingKey = key
		}
		mustAppend(t, x, c)
		versions[typ+id] += int64(n)
	}
	for i := range 30 { // 1,500 events of A
		add("A", fmt.Sprint("a", i%10), "", 50)
	}
	for i := range 75 { // 3,000 events: one A in 40
		add("B", fmt.Sprint("b", i%5), "", 39)
		add("A", fmt.Sprint("a", i%10), "", 1)
	}
	for i := range 30 { // 1,500 events of A, a third of them keyed
		key := ""
		if i%3 == 0 {
			key = "eu"
		}
		add("A", fmt.Sprint("k", i%6), key, 50)
	}
	all := readAll(t, x, evento.Query{})
	if len(all) != 6000 {
		t.Fatalf("stored %d events, want 6000", len(all))
	}

	for _, tc := range []struct {
		name  string
		q     evento.Query
		walks bool
	}{
		{"type", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}}, true},
		{"type and name", evento.Query{Filters: []evento.Filter{{AggregateType: "A", Name: "Event2"}}}, false},
		{"other type", evento.Query{Filters: []evento.Filter{{AggregateType: "B"}}}, true},
		{"routing key", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: evento.RoutingKeyOf("eu")}, false},
		{"no routing key", evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}, RoutingKey: evento.NoRoutingKey()}, true},
	} {
		var want []uint64
		for _, e := range all {
			if tc.q.Match(e) {
				want = append(want, e.Position.Seq)
			}
		}
		for _, size := range []int{1, 7, 100, 1000} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, size), func(t *testing.T) {
				var (
					got          []uint64
					walks, rests int
				)
				q := tc.q
				q.Args = cursor.Forward(size, "")
				for {
					page, queries, err := x.ReadRecorded(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range page.Nodes() {
						got = append(got, e.Position.Seq)
					}
					if slices.ContainsFunc(queries, func(s string) bool { return strings.Contains(s, "FORCE INDEX (PRIMARY)") }) {
						walks++
						if len(queries) > 1 {
							rests++
						}
					}
					if !page.PageInfo.HasNextPage {
						break
					}
					if len(page.Edges) != size {
						t.Fatalf("a page of %d events before the last, want %d", len(page.Edges), size)
					}
					q.Args.After = page.PageInfo.EndCursor
				}
				if !slices.Equal(got, want) {
					t.Fatalf("read %d events, want %d; first difference at %d", len(got), len(want), firstDifference(got, want))
				}
				if size >= 100 && tc.walks && walks == 0 {
					t.Errorf("no page walked the primary key")
				}
				if size == 100 && tc.name == "type" && rests == 0 {
					t.Errorf("no walk finished its page through the index")
				}
				t.Logf("%d events, %d walks, %d finished through the index", len(got), walks, rests)
			})
		}
	}
}

func firstDifference(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A walk that reaches its bound with the page full but for one event, or
// exactly full, or empty, hands over to the index right after the bound:
// nothing at the bound + 1 is skipped, and a page that the walk filled
// still says whether another follows. Pages of 100 from position 200 (the
// first 200 events all match, a density of 1) walk up to 200 + 2 × 101 =
// 402; inWalk events match within the walk, and every event from 403 on.
func TestReadDenseWalkBound(t *testing.T) {
	for _, inWalk := range []int{100, 99, 0} {
		for _, keyed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/keyed=%v", inWalk, keyed), func(t *testing.T) {
				x := open(t)
				versions := map[string]int64{}
				add := func(typ string, n int) {
					if n == 0 {
						return
					}
					c := newCommit(typ, "x", versions[typ], n)
					if keyed && versions[typ] == 0 {
						c.RoutingKey = "eu"
					}
					mustAppend(t, x, c)
					versions[typ] += int64(n)
				}
				add("A", 200)
				for range inWalk {
					add("A", 1)
					add("B", 1)
				}
				add("B", 202-2*inWalk)
				add("A", 150)
				q := evento.Query{Filters: []evento.Filter{{AggregateType: "A"}}}
				if keyed {
					q.RoutingKey = evento.RoutingKeyOf("eu")
				}
				var want []uint64
				for _, e := range readAll(t, x, q) {
					want = append(want, e.Position.Seq)
				}
				if len(want) != 350+inWalk {
					t.Fatalf("%d events match, want %d", len(want), 350+inWalk)
				}
				q.Args = cursor.Forward(100, "")
				var got []uint64
				for page := 0; ; page++ {
					p, queries, err := x.ReadRecorded(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					if page == 2 && !strings.Contains(queries[0], "FORCE INDEX (PRIMARY)") {
						t.Fatalf("page 2 did not walk: %s", queries[0])
					}
					for _, e := range p.Nodes() {
						got = append(got, e.Position.Seq)
					}
					if !p.PageInfo.HasNextPage {
						break
					}
					if len(p.Edges) != 100 {
						t.Fatalf("page %d holds %d events and another follows", page, len(p.Edges))
					}
					q.Args.After = p.PageInfo.EndCursor
				}
				if !slices.Equal(got, want) {
					t.Fatalf("read %d events, want %d; first difference at %d", len(got), len(want), firstDifference(got, want))
				}
			})
		}
	}
}
