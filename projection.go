package evento

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventogo/evento/cursor"
)

// Projection loads the current state S of an aggregate by replaying its
// events through handlers, optionally starting from a snapshot.
//
// Configure a Projection once (NewProjection, then Skip, Safety, Snapshot)
// and share it; Load is safe for concurrent use, the configuration methods
// are not.
type Projection[S any] struct {
	aggregateType string
	d             dispatch[func(context.Context, *Store, *Event, *S) error]
	revision      string
	snapshotEvery int
	pageSize      int
	err           error
}

// NewProjection returns a projection of aggregates of the given type.
func NewProjection[S any](aggregateType string, handlers ...ProjectionHandler[S]) *Projection[S] {
	p := &Projection[S]{aggregateType: aggregateType, pageSize: 1000}
	for _, h := range handlers {
		p.d.add(h.key, h.apply)
	}
	return p
}

// Skip makes the projection ignore the given events, even in safety mode.
func (p *Projection[S]) Skip(events ...EventData) *Projection[S] {
	p.d.addSkip(events)
	return p
}

// Safety makes Load fail with ErrUnhandledEvent on an event that no handler
// and no Skip covers, instead of ignoring it.
func (p *Projection[S]) Safety() *Projection[S] {
	p.d.safety = true
	return p
}

// Snapshot turns snapshots on. Load restores the state saved under revision
// and replays only newer events; after replaying at least every events it
// saves the new state. Change revision whenever S or a handler changes
// meaning: snapshots of other revisions are ignored and rebuilt.
func (p *Projection[S]) Snapshot(revision string, every int) *Projection[S] {
	if err := checkName("snapshot revision", revision); err != nil && p.err == nil {
		p.err = err
	}
	p.revision = revision
	p.snapshotEvery = max(every, 1)
	return p
}

// Ref names one aggregate.
type Ref struct {
	// AggregateType names the aggregate type.
	AggregateType string
	// AggregateID identifies the aggregate.
	AggregateID string
}

// Loaded is the result of a Load.
type Loaded[S any] struct {
	// State is the projected state.
	State S
	// Version is the version of the loaded aggregate (not of any related
	// aggregate): the expected version for its next commit.
	Version int64
	// Cursor points at the last event the state includes.
	Cursor cursor.Value
	// FromSnapshot reports that the load started from a snapshot.
	FromSnapshot bool
	// Replayed counts the events read by this load.
	Replayed int
}

// Load builds the state of aggregate id. Events of the related aggregates
// in also are applied too, interleaved in global order, so that one state
// can combine, say, an account and its owner. Load reads every event, page
// by page; it fails with ErrNotFound when the aggregate has no events.
func (p *Projection[S]) Load(ctx context.Context, s *Store, id string, also ...Ref) (*Loaded[S], error) {
	ctx, span := s.tel.startLoad(ctx, p.aggregateType, id)
	out, err := p.load(ctx, s, id, also)
	switch {
	case span == nil:
	case out != nil:
		endLoad(span, out.Replayed, out.FromSnapshot, out.Version, err)
	default:
		endLoad(span, 0, false, 0, err)
	}
	return out, err
}

func (p *Projection[S]) load(ctx context.Context, s *Store, id string, also []Ref) (*Loaded[S], error) {
	if p.err != nil {
		return nil, p.err
	}
	if err := checkName("aggregate id", id); err != nil {
		return nil, err
	}
	filters := []Filter{{AggregateType: p.aggregateType, AggregateID: id}}
	snapID := id
	if len(also) > 0 {
		parts := []string{id}
		for _, r := range also {
			if err := checkName("aggregate type", r.AggregateType); err != nil {
				return nil, err
			}
			if err := checkName("aggregate id", r.AggregateID); err != nil {
				return nil, err
			}
			filters = append(filters, Filter{AggregateType: r.AggregateType, AggregateID: r.AggregateID})
			parts = append(parts, r.AggregateType, r.AggregateID)
		}
		snapID = DerivedID(parts...)
	}

	out := &Loaded[S]{}
	found := false
	key := SnapshotKey{AggregateType: p.aggregateType, Revision: p.revision, AggregateID: snapID}
	if p.revision != "" {
		ok, err := p.restore(ctx, s, key, out)
		if err != nil {
			return nil, err
		}
		found = ok
	}

	for {
		page, err := s.exec.Read(ctx, Query{Filters: filters, Args: cursor.Forward(p.pageSize, out.Cursor)})
		if err != nil {
			return nil, fmt.Errorf("evento: load %s/%s: %w", p.aggregateType, id, err)
		}
		for _, edge := range page.Edges {
			e := edge.Node
			if e.AggregateType == p.aggregateType && e.AggregateID == id {
				out.Version = e.Version
				found = true
			}
			apply, ok, err := p.d.lookup(e)
			if err != nil {
				return nil, err
			}
			if ok {
				if err := apply(ctx, s, e, &out.State); err != nil {
					return nil, fmt.Errorf("evento: apply %s/%s %s (version %d): %w",
						e.AggregateType, e.AggregateID, e.Name, e.Version, err)
				}
			}
			out.Cursor = edge.Cursor
			out.Replayed++
		}
		if !page.PageInfo.HasNextPage {
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: aggregate %s/%s has no events", ErrNotFound, p.aggregateType, id)
	}
	if p.revision != "" && out.Replayed >= p.snapshotEvery {
		p.save(ctx, s, key, out)
	}
	return out, nil
}

// restore loads the snapshot into out. A snapshot that no longer decodes into
// S is treated as missing, so the state is rebuilt from the events.
func (p *Projection[S]) restore(ctx context.Context, s *Store, key SnapshotKey, out *Loaded[S]) (bool, error) {
	snap, err := s.exec.LoadSnapshot(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("evento: load snapshot %s/%s@%s: %w", key.AggregateType, key.AggregateID, key.Revision, err)
	}
	var state S
	if err := s.codec.Unmarshal(snap.Data, &state); err != nil {
		s.logger.WarnContext(ctx, "evento: snapshot does not decode, rebuilding",
			"aggregate_type", key.AggregateType, "aggregate_id", key.AggregateID, "revision", key.Revision, "error", err)
		return false, nil
	}
	out.State, out.Version, out.Cursor, out.FromSnapshot = state, snap.Version, snap.Cursor, true
	return true, nil
}

// save stores the loaded state as a snapshot. A failure is logged, not
// returned: the load itself succeeded and the next one will try again.
func (p *Projection[S]) save(ctx context.Context, s *Store, key SnapshotKey, out *Loaded[S]) {
	data, err := s.codec.Marshal(out.State)
	if err == nil {
		err = s.exec.SaveSnapshot(ctx, &Snapshot{Key: key, Data: data, Version: out.Version, Cursor: out.Cursor})
	}
	if err != nil {
		s.logger.WarnContext(ctx, "evento: cannot save snapshot",
			"aggregate_type", key.AggregateType, "aggregate_id", key.AggregateID, "revision", key.Revision, "error", err)
	}
}
