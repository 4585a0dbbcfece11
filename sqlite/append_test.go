package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

func TestAppendReadRoundTrip(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	md := evento.Metadata{
		ID:            ulid.Make().String(),
		RequestedBy:   "user-1",
		RequestedAs:   "admin",
		CorrelationID: "corr-1",
		CausationID:   "cause-1",
	}.Set("ip", "10.0.0.1").Set("attempt", int64(3)).Set("negative", int64(-7)).
		Set("ratio", 0.5).Set("dry", true).Set("raw", []byte{0, 1, 2})
	c := newCommit("bank/Account", "acc-1", 0, 3)
	c.RoutingKey = "tenant-a"
	for _, e := range c.Events {
		e.Metadata = md
		e.Timestamp = time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.FixedZone("x", 3600))
	}
	mustAppend(t, x, c)

	for i, e := range c.Events {
		if want := uint64(i + 1); e.Position != (cursor.Position{Seq: want}) {
			t.Errorf("event %d: Position = %v, want %d", i, e.Position, want)
		}
		if e.RoutingKey != "tenant-a" {
			t.Errorf("event %d: RoutingKey = %q, want tenant-a", i, e.RoutingKey)
		}
	}
	page, err := x.Read(ctx, evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account", AggregateID: "acc-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := page.Nodes()
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	wantTime := time.Date(2024, 2, 29, 11, 30, 45, 123456000, time.UTC)
	for i, g := range got {
		w := c.Events[i]
		if g.ID != w.ID || g.AggregateType != w.AggregateType || g.AggregateID != w.AggregateID ||
			g.Version != w.Version || g.Name != w.Name || g.RoutingKey != "tenant-a" ||
			!bytes.Equal(g.Data, w.Data) || g.Position != w.Position {
			t.Errorf("event %d: read %+v, appended %+v", i, g, w)
		}
		if !g.Timestamp.Equal(wantTime) || g.Timestamp.Location() != time.UTC {
			t.Errorf("event %d: Timestamp = %v, want %v", i, g.Timestamp, wantTime)
		}
		if !w.Timestamp.Equal(g.Timestamp) {
			t.Errorf("event %d: Append set Timestamp %v, stored %v", i, w.Timestamp, g.Timestamp)
		}
		checkMetadata(t, g.Metadata, md)
		if page.Edges[i].Cursor != cursor.Encode(g.Position) {
			t.Errorf("edge %d: cursor does not encode the event's position", i)
		}
	}
}

// checkMetadata compares metadata read back with what was appended.
// Integers come back as int64 or uint64 by sign, so values are compared
// through the typed accessors.
func checkMetadata(t *testing.T, got, want evento.Metadata) {
	t.Helper()
	gotValues, wantValues := got.Values, want.Values
	if got.ID != want.ID || got.RequestedBy != want.RequestedBy || got.RequestedAs != want.RequestedAs ||
		got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID {
		t.Errorf("Metadata = %+v, want %+v", got, want)
	}
	if len(gotValues) != len(wantValues) {
		t.Errorf("Metadata.Values = %v, want %v", gotValues, wantValues)
	}
	for k, w := range wantValues {
		var ok bool
		switch w := w.(type) {
		case int64:
			g, isInt := got.Int(k)
			ok = isInt && g == w
		case []byte:
			g, isBytes := gotValues[k].([]byte)
			ok = isBytes && bytes.Equal(g, w)
		default:
			ok = gotValues[k] == w
		}
		if !ok {
			t.Errorf("Metadata value %q = %#v, want %#v", k, gotValues[k], w)
		}
	}
}

func TestAppendZeroTimestampIsSetToNow(t *testing.T) {
	x := open(t)
	c := newCommit("t", "a", 0, 1)
	c.Events[0].Timestamp = time.Time{}
	before := time.Now().Truncate(time.Microsecond)
	mustAppend(t, x, c)
	if ts := c.Events[0].Timestamp; ts.Before(before) || ts.After(time.Now()) {
		t.Errorf("Timestamp = %v, want the append time", ts)
	}
}

