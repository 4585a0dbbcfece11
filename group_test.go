package evento_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/evtest"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

func openSQLite(t *testing.T) *sqlite.Executor {
	t.Helper()
	exec, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"), sqlite.WithSynchronous(sqlite.SynchronousNormal))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Close() })
	return exec
}

func TestGroupConformance(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor {
		g, err := evento.NewGroup(openSQLite(t), openSQLite(t))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}, evtest.Features{})
}

func TestRwConformance(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor {
		// Both sides on one file: a replica with no lag.
		path := filepath.Join(t.TempDir(), "events.db")
		write, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		read, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { read.Close(); write.Close() })
		return evento.NewRw(read, write)
	}, evtest.Features{})
}

// groupEvent is appended to both members of a group.
type groupEvent struct{ N int }

func (groupEvent) AggregateType() string { return "group/Thing" }
func (groupEvent) EventName() string     { return "Happened" }

// fillMembers appends n single-event commits to the members in turn and
// returns the ids appended to each member, in that member's order.
func fillMembers(t *testing.T, members []*evento.Store, n int) [][]ulid.ULID {
	out := make([][]ulid.ULID, len(members))
	for i := range n {
		m := i % len(members)
		if i%7 == 3 {
			m = 0 // uneven: member 0 gets runs of events
		}
		id := ulid.Make()
		if _, err := members[m].Create().EventWithID(id, groupEvent{N: i}).RoutingKey([]string{"", "red"}[i%2]).Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		out[m] = append(out[m], id)
	}
	return out
}

// walk pages through g in one direction and returns the events in
// ascending order, checking that cursors resume exactly.
func walk(t *testing.T, g *evento.Group, q evento.Query, size int, backward bool) []*evento.Event {
	var out []*evento.Event
	var c cursor.Value
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("walk does not end")
		}
		q.Args = cursor.Forward(size, c)
		if backward {
			q.Args = cursor.Backward(size, c)
		}
		page, err := g.Read(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Edges) > size {
			t.Fatalf("page of %d edges for size %d", len(page.Edges), size)
		}
		if backward {
			out = append(page.Nodes(), out...)
			if !page.PageInfo.HasPreviousPage {
				return out
			}
			c = page.PageInfo.StartCursor
		} else {
			out = append(out, page.Nodes()...)
			if !page.PageInfo.HasNextPage {
				return out
			}
			c = page.PageInfo.EndCursor
		}
	}
}

// byMember splits events into the members they came from, by id.
func byMember(events []*evento.Event, want [][]ulid.ULID) [][]ulid.ULID {
	member := map[ulid.ULID]int{}
	for m, ids := range want {
		for _, id := range ids {
			member[id] = m
		}
	}
	out := make([][]ulid.ULID, len(want))
	for _, e := range events {
		m := member[e.ID]
		out[m] = append(out[m], e.ID)
	}
	return out
}

func TestGroupPagingSeesEveryMemberEventOnceInOrder(t *testing.T) {
	execs := []evento.Executor{openSQLite(t), openSQLite(t), openSQLite(t)}
	stores := []*evento.Store{evento.New(execs[0]), evento.New(execs[1]), evento.New(execs[2])}
	want := fillMembers(t, stores, 200)
	g, err := evento.NewGroup(execs...)
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]evento.Query{
		"all": {},
		"red": {RoutingKey: evento.RoutingKeyOf("red")},
	}
	for name, q := range queries {
		wantQ := want
		if name == "red" {
			all := walk(t, g, evento.Query{}, 1000, false)
			var red []*evento.Event
			for _, e := range all {
				if e.RoutingKey == "red" {
					red = append(red, e)
				}
			}
			wantQ = byMember(red, want)
		}
		for _, size := range []int{1, 3, 17, 1000} {
			for _, backward := range []bool{false, true} {
				got := walk(t, g, q, size, backward)
				if parts := byMember(got, want); !slices.EqualFunc(parts, wantQ, slices.Equal) {
					t.Errorf("%s, size %d, backward %v: members' events differ from what was appended (%d events read)", name, size, backward, len(got))
				}
				seen := map[ulid.ULID]bool{}
				for _, e := range got {
					if seen[e.ID] {
						t.Fatalf("%s, size %d, backward %v: event %s read twice", name, size, backward, e.ID)
					}
					seen[e.ID] = true
				}
			}
		}
	}
}

func TestGroupCursorsResumeInBothDirections(t *testing.T) {
	execs := []evento.Executor{openSQLite(t), openSQLite(t)}
	stores := []*evento.Store{evento.New(execs[0]), evento.New(execs[1])}
	fillMembers(t, stores, 40)
	g, _ := evento.NewGroup(execs...)
	all := walk(t, g, evento.Query{}, 1000, false)
	page, err := g.Read(t.Context(), evento.Query{Args: cursor.Forward(1000, "")})
	if err != nil {
		t.Fatal(err)
	}
	// From every edge, forward gives exactly what follows and backward
	// exactly what precedes, in the same merged order.
	for k, edge := range page.Edges {
		next, err := g.Read(t.Context(), evento.Query{Args: cursor.Forward(1000, edge.Cursor)})
		if err != nil {
			t.Fatal(err)
		}
		if ids(next.Nodes()) != ids(all[k+1:]) {
			t.Fatalf("forward after edge %d: got %d events, want %d", k, len(next.Edges), len(all)-k-1)
		}
		prev, err := g.Read(t.Context(), evento.Query{Args: cursor.Backward(1000, edge.Cursor)})
		if err != nil {
			t.Fatal(err)
		}
		if got := prev.Nodes(); len(got) != k {
			t.Fatalf("backward before edge %d: got %d events, want %d", k, len(got), k)
		}
	}
}

func ids(events []*evento.Event) string {
	s := ""
	for _, e := range events {
		s += e.ID.String()
	}
	return s
}

func TestGroupWritesToFirstMemberAndRefusesBadMembers(t *testing.T) {
	a, b := openSQLite(t), openSQLite(t)
	g, err := evento.NewGroup(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evento.New(g).Create().Event(groupEvent{}).Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	pa, _ := a.Read(t.Context(), evento.Query{})
	pb, _ := b.Read(t.Context(), evento.Query{})
	if len(pa.Edges) != 1 || len(pb.Edges) != 0 {
		t.Errorf("append went to members with %d and %d events, want 1 and 0", len(pa.Edges), len(pb.Edges))
	}
	if _, err := evento.NewGroup(); err == nil {
		t.Error("empty group accepted")
	}
	if _, err := evento.NewGroup(g); err == nil {
		t.Error("nested group accepted")
	}
	if _, err := g.Read(t.Context(), evento.Query{Args: cursor.Forward(1, cursor.Encode(cursor.Position{Seq: 1}))}); err == nil {
		t.Error("single-store cursor accepted by a group")
	}
}
