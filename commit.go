package evento

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// Builder assembles one atomic commit of events to one aggregate. Get one
// from [Store.Create], [Store.CreateWithID] or [Store.Aggregate]; chain
// Event, Metadata and RoutingKey; finish with Commit.
//
// Event ids are fixed when Event is called, so calling Commit again on the
// same Builder after an unknown outcome (a timeout, a lost connection)
// either stores the commit or reports ErrAlreadyAppended: never twice.
type Builder struct {
	store      *Store
	id         string
	expected   int64
	routingKey string
	metadata   Metadata
	events     []pendingEvent
	err        error
}

type pendingEvent struct {
	id   ulid.ULID
	data EventData
}

// Result describes a stored commit.
type Result struct {
	// AggregateID identifies the aggregate written to.
	AggregateID string
	// Version is the aggregate's version after the commit; pass it as the
	// expected version of the next commit.
	Version int64
	// Position is the global position of the commit's last event.
	Position cursor.Position
}

// Create starts a commit that creates a new aggregate with a generated ULID id.
func (s *Store) Create() *Builder { return s.CreateWithID(ulid.Make().String()) }

// CreateWithID starts a commit that creates a new aggregate with the given
// id; it fails with ErrVersionConflict if the aggregate already exists. Use
// DerivedID for an id built from several other ids.
func (s *Store) CreateWithID(id string) *Builder { return &Builder{store: s, id: id} }

// Aggregate starts a commit to an existing aggregate whose current version
// the caller has seen as expectedVersion.
func (s *Store) Aggregate(id string, expectedVersion int64) *Builder {
	return &Builder{store: s, id: id, expected: expectedVersion}
}

// DerivedID returns a stable aggregate id computed from several ids, e.g. for
// an aggregate that exists once per (account, month). The order of ids
// matters.
func DerivedID(ids ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, id := range ids {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
		h.Write([]byte(id))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Event adds an event with a generated id.
func (b *Builder) Event(data EventData) *Builder { return b.EventWithID(ulid.Make(), data) }

// EventWithID adds an event with an id chosen by the caller, e.g. one derived
// from an inbound message id so that a redelivered message is recognised.
func (b *Builder) EventWithID(id ulid.ULID, data EventData) *Builder {
	if data == nil {
		b.fail(fmt.Errorf("%w: nil event", ErrInvalidArgument))
		return b
	}
	b.events = append(b.events, pendingEvent{id: id, data: data})
	return b
}

// Metadata sets the metadata every event of the commit carries. An empty
// Metadata.ID is filled with a new ULID.
func (b *Builder) Metadata(m Metadata) *Builder {
	b.metadata = m
	return b
}

// RoutingKey sets the routing key of a new aggregate. Commits to an existing
// aggregate inherit the key of its first event, so setting one there is an
// error.
func (b *Builder) RoutingKey(k string) *Builder {
	if b.expected != 0 {
		b.fail(fmt.Errorf("%w: routing key is fixed by the aggregate's first commit", ErrInvalidArgument))
	}
	b.routingKey = k
	return b
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Commit appends the events atomically. It fails with ErrVersionConflict if
// the aggregate moved on since the expected version, ErrAlreadyAppended if
// this commit was already stored, ErrNoEvents if no event was added and
// ErrPayloadTooLarge if a payload exceeds the store's limit.
func (b *Builder) Commit(ctx context.Context) (Result, error) {
	if b.err != nil {
		return Result{}, b.err
	}
	if len(b.events) == 0 {
		return Result{}, ErrNoEvents
	}
	ctx, op := b.store.tel.startAppend(ctx, b.events[0].data.AggregateType(), b.id, b.expected, len(b.events))
	res, err := b.commit(ctx)
	op.end(ctx, err)
	return res, err
}

// commit encodes the events and appends them.
func (b *Builder) commit(ctx context.Context) (Result, error) {
	c, err := b.prepare()
	if err != nil {
		return Result{}, err
	}
	if err := b.store.exec.Append(ctx, c); err != nil {
		return Result{}, err
	}
	last := c.Events[len(c.Events)-1]
	return Result{AggregateID: b.id, Version: last.Version, Position: last.Position}, nil
}

func (b *Builder) prepare() (*Commit, error) {
	aggType := b.events[0].data.AggregateType()
	md := b.metadata
	if md.ID == "" {
		md.ID = ulid.Make().String()
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &Commit{
		AggregateType:   aggType,
		AggregateID:     b.id,
		ExpectedVersion: b.expected,
		RoutingKey:      b.routingKey,
		Events:          make([]*Event, len(b.events)),
	}
	for i, p := range b.events {
		if t := p.data.AggregateType(); t != aggType {
			return nil, fmt.Errorf("%w: one commit holds events of %q and %q", ErrInvalidArgument, aggType, t)
		}
		data, err := b.store.codec.Marshal(p.data)
		if err != nil {
			return nil, fmt.Errorf("evento: encode %s/%s: %w", aggType, p.data.EventName(), err)
		}
		if len(data) > b.store.maxPayload {
			return nil, fmt.Errorf("%w: %s/%s is %d bytes, limit %d",
				ErrPayloadTooLarge, aggType, p.data.EventName(), len(data), b.store.maxPayload)
		}
		c.Events[i] = &Event{
			ID:            p.id,
			AggregateType: aggType,
			AggregateID:   b.id,
			Version:       b.expected + int64(i) + 1,
			Name:          p.data.EventName(),
			Data:          data,
			Metadata:      md,
			Timestamp:     now,
		}
	}
	return c, c.Validate()
}
