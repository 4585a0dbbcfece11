package filter

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eventogo/evento"
)

func TestSimplify(t *testing.T) {
	a := evento.Filter{AggregateType: "A"}
	a1 := evento.Filter{AggregateType: "A", AggregateID: "1"}
	aN := evento.Filter{AggregateType: "A", Name: "N"}
	a1N := evento.Filter{AggregateType: "A", AggregateID: "1", Name: "N"}
	a2N := evento.Filter{AggregateType: "A", AggregateID: "2", Name: "N"}
	b1M := evento.Filter{AggregateType: "B", AggregateID: "1", Name: "M"}
	for _, tc := range []struct {
		name    string
		in, out []evento.Filter
	}{
		{"none", nil, []evento.Filter{}},
		{"duplicates", []evento.Filter{aN, b1M, aN, b1M}, []evento.Filter{aN, b1M}},
		{"a whole type", []evento.Filter{a1N, aN, a, a1, b1M}, []evento.Filter{a, b1M}},
		{"a whole aggregate", []evento.Filter{a1N, a2N, a1}, []evento.Filter{a2N, a1}},
		{"a type and name", []evento.Filter{a1N, a2N, aN, b1M}, []evento.Filter{aN, b1M}},
		{"overlapping, neither covers", []evento.Filter{a1, aN}, []evento.Filter{a1, aN}},
	} {
		if got := Simplify(tc.in); !slices.Equal(got, tc.out) {
			t.Errorf("%s: Simplify(%v) = %v, want %v", tc.name, tc.in, got, tc.out)
		}
	}
}

// Random lists of filters match the same events once simplified, and
// keep no filter that another of them covers.
func TestSimplifyMatchesTheSameEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(values ...string) string { return values[rng.IntN(len(values))] }
	var events []*evento.Event
	for _, typ := range []string{"A", "B"} {
		for _, id := range []string{"1", "2"} {
			for _, name := range []string{"N", "M"} {
				events = append(events, &evento.Event{AggregateType: typ, AggregateID: id, Name: name})
			}
		}
	}
	for i := range 2000 {
		in := make([]evento.Filter, 1+rng.IntN(6))
		for j := range in {
			in[j] = evento.Filter{AggregateType: pick("A", "B"), AggregateID: pick("", "1", "2"), Name: pick("", "N", "M")}
		}
		out := Simplify(in)
		qin, qout := evento.Query{Filters: in}, evento.Query{Filters: out}
		for _, e := range events {
			before, after := qin.Match(e), qout.Match(e)
			if before != after {
				t.Fatalf("case %d: %v matches %s/%s %s: %v; simplified to %v: %v", i, in, e.AggregateType, e.AggregateID, e.Name, before, out, after)
			}
		}
		for j, f := range out {
			for k, g := range out {
				if j != k && covers(g, f) {
					t.Fatalf("case %d: Simplify(%v) = %v keeps %v, which %v covers", i, in, out, f, g)
				}
			}
		}
	}
}

// covers reports whether every event that f matches, g matches.
func covers(g, f evento.Filter) bool {
	return g.AggregateType == f.AggregateType &&
		(g.AggregateID == "" || g.AggregateID == f.AggregateID) &&
		(g.Name == "" || g.Name == f.Name)
}
