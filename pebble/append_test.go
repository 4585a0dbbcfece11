package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
	"github.com/oklog/ulid/v2"
)

func TestAppendAssignsPositionsRoutingKeyAndTimestamp(t *testing.T) {
	x := open(t)
	before := time.Now().Add(-time.Second)
	a := withRoutingKey(newCommit("bank/Account", "a", 0, 2), "eu")
	a.Events[0].Timestamp = time.Time{}
	mustAppend(t, x, a)
	b := newCommit("bank/Account", "a", 2, 1)
	b.RoutingKey = "ignored: fixed by the first commit"
	mustAppend(t, x, b)

	events := append(a.Events, b.Events...)
	for i, e := range events {
		if e.Position != (cursor.Position{Seq: uint64(i + 1)}) {
			t.Errorf("event %d has position %v, want %d", i, e.Position, i+1)
		}
		if e.RoutingKey != "eu" {
			t.Errorf("event %d has routing key %q, want eu", i, e.RoutingKey)
		}
		if e.Timestamp.Before(before) || e.Timestamp.Location() != time.UTC || e.Timestamp.Nanosecond()%1000 != 0 {
			t.Errorf("event %d has timestamp %v", i, e.Timestamp)
		}
	}
	stored := readAll(t, x, evento.Query{})
	if len(stored) != 3 {
		t.Fatalf("read %d events, want 3", len(stored))
	}
	for i, e := range stored {
		w := events[i]
		if e.ID != w.ID || e.Version != w.Version || e.Name != w.Name || string(e.Data) != string(w.Data) ||
			!e.Timestamp.Equal(w.Timestamp) || e.RoutingKey != "eu" || e.Position != w.Position {
			t.Errorf("stored event %d = %+v, appended %+v", i, e, w)
		}
		if v, ok := e.Metadata.Int("version"); !ok || v != w.Version || e.Metadata.RequestedBy != "test" {
			t.Errorf("stored event %d has metadata %+v", i, e.Metadata)
		}
	}
}

