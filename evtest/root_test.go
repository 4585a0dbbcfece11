// Regression tests for root-package behaviour the suite relies on: a
// cancelled Execute reports it, HasEvent refuses an empty id, and a commit
// may not hold one event id twice.
package evtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

type probe struct{}

func (probe) AggregateType() string { return "probe/Thing" }
func (probe) EventName() string     { return "Happened" }

// Execute must not report success when its context ends before the log is
// drained: a caller running it under a timeout would think it caught up.
func TestRootExecuteCancelledReportsError(t *testing.T) {
	st := evento.New(newMemory())
	for range 5 {
		if _, err := st.Create().Event(probe{}).Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	handled := 0
	err := evento.NewSubscription("s", evento.On(func(context.Context, evento.Typed[probe]) error {
		handled++
		cancel() // the caller's deadline passes while the first event is handled
		return nil
	})).Execute(ctx, st)
	if handled < 5 && !errors.Is(err, context.Canceled) {
		t.Errorf("Execute handled %d of 5 events and returned %v, want an error matching context.Canceled", handled, err)
	}
}

// HasEvent with an empty id must not answer for every aggregate of the type.
func TestRootHasEventEmptyID(t *testing.T) {
	st := evento.New(newMemory())
	if _, err := st.Create().Event(probe{}).Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	ok, err := evento.HasEvent[probe](t.Context(), st, "")
	if !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("HasEvent(\"\") = %v, %v; want an error matching ErrInvalidArgument", ok, err)
	}
}

// Commit.Validate must refuse two events with the same id in one commit, so
// that no executor has to notice on its own (the memory executor of
// this package would otherwise store both).
func TestRootValidateDuplicateIDs(t *testing.T) {
	id := ulid.Make()
	c := &evento.Commit{AggregateType: "probe/Thing", AggregateID: "a", Events: []*evento.Event{
		{ID: id, AggregateType: "probe/Thing", AggregateID: "a", Version: 1, Name: "Happened"},
		{ID: id, AggregateType: "probe/Thing", AggregateID: "a", Version: 2, Name: "Happened"},
	}}
	if err := c.Validate(); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("Validate of a commit with a repeated event id = %v, want ErrInvalidArgument", err)
	}
}
