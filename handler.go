package evento

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// ProjectionHandler applies one kind of event to a projection state S.
// Create one with [Apply].
type ProjectionHandler[S any] struct {
	key   EventKey
	apply func(ctx context.Context, s *Store, e *Event, state *S) error
}

// Apply returns the projection handler that decodes events of type E and
// calls fn with them and the state being built.
func Apply[E EventData, S any](fn func(ctx context.Context, ev Typed[E], state *S) error) ProjectionHandler[S] {
	var zero E
	return ProjectionHandler[S]{
		key: KeyOf(zero),
		apply: func(ctx context.Context, s *Store, e *Event, state *S) error {
			ev := Typed[E]{Event: e}
			if err := s.Decode(e, &ev.Data); err != nil {
				return err
			}
			return fn(ctx, ev, state)
		},
	}
}

// Handler reacts to one kind of event in a subscription. Create one with [On].
type Handler struct {
	key    EventKey
	handle func(ctx context.Context, s *Store, e *Event) error
}

// On returns the subscription handler that decodes events of type E and
// calls fn with them.
func On[E EventData](fn func(ctx context.Context, ev Typed[E]) error) Handler {
	var zero E
	return Handler{
		key: KeyOf(zero),
		handle: func(ctx context.Context, s *Store, e *Event) error {
			ev := Typed[E]{Event: e}
			if err := s.Decode(e, &ev.Data); err != nil {
				return err
			}
			return fn(ctx, ev)
		},
	}
}

// dispatch is the routing table shared by projections and subscriptions: a
// function per event key, a set of skipped keys, a function per aggregate
// type for "every event of this type", and the safety switch.
type dispatch[F any] struct {
	byKey  map[EventKey]F
	byType map[string]F
	skip   map[EventKey]bool
	safety bool
}

func (d *dispatch[F]) add(k EventKey, f F) {
	if d.byKey == nil {
		d.byKey = make(map[EventKey]F)
	}
	d.byKey[k] = f
}

func (d *dispatch[F]) addType(aggregateType string, f F) {
	if d.byType == nil {
		d.byType = make(map[string]F)
	}
	d.byType[aggregateType] = f
}

func (d *dispatch[F]) addSkip(events []EventData) {
	if d.skip == nil {
		d.skip = make(map[EventKey]bool)
	}
	for _, e := range events {
		d.skip[KeyOf(e)] = true
	}
}

// lookup returns the function for e, or ok=false when e is to be ignored. In
// safety mode an event that nothing covers is an error.
func (d *dispatch[F]) lookup(e *Event) (f F, ok bool, err error) {
	k := e.Key()
	if f, ok := d.byKey[k]; ok {
		return f, true, nil
	}
	if d.skip[k] {
		return f, false, nil
	}
	if f, ok := d.byType[e.AggregateType]; ok {
		return f, true, nil
	}
	if d.safety {
		return f, false, fmt.Errorf("%w: %s/%s %s (id %s, version %d)",
			ErrUnhandledEvent, e.AggregateType, e.AggregateID, e.Name, e.ID, e.Version)
	}
	return f, false, nil
}

// filters returns the narrowest filters that still deliver every event the
// table needs to see: whole aggregate types in safety mode or for type-wide
// handlers, single event names otherwise. The result is sorted so that the
// same table always yields the same query.
func (d *dispatch[F]) filters() []Filter {
	wholeType := make(map[string]bool)
	for t := range d.byType {
		wholeType[t] = true
	}
	if d.safety {
		for k := range d.byKey {
			wholeType[k.AggregateType] = true
		}
	}
	var out []Filter
	for t := range wholeType {
		out = append(out, Filter{AggregateType: t})
	}
	for k := range d.byKey {
		if !wholeType[k.AggregateType] {
			out = append(out, Filter{AggregateType: k.AggregateType, Name: k.Name})
		}
	}
	slices.SortFunc(out, func(a, b Filter) int {
		return cmp.Or(cmp.Compare(a.AggregateType, b.AggregateType), cmp.Compare(a.Name, b.Name))
	})
	return out
}