func TestVersionConflictWritesNothing(t *testing.T) {
	x := open(t)
	mustAppend(t, x, newCommit("T", "a", 0, 2))
	for _, expected := range []int64{0, 1, 3} {
		err := x.Append(context.Background(), newCommit("T", "a", expected, 2))
		if !errors.Is(err, evento.ErrVersionConflict) || errors.Is(err, evento.ErrAlreadyAppended) {
			t.Fatalf("expected %d: err = %v, want ErrVersionConflict", expected, err)
		}
		if !strings.Contains(err.Error(), "version 2") {
			t.Errorf("conflict %q does not name the current version", err)
		}
	}
	if n := len(readAll(t, x, evento.Query{})); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

func TestRetryOfStoredCommitIsAlreadyAppended(t *testing.T) {
	x := open(t)
	c := newCommit("T", "a", 0, 3)
	mustAppend(t, x, c)
	mustAppend(t, x, newCommit("T", "a", 3, 1))
	retry := *c
	err := x.Append(context.Background(), &retry)
	if !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Fatalf("retry: err = %v, want ErrAlreadyAppended", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 4 {
		t.Errorf("%d events stored, want 4", n)
	}
}

func TestReusedEventIDIsInvalid(t *testing.T) {
	x := open(t)
	a := newCommit("T", "a", 0, 1)
	mustAppend(t, x, a)

	b := newCommit("T", "b", 0, 2)
	b.Events[1].ID = a.Events[0].ID
	if err := x.Append(context.Background(), b); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("id of another aggregate: err = %v, want ErrInvalidArgument", err)
	}
	c := newCommit("T", "c", 0, 2)
	c.Events[1].ID = c.Events[0].ID
	if err := x.Append(context.Background(), c); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("id used twice in a commit: err = %v, want ErrInvalidArgument", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

func TestVersionsBeyond16Bits(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 70,001 events")
	}
	x := open(t, pebble.WithoutSync())
	var v int64
	for v < 70_000 {
		c := newCommit("T", "big", v, evento.MaxCommitEvents)
		mustAppend(t, x, c)
		v += evento.MaxCommitEvents
	}
	mustAppend(t, x, newCommit("T", "other", 0, 1))
	mustAppend(t, x, newCommit("T", "big", v, 1))
	if err := x.Append(context.Background(), newCommit("T", "big", 65_535, 1)); !errors.Is(err, evento.ErrVersionConflict) {
		t.Errorf("stale commit: err = %v, want ErrVersionConflict", err)
	}
	// Seek into the aggregate from a cursor, both ways.
	q := evento.Query{Filters: []evento.Filter{{AggregateType: "T", AggregateID: "big"}}}
	q.Args = cursor.Forward(3, cursor.Encode(cursor.Position{Seq: 65_535}))
	p, err := x.Read(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Nodes(); len(got) != 3 || got[0].Version != 65_536 || got[2].Version != 65_538 {
		t.Errorf("page after 65,535: %v", versions(got))
	}
	q.Args = cursor.Backward(2, "")
	if p, err = x.Read(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if got := p.Nodes(); len(got) != 2 || got[1].Version != 70_001 || got[1].Position.Seq != 70_002 {
		t.Errorf("last page: %v", versions(got))
	}
}

func versions(es []*evento.Event) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Version
	}
	return out
}

func TestConcurrentCommitsToOneAggregate(t *testing.T) {
	x := open(t)
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() { errs[i] = x.Append(context.Background(), newCommit("T", "same", 0, 2)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, evento.ErrVersionConflict):
			t.Errorf("err = %v, want nil or ErrVersionConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d commits won, want 1", won)
	}
	if got := readAll(t, x, evento.Query{}); len(got) != 2 || got[0].Version != 1 || got[1].Position.Seq != 2 {
		t.Errorf("stored %v, want versions 1 and 2 at positions 1 and 2", versions(got))
	}
}

// TestReaderMissesNothing tails the log while many writers append: the
// order invariant says a reader that has seen position p never later finds
// an event before p, so paging forward must see every position, once.
func TestReaderMissesNothing(t *testing.T) {
	t.Run("Durable", func(t *testing.T) { tailWhileAppending(t, open(t)) })
	t.Run("WithoutSync", func(t *testing.T) { tailWhileAppending(t, open(t, pebble.WithoutSync())) })
}

func tailWhileAppending(t *testing.T, x *pebble.Executor) {
	const writers, commits = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			id := string(rune('a' + w))
			for i := range commits {
				mustAppend(t, x, newCommit("T", id, int64(2*i), 2))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var seen []uint64
	after := cursor.Value("")
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		p, err := x.Read(context.Background(), evento.Query{Args: cursor.Forward(7, after)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Nodes() {
			seen = append(seen, e.Position.Seq)
		}
		if n := len(p.Edges); n > 0 {
			after = p.PageInfo.EndCursor
		}
		if p.PageInfo.HasNextPage {
			finished = false
		}
	}
	if len(seen) != writers*commits*2 {
		t.Fatalf("reader saw %d events, want %d", len(seen), writers*commits*2)
	}
	for i, p := range seen {
		if p != uint64(i+1) {
			t.Fatalf("reader saw position %d at index %d", p, i)
		}
	}
}

func TestReopenContinuesPositions(t *testing.T) {
	dir := t.TempDir()
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("T", "a", 0, 3))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Append(context.Background(), newCommit("T", "a", 3, 1)); !errors.Is(err, pebble.ErrClosed) {
		t.Errorf("append after close: err = %v, want ErrClosed", err)
	}
	if _, err := x.Read(context.Background(), evento.Query{}); !errors.Is(err, pebble.ErrClosed) {
		t.Errorf("read after close: err = %v, want ErrClosed", err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}

	x, err = pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	c := newCommit("T", "a", 3, 1)
	mustAppend(t, x, c)
	if c.Events[0].Position.Seq != 4 {
		t.Errorf("first append after reopen got position %v, want 4", c.Events[0].Position)
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	x := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.Append(ctx, newCommit("T", "a", 0, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
}

func TestInvalidCommitIsRefused(t *testing.T) {
	x := open(t)
	if err := x.Append(context.Background(), &evento.Commit{AggregateType: "T", AggregateID: "a"}); !errors.Is(err, evento.ErrNoEvents) {
		t.Errorf("empty commit: err = %v, want ErrNoEvents", err)
	}
	c := newCommit("T", "a", 0, 2)
	c.Events[1].Version = 5
	if err := x.Append(context.Background(), c); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("version gap: err = %v, want ErrInvalidArgument", err)
	}
}

func TestWakeFiresOnAppend(t *testing.T) {
	x := open(t)
	ch := x.Wake()
	select {
	case <-ch:
		t.Fatal("wake channel closed before any append")
	default:
	}
	mustAppend(t, x, newCommit("T", "a", 0, 1))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("wake channel not closed after an append")
	}
}

// The committer admits an event id above every stored id without a
// lookup: what it takes for the greatest stored id, after appends and
// after a reopen, must never let a stored id in again.
func TestStoredEventIDsStayUnique(t *testing.T) {
	ctx := context.Background()
	id := func(first byte) ulid.ULID { return ulid.ULID{first, 1, 2, 3} }
	dir := t.TempDir()
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newCommit("T", "a", 0, 2)
	a.Events[0].ID, a.Events[1].ID = id(0xf0), id(0x10) // the greatest first
	mustAppend(t, x, a)

	next := byte(0x20)
	check := func(when string) {
		t.Helper()
		for i, reused := range []ulid.ULID{id(0xf0), id(0x10)} {
			c := newCommit("T", fmt.Sprint("b", next, "-", i), 0, 2)
			c.Events[1].ID = reused
			if err := x.Append(ctx, c); !errors.Is(err, evento.ErrInvalidArgument) {
				t.Errorf("%s: a commit reusing stored id %s: err = %v, want ErrInvalidArgument", when, reused, err)
			}
		}
		if err := x.Append(ctx, a); !errors.Is(err, evento.ErrAlreadyAppended) {
			t.Errorf("%s: retry of the first commit: err = %v, want ErrAlreadyAppended", when, err)
		}
		// An unused id below the greatest one is admitted, and then taken.
		c := newCommit("T", "c"+fmt.Sprint(next), 0, 1)
		c.Events[0].ID = id(next)
		mustAppend(t, x, c)
		d := newCommit("T", "d"+fmt.Sprint(next), 0, 1)
		d.Events[0].ID = id(next)
		if err := x.Append(ctx, d); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("%s: a commit reusing id %s: err = %v, want ErrInvalidArgument", when, d.Events[0].ID, err)
		}
		next++
	}
	check("running")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = pebble.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	check("reopened")
	// A new greatest id, then reused.
	e := newCommit("T", "e", 0, 1)
	e.Events[0].ID = id(0xf8)
	mustAppend(t, x, e)
	f := newCommit("T", "f", 0, 1)
	f.Events[0].ID = id(0xf8)
	if err := x.Append(ctx, f); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("a commit reusing the new greatest id: err = %v, want ErrInvalidArgument", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 5 {
		t.Errorf("%d events stored, want 5", n)
	}
}
