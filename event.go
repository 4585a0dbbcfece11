package evento

import (
	"time"

	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// Event is one stored event, as every executor reads and writes it.
type Event struct {
	// ID is unique across the store and sortable by creation time.
	ID ulid.ULID
	// AggregateType names the kind of aggregate, e.g. "bank/Account".
	AggregateType string
	// AggregateID identifies the aggregate within its type.
	AggregateID string
	// Version is the event's place in its aggregate: 1, 2, 3, ...
	Version int64
	// Name is the event's name, e.g. "MoneyDeposited".
	Name string
	// RoutingKey is the aggregate's routing key, fixed by its first event;
	// empty means none.
	RoutingKey string
	// Data is the payload, encoded by the store's codec.
	Data []byte
	// Metadata describes the request that produced the event.
	Metadata Metadata
	// Timestamp is when the event was committed, in UTC with microsecond
	// precision.
	Timestamp time.Time
	// Position is the event's place in the store's global order. It is set
	// by the executor when the event is appended.
	Position cursor.Position
}

// EventData is implemented by every typed event payload. Both methods must
// return constants; they are called on the zero value.
//
// A common pattern embeds a small per-aggregate type that provides
// AggregateType, so that each event declares only its name:
//
//	type accountEvent struct{}
//
//	func (accountEvent) AggregateType() string { return "bank/Account" }
//
//	type MoneyDeposited struct {
//		accountEvent
//		Amount int64
//	}
//
//	func (MoneyDeposited) EventName() string { return "MoneyDeposited" }
type EventData interface {
	// AggregateType returns the aggregate type the event belongs to.
	AggregateType() string
	// EventName returns the name the event is stored under.
	EventName() string
}

// Typed is an event whose payload has been decoded into E. The embedded
// *Event gives the envelope (ID, AggregateID, Version, Metadata, ...); Data
// shadows the raw payload bytes, which remain reachable as Event.Data.
type Typed[E EventData] struct {
	*Event
	// Data is the decoded payload.
	Data E
}

// EventKey identifies a kind of event: an aggregate type and an event name.
type EventKey struct {
	// AggregateType names the aggregate type.
	AggregateType string
	// Name is the event name.
	Name string
}

// KeyOf returns the key of a typed event.
func KeyOf(e EventData) EventKey {
	return EventKey{AggregateType: e.AggregateType(), Name: e.EventName()}
}

// Key returns the event's key.
func (e *Event) Key() EventKey { return EventKey{AggregateType: e.AggregateType, Name: e.Name} }

// Cursor returns the cursor that points at the event in its store.
func (e *Event) Cursor() cursor.Value { return cursor.Encode(e.Position) }