func TestAppendVersionAboveUint16(t *testing.T) {
	x := open(t)
	const last = 70_001
	appendVersions(t, x, "big", "b-1", last)
	q := evento.Query{
		Filters: []evento.Filter{{AggregateType: "big", AggregateID: "b-1"}},
		Args:    cursor.Backward(1, ""),
	}
	page, err := x.Read(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != 1 || page.Edges[0].Node.Version != last {
		t.Fatalf("last event: %+v, want version %d", page.Nodes(), last)
	}
	if !page.PageInfo.HasPreviousPage {
		t.Error("HasPreviousPage = false with 70,000 earlier events")
	}
	mustAppend(t, x, newCommit("big", "b-1", last, 1))
}

func TestAppendVersionConflict(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "a", 0, 2))

	for _, expected := range []int64{0, 1, 3} {
		err := x.Append(ctx, newCommit("t", "a", expected, 1))
		if !errors.Is(err, evento.ErrVersionConflict) {
			t.Errorf("expected version %d: err = %v, want ErrVersionConflict", expected, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "t/a") || !strings.Contains(msg, "version 2") {
			t.Errorf("error %q does not name the aggregate and its current version", msg)
		}
	}
	if err := x.Append(ctx, newCommit("t", "missing", 4, 1)); !errors.Is(err, evento.ErrVersionConflict) {
		t.Errorf("commit to a missing aggregate: err = %v, want ErrVersionConflict", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

func TestAppendRetryIsAlreadyAppended(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	c := newCommit("t", "a", 0, 3)
	mustAppend(t, x, c)
	positions := []cursor.Position{c.Events[0].Position, c.Events[1].Position, c.Events[2].Position}

	err := x.Append(ctx, c)
	if !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Fatalf("second Append of the same commit: err = %v, want ErrAlreadyAppended", err)
	}
	if errors.Is(err, evento.ErrVersionConflict) {
		t.Error("ErrAlreadyAppended also matches ErrVersionConflict")
	}
	if n := len(readAll(t, x, evento.Query{})); n != 3 {
		t.Errorf("%d events stored after the retry, want 3", n)
	}
	for i, e := range c.Events {
		if e.Position != positions[i] {
			t.Errorf("failed retry moved event %d from %v to %v", i, positions[i], e.Position)
		}
	}

	// The retry is recognised after later commits too.
	mustAppend(t, x, newCommit("t", "a", 3, 1))
	if err := x.Append(ctx, c); !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Errorf("retry after a later commit: err = %v, want ErrAlreadyAppended", err)
	}
}

func TestAppendReusedEventID(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	first := newCommit("t", "a", 0, 1)
	mustAppend(t, x, first)

	other := newCommit("t", "b", 0, 1)
	other.Events[0].ID = first.Events[0].ID
	err := x.Append(ctx, other)
	if !errors.Is(err, evento.ErrInvalidArgument) || !strings.Contains(err.Error(), "already used") {
		t.Errorf("id of another aggregate's event: err = %v, want ErrInvalidArgument naming the reuse", err)
	}

	twice := newCommit("t", "c", 0, 2)
	twice.Events[1].ID = twice.Events[0].ID
	if err := x.Append(ctx, twice); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("one id twice in a commit: err = %v, want ErrInvalidArgument", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 1 {
		t.Errorf("%d events stored, want 1: failed commits must write nothing", n)
	}
}

func TestAppendRoutingKeyInheritance(t *testing.T) {
	x := open(t)
	c := newCommit("t", "a", 0, 1)
	c.RoutingKey = "eu"
	mustAppend(t, x, c)
	next := newCommit("t", "a", 1, 2)
	next.RoutingKey = "us" // ignored: the first event fixed the key
	mustAppend(t, x, next)
	for _, e := range next.Events {
		if e.RoutingKey != "eu" {
			t.Errorf("version %d: RoutingKey = %q, want inherited eu", e.Version, e.RoutingKey)
		}
	}
	plain := newCommit("t", "none", 0, 1)
	mustAppend(t, x, plain)
	later := newCommit("t", "none", 1, 1)
	later.RoutingKey = "us"
	mustAppend(t, x, later)
	if later.Events[0].RoutingKey != "" {
		t.Errorf("aggregate without key: later event got %q", later.Events[0].RoutingKey)
	}

	eu := readAll(t, x, evento.Query{RoutingKey: evento.RoutingKeyOf("eu")})
	none := readAll(t, x, evento.Query{RoutingKey: evento.NoRoutingKey()})
	us := readAll(t, x, evento.Query{RoutingKey: evento.RoutingKeyOf("us")})
	if len(eu) != 3 || len(none) != 2 || len(us) != 0 {
		t.Errorf("by routing key: eu %d, none %d, us %d; want 3, 2, 0", len(eu), len(none), len(us))
	}
	for _, e := range eu {
		if e.AggregateID != "a" {
			t.Errorf("routing key eu read %s/%s", e.AggregateType, e.AggregateID)
		}
	}
}

func TestAppendInvalidCommit(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	if err := x.Append(ctx, &evento.Commit{AggregateType: "t", AggregateID: "a"}); !errors.Is(err, evento.ErrNoEvents) {
		t.Errorf("empty commit: err = %v, want ErrNoEvents", err)
	}
	c := newCommit("t", "a", 0, 2)
	c.Events[1].Version = 5
	if err := x.Append(ctx, c); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("gap in versions: err = %v, want ErrInvalidArgument", err)
	}
}

func TestAppendCancelledContextWritesNothing(t *testing.T) {
	x := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.Append(ctx, newCommit("t", "a", 0, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: err = %v, want context.Canceled", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
}

func TestAppendWakesWaiters(t *testing.T) {
	x := open(t)
	woken := x.Wake()
	select {
	case <-woken:
		t.Fatal("Wake channel closed before any append")
	default:
	}
	if err := x.Append(context.Background(), newCommit("t", "a", 1, 1)); err == nil {
		t.Fatal("conflicting append succeeded")
	}
	select {
	case <-woken:
		t.Fatal("a failed append closed the Wake channel")
	default:
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	select {
	case <-woken:
	case <-time.After(time.Second):
		t.Fatal("Wake channel still open after an append")
	}
}
