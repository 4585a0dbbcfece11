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
// until the last; the dense stretches are read by the primary key, and a
// walk that runs into the scattered stretch finishes its page through the
// index.
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
