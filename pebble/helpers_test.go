package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
	"github.com/oklog/ulid/v2"
)

// open returns an executor on a fresh directory, closed when the test ends.
func open(t testing.TB, opts ...pebble.Option) *pebble.Executor {
	t.Helper()
	x, err := pebble.Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	return x
}

// newCommit returns a commit of n events, named Event1, Event2, ... after
// their version, to typ/id at version expected.
func newCommit(typ, id string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: typ, AggregateID: id, ExpectedVersion: expected}
	for i := range n {
		v := expected + int64(i) + 1
		c.Events = append(c.Events, &evento.Event{
			ID:            ulid.Make(),
			AggregateType: typ,
			AggregateID:   id,
			Version:       v,
			Name:          fmt.Sprintf("Event%d", v%3),
			Data:          fmt.Appendf(nil, "%s/%s#%d", typ, id, v),
			Metadata:      evento.Metadata{RequestedBy: "test"}.Set("version", v),
		})
	}
	return c
}

// withRoutingKey sets the routing key of a new aggregate's commit.
func withRoutingKey(c *evento.Commit, k string) *evento.Commit {
	c.RoutingKey = k
	return c
}

func mustAppend(t testing.TB, x *pebble.Executor, c *evento.Commit) {
	t.Helper()
	if err := x.Append(context.Background(), c); err != nil {
		t.Fatalf("append %s/%s at %d: %v", c.AggregateType, c.AggregateID, c.ExpectedVersion, err)
	}
}

// readAll pages forward through every event that q matches.
func readAll(t testing.TB, x evento.Executor, q evento.Query) []*evento.Event {
	t.Helper()
	var out []*evento.Event
	q.Args = cursor.Forward(cursor.MaxLimit, "")
	for {
		p, err := x.Read(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Nodes()...)
		if !p.PageInfo.HasNextPage {
			return out
		}
		q.Args.After = p.PageInfo.EndCursor
	}
}

func errorsIsConflict(err error) bool { return errors.Is(err, evento.ErrVersionConflict) }
