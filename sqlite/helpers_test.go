package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

// open returns an executor on a fresh database file, closed when the test
// ends.
func open(t testing.TB, opts ...sqlite.Option) *sqlite.Executor {
	t.Helper()
	x, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "evento.db"), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// newCommit returns a commit of n events to the aggregate, after version
// expected, named "Event1", "Event2", ... by version.
func newCommit(aggType, aggID string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: aggType, AggregateID: aggID, ExpectedVersion: expected}
	now := time.Now().UTC()
	for i := range n {
		v := expected + int64(i) + 1
		c.Events = append(c.Events, &evento.Event{
			ID:            ulid.Make(),
			AggregateType: aggType,
			AggregateID:   aggID,
			Version:       v,
			Name:          fmt.Sprintf("Event%d", v%3+1),
			Data:          fmt.Appendf(nil, `{"v":%d}`, v),
			Timestamp:     now,
		})
	}
	return c
}

// mustAppend appends c or fails the test.
func mustAppend(t testing.TB, x *sqlite.Executor, c *evento.Commit) {
	t.Helper()
	if err := x.Append(context.Background(), c); err != nil {
		t.Fatalf("Append %s/%s after version %d: %v", c.AggregateType, c.AggregateID, c.ExpectedVersion, err)
	}
}

// appendVersions appends events to a new aggregate until it reaches
// version n, in commits of evento.MaxCommitEvents.
func appendVersions(t testing.TB, x *sqlite.Executor, aggType, aggID string, n int64) {
	t.Helper()
	for v := int64(0); v < n; {
		size := min(n-v, evento.MaxCommitEvents)
		mustAppend(t, x, newCommit(aggType, aggID, v, int(size)))
		v += size
	}
}

// readAll pages forward through every event matching q.
func readAll(t testing.TB, x *sqlite.Executor, q evento.Query) []*evento.Event {
	t.Helper()
	var all []*evento.Event
	q.Args = cursor.Forward(cursor.MaxLimit, "")
	for {
		page, err := x.Read(context.Background(), q)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		all = append(all, page.Nodes()...)
		if !page.PageInfo.HasNextPage {
			return all
		}
		q.Args.After = page.PageInfo.EndCursor
	}
}
