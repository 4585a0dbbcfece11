package evtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

var appendScenarios = []scenario{
	{"FieldsRoundTrip", testAppendFieldsRoundTrip},
	{"BuilderResult", testAppendBuilderResult},
	{"HasEvent", testAppendHasEvent},
}

// testAppendFieldsRoundTrip appends a commit built by hand and checks that
// every field of every event reads back as written.
func testAppendFieldsRoundTrip(t *testing.T, h *harness) {
	st, exec := h.open(t)
	ts := time.Now().UTC().Truncate(time.Microsecond)
	if ts.Nanosecond()%int(time.Millisecond) == 0 {
		ts = ts.Add(time.Microsecond) // make the microseconds matter
	}
	md := evento.Metadata{
		ID:            "metadata-1",
		RequestedBy:   "user-42",
		RequestedAs:   "admin",
		CorrelationID: "corr-1",
		CausationID:   "cause-1",
	}.Set("s", "text").Set("neg", int64(-7)).Set("pos", int64(1<<40)).Set("yes", true).
		Set("f", 1.5).Set("raw", []byte{0, 1, 2})
	events := rawEvents(counterType, "round-trip", 0, "First", "Second", "Third")
	events[0].Data = []byte{0, 0xff, 0xfe, 'a', 0}
	events[2].Data = nil
	for _, e := range events {
		e.Metadata, e.Timestamp = md, ts
	}
	want := make([]evento.Event, len(events))
	for i, e := range events {
		want[i] = *e
	}
	c := &evento.Commit{AggregateType: counterType, AggregateID: "round-trip", RoutingKey: "rk", Events: events}
	noErr(t, exec.Append(t.Context(), c))
	for i, e := range c.Events {
		if e.Position.IsZero() || e.RoutingKey != "rk" {
			t.Fatalf("after Append, event %d has position %v and routing key %q; want a position and %q",
				i, e.Position, e.RoutingKey, "rk")
		}
	}
	checkAscending(t, "appended commit", c.Events)

	got := readAll(t, st, evento.Query{})
	_, merged := exec.(*evento.Group)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		switch {
		case g.ID != w.ID, g.AggregateType != w.AggregateType, g.AggregateID != w.AggregateID,
			g.Version != w.Version, g.Name != w.Name:
			t.Errorf("event %d envelope = %s %s/%s v%d %s, want %s %s/%s v%d %s", i,
				g.ID, g.AggregateType, g.AggregateID, g.Version, g.Name, w.ID, w.AggregateType, w.AggregateID, w.Version, w.Name)
		case g.RoutingKey != "rk":
			t.Errorf("event %d routing key = %q, want rk", i, g.RoutingKey)
		case !bytes.Equal(g.Data, w.Data):
			t.Errorf("event %d data = %x, want %x", i, g.Data, w.Data)
		case !g.Timestamp.Equal(ts) || g.Timestamp.Location() != time.UTC:
			t.Errorf("event %d timestamp = %v, want %v in UTC (microsecond precision)", i, g.Timestamp, ts)
		case g.Position != c.Events[i].Position:
			t.Errorf("event %d read at position %v, Append reported %v", i, g.Position, c.Events[i].Position)
		case !merged && cursorOf(t, g) != cursor.Encode(g.Position):
			t.Errorf("event %d: the read's edge cursor %q does not point at its position %v", i, cursorOf(t, g), g.Position)
		}
		checkMetadata(t, g.Metadata, md)
	}
}

func checkMetadata(t *testing.T, got, want evento.Metadata) {
	t.Helper()
	if got.ID != want.ID || got.RequestedBy != want.RequestedBy || got.RequestedAs != want.RequestedAs ||
		got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID {
		t.Errorf("metadata = %+v, want %+v", got, want)
	}
	if s, ok := got.String("s"); !ok || s != "text" {
		t.Errorf("metadata s = %q, %v", s, ok)
	}
	if n, ok := got.Int("neg"); !ok || n != -7 {
		t.Errorf("metadata neg = %d, %v", n, ok)
	}
	if n, ok := got.Int("pos"); !ok || n != 1<<40 {
		t.Errorf("metadata pos = %d, %v", n, ok)
	}
	if b, ok := got.Bool("yes"); !ok || !b {
		t.Errorf("metadata yes = %v, %v", b, ok)
	}
	if f, ok := got.Values["f"].(float64); !ok || f != 1.5 {
		t.Errorf("metadata f = %#v", got.Values["f"])
	}
	if raw, ok := got.Values["raw"].([]byte); !ok || !bytes.Equal(raw, []byte{0, 1, 2}) {
		t.Errorf("metadata raw = %#v", got.Values["raw"])
	}
}

// testAppendBuilderResult checks what Commit reports against what is read
// back, and that a commit's events share their metadata.
func testAppendBuilderResult(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := must(st.Create().Metadata(evento.Metadata{RequestedBy: "alice"}).
		Event(noteWritten{Text: "a"}).Event(noteWritten{Text: "b"}).Commit(ctx))(t)
	events := readAggregate(t, st, noteType, res.AggregateID)
	checkVersions(t, events, 2)
	if res.Version != 2 || res.Position != events[1].Position {
		t.Errorf("Commit result = %+v, want version 2 at position %v", res, events[1].Position)
	}
	m0, m1 := events[0].Metadata, events[1].Metadata
	if m0.ID == "" || m0.ID != m1.ID || m0.RequestedBy != "alice" || m1.RequestedBy != "alice" {
		t.Errorf("metadata of one commit = %+v and %+v, want the same filled-in id and requested_by alice", m0, m1)
	}
	var n noteWritten
	noErr(t, st.Decode(events[1], &n))
	if n.Text != "b" {
		t.Errorf("second payload = %+v", n)
	}
	if ts := events[0].Timestamp; ts.IsZero() || time.Since(ts) > time.Hour || time.Until(ts) > time.Hour {
		t.Errorf("timestamp %v is not about now", ts)
	}
}

func testAppendHasEvent(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := must(st.Create().Event(incremented{By: 1}).Commit(ctx))(t)
	if ok := must(evento.HasEvent[incremented](ctx, st, res.AggregateID))(t); !ok {
		t.Error("HasEvent[incremented] = false after appending one")
	}
	if ok := must(evento.HasEvent[counterReset](ctx, st, res.AggregateID))(t); ok {
		t.Error("HasEvent[counterReset] = true, none was appended")
	}
	if ok := must(evento.HasEvent[incremented](ctx, st, "other"))(t); ok {
		t.Error("HasEvent[incremented] of another aggregate = true")
	}
}
