package pebble_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
)

// appendPattern appends one single-event commit per letter of pattern, of
// type "A" for 'A', "B" for 'B' and so on, each on its own aggregate, and
// returns the events in position order.
func appendPattern(t *testing.T, x *pebble.Executor, pattern string) []*evento.Event {
	t.Helper()
	var all []*evento.Event
	for i, c := range pattern {
		commit := newCommit(string(c), fmt.Sprint("p", i), 0, 1)
		mustAppend(t, x, commit)
		all = append(all, commit.Events...)
	}
	return all
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// tableSteps reads the log for q in one page, up to position last (the
// whole log when 0), checks the page against the reference and returns how
// many records the read reached by walking the event table.
func tableSteps(t *testing.T, x *pebble.Executor, q evento.Query, all []*evento.Event, last uint64) int {
	t.Helper()
	rows, steps, err := pebble.TableSteps(x, q, last)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range all {
		if q.Match(e) && (last == 0 || e.Position.Seq <= last) {
			want = append(want, e.Position.Seq)
		}
	}
	if q.Args.IsBackward() {
		for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
	}
	if got := positions(rows); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	return steps
}

// A read through an index walks the event table while the events it
// selects follow each other, goes back to the index once the events in
// between cost more than it saves, and stops trying after walks that do
// not pay off; its pages are the same either way.
func TestReadWalksTableWhileEventsAreDense(t *testing.T) {
	x := open(t, pebble.WithoutSync())
	// 200 events of A in a row, then A as every fifth event.
	all := appendPattern(t, x, repeat("A", 200)+repeat("ABBBB", 200))
	typeA := []evento.Filter{{AggregateType: "A"}}
	forward := tableSteps(t, x, evento.Query{Filters: typeA, Args: cursor.Forward(cursor.MaxLimit, "")}, all, 0)
	// The walk starts after 9 events, covers the rest of the run and
	// leaves after a handful of misses.
	if forward < 150 || forward > 210 {
		t.Errorf("forward read of A reached %d records by the table walk, want 150 to 210", forward)
	}
	backward := tableSteps(t, x, evento.Query{Filters: typeA, Args: cursor.Backward(cursor.MaxLimit, "")}, all, 0)
	if backward < 150 || backward > 200 {
		t.Errorf("backward read of A reached %d records by the table walk, want 150 to 200", backward)
	}
	// The walk stops at the last position a read may see, as the index
	// does.
	if n := tableSteps(t, x, evento.Query{Filters: typeA, Args: cursor.Forward(cursor.MaxLimit, "")}, all, 150); n < 100 {
		t.Errorf("read of A up to 150 reached %d records by the table walk, want at least 100", n)
	}
	// Sparse events never start a walk.
	if n := tableSteps(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "B"}}, Args: cursor.Forward(cursor.MaxLimit, "")}, all, 0); n != 0 {
		t.Errorf("read of B reached %d records by the table walk, want 0", n)
	}

	// Runs just long enough to start a walk, each ended by a miss: the
	// first walk does not pay off, and no run is long enough for the next.
	y := open(t, pebble.WithoutSync())
	runs := appendPattern(t, y, repeat("AAAAAAAAAB", 100))
	if n := tableSteps(t, y, evento.Query{Filters: typeA, Args: cursor.Forward(cursor.MaxLimit, "")}, runs, 0); n > 2 {
		t.Errorf("read of short runs reached %d records by the table walk, want at most 2", n)
	}
}

// Pages of reads that switch between the index and the table walk, over
// runs of every length, match the reference.
func TestReadOfDenseRunsMatchesReference(t *testing.T) {
	x := open(t, pebble.WithoutSync())
	rng := rand.New(rand.NewPCG(3, 5))
	types := []string{"bank/Account", "bank/AccountOwner", "shop/Order"}
	var (
		all      []*evento.Event
		versions = map[string]int64{}
	)
	for len(all) < 1500 {
		typ := types[rng.IntN(len(types))]
		run := []int{1, 2, 3, 8, 9, 10, 17, 40, 120}[rng.IntN(9)]
		for range run {
			id := fmt.Sprint("a", rng.IntN(4))
			v := versions[typ+"/"+id]
			c := newCommit(typ, id, v, 1+rng.IntN(2))
			if v == 0 {
				c.RoutingKey = []string{"", "eu"}[rng.IntN(2)]
			}
			for _, e := range c.Events {
				e.Name = []string{"Event0", "Event0", "Event0", "Event1"}[rng.IntN(4)]
			}
			mustAppend(t, x, c)
			versions[typ+"/"+id] = c.Events[len(c.Events)-1].Version
			all = append(all, c.Events...)
		}
	}
	filters := [][]evento.Filter{
		{{AggregateType: "bank/Account"}},
		{{AggregateType: "bank/Account", Name: "Event0"}},
		{{AggregateType: "bank/Account"}, {AggregateType: "shop/Order", Name: "Event0"}},
		{{AggregateType: "shop/Order", AggregateID: "a1"}},
	}
	walked := 0
	for fi, fs := range filters {
		for _, rk := range []evento.RoutingKey{evento.AnyRoutingKey(), evento.NoRoutingKey(), evento.RoutingKeyOf("eu")} {
			q := evento.Query{Filters: fs, RoutingKey: rk}
			want := matching(q, all)
			for _, size := range []int{1, 7, 100, 0} {
				checkWalk(t, fmt.Sprintf("filters%d/%s/size%d", fi, rk, size), x, q, want, size, len(all))
			}
			q.Args = cursor.Forward(cursor.MaxLimit, "")
			walked += tableSteps(t, x, q, all, 0)
		}
	}
	if walked == 0 {
		t.Fatal("no read walked the event table: the test does not cover it")
	}
}
