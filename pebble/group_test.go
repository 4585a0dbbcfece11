package pebble_test

import (
	"errors"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
)

// TestGroupDecidesCommitsInOrder queues commits that the committer takes
// as one group: each is checked against the database and the commits
// before it in the group, and a commit that fails fails alone.
func TestGroupDecidesCommitsInOrder(t *testing.T) {
	x := open(t)
	mustAppend(t, x, withRoutingKey(newCommit("T", "old", 0, 1), "eu"))

	create := withRoutingKey(newCommit("T", "a", 0, 2), "us")
	follow := newCommit("T", "a", 2, 1)
	stale := newCommit("T", "a", 0, 1)
	retry := *create
	reuse := newCommit("T", "b", 0, 1)
	reuse.Events[0].ID = follow.Events[0].ID
	old := newCommit("T", "old", 1, 3)
	errs := pebble.AppendGroup(x, []*evento.Commit{create, follow, stale, &retry, reuse, old})

	for i, want := range []error{nil, nil, evento.ErrVersionConflict, evento.ErrAlreadyAppended, evento.ErrInvalidArgument, nil} {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("commit %d: err = %v, want %v", i, errs[i], want)
		}
	}
	all := readAll(t, x, evento.Query{})
	if got := positions(all); len(got) != 7 || got[6] != 7 {
		t.Fatalf("positions %v, want 1..7", got)
	}
	wantOrder := []struct {
		id      string
		version int64
		key     string
	}{{"old", 1, "eu"}, {"a", 1, "us"}, {"a", 2, "us"}, {"a", 3, "us"}, {"old", 2, "eu"}, {"old", 3, "eu"}, {"old", 4, "eu"}}
	for i, w := range wantOrder {
		if e := all[i]; e.AggregateID != w.id || e.Version != w.version || e.RoutingKey != w.key {
			t.Errorf("position %d holds %s v%d key %q, want %s v%d key %q", i+1, e.AggregateID, e.Version, e.RoutingKey, w.id, w.version, w.key)
		}
	}
	if follow.Events[0].Position.Seq != 4 || follow.Events[0].RoutingKey != "us" {
		t.Errorf("follow-up commit got position %v and routing key %q", follow.Events[0].Position, follow.Events[0].RoutingKey)
	}
	if stale.Events[0].Position.Seq != 0 {
		t.Errorf("rejected commit got position %v", stale.Events[0].Position)
	}
}
