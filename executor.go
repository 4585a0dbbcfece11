package evento

import (
	"context"
	"time"

	"github.com/eventogo/evento/cursor"
)

// Executor is the storage contract. Each storage engine implements it once
// (see the sqlite package); users rarely call it directly and go through a
// [Store] instead. Implementations must be safe for concurrent use.
//
// An Executor must keep the semantics checked by the evtest package: atomic
// commits with optimistic concurrency, one total order over all events that
// equals commit order as readers see it, cursor pagination both ways,
// snapshots, and subscription leases fenced by epoch.
type Executor interface {
	EventStore
	SnapshotStore
	LeaseStore
}

// EventStore appends and reads events.
type EventStore interface {
	// Append writes all events of c atomically, or none. It fails with
	// ErrVersionConflict when the aggregate's current version is not
	// c.ExpectedVersion, and with ErrAlreadyAppended when the commit's
	// events are already stored. On success it sets Position and
	// RoutingKey on each event of c.
	Append(ctx context.Context, c *Commit) error

	// Read returns one page of the events that match q, in global order.
	Read(ctx context.Context, q Query) (*cursor.Page[*Event], error)
}

// SnapshotStore keeps projection snapshots.
type SnapshotStore interface {
	// LoadSnapshot returns the snapshot stored for the key, or an error
	// matching ErrNotFound.
	LoadSnapshot(ctx context.Context, key SnapshotKey) (*Snapshot, error)
	// SaveSnapshot stores s, replacing the snapshot with the same key.
	SaveSnapshot(ctx context.Context, s *Snapshot) error
}

// LeaseStore keeps subscription cursors behind leases: at most one worker
// per subscription key holds an unexpired lease at a time, and every cursor
// write is fenced by the lease's epoch.
type LeaseStore interface {
	// AcquireLease gives owner the lease on key for ttl when it is free,
	// expired or already owner's, and increments its epoch. It fails with
	// ErrLeaseHeld while another owner holds an unexpired lease.
	AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error)
	// RenewLease extends l by ttl from now. It fails with ErrLeaseLost when
	// the lease's epoch moved on or it was released.
	RenewLease(ctx context.Context, l *Lease, ttl time.Duration) error
	// ReleaseLease frees l so that another worker can take over at once.
	// Releasing a lease that was lost is not an error.
	ReleaseLease(ctx context.Context, l *Lease) error
	// Acknowledge stores the cursor up to which l's holder has processed
	// events, and the lag behind the newest event it saw. It fails with
	// ErrLeaseLost, and stores nothing, when l's epoch is no longer current.
	Acknowledge(ctx context.Context, l *Lease, ack Ack) error
	// SubscriptionStatus returns the stored state of key, or an error
	// matching ErrNotFound.
	SubscriptionStatus(ctx context.Context, key string) (*SubscriptionStatus, error)
}

// MonotonicReader is implemented by executors whose reads never see less
// of the log than an earlier read did: once a read has returned an event,
// every later read sees every event up to its position. The stores of
// this module give that on their one database (MySQL by bounding each
// read with its committed counter, PostgreSQL with its visibility
// horizon); several replicas behind one address, each with its own
// delay, do not.
//
// A subscription worker on such an executor reads the log's last event
// before a drain and, once the drain has read every event after its
// cursor, moves the cursor there, past the events it does not handle, so
// that its next poll does not read them again (see Subscription.RoutingKey
// and AckInterval). On any other executor, Rw and Group included, the
// cursor stays on the last event handled. A type that embeds one of this
// module's stores inherits its MonotonicReads: if it sends reads anywhere
// else (a replica), it must declare its own that returns false, or its
// subscriptions may skip events the replica has not shown yet.
type MonotonicReader interface {
	// MonotonicReads reports whether the executor's reads are monotonic.
	MonotonicReads() bool
}

// Waker is implemented by executors that can tell subscriptions that
// events were appended, so that they need not wait for their next poll:
// appends through the same executor at least, and on stores that push
// notifications (PostgreSQL's LISTEN/NOTIFY) appends from any process.
type Waker interface {
	// Wake returns a channel that is closed after the next successful
	// append. Take the channel before reading, then wait on it, so that no
	// append between the read and the wait is missed.
	Wake() <-chan struct{}
}

// Commit is what an executor appends: one or more events of one aggregate.
// The [Builder] prepares it; executors call [Commit.Validate] before writing.
type Commit struct {
	// AggregateType is the type of the aggregate every event belongs to.
	AggregateType string
	// AggregateID identifies the aggregate.
	AggregateID string
	// ExpectedVersion is the aggregate's version the writer saw; 0 means the
	// aggregate must not exist yet.
	ExpectedVersion int64
	// RoutingKey is the routing key of a new aggregate (ExpectedVersion 0).
	// Later commits inherit the key of the aggregate's first event, and the
	// executor ignores this field for them.
	RoutingKey string
	// Events holds the events, with versions ExpectedVersion+1, +2, ...
	Events []*Event
}

// Filter selects events by aggregate type and, optionally, aggregate id and
// event name. Empty fields match anything, except AggregateType, which is
// required.
type Filter struct {
	// AggregateType is required.
	AggregateType string
	// AggregateID, when set, selects one aggregate.
	AggregateID string
	// Name, when set, selects one event name.
	Name string
}

// RoutingKey selects events by routing key: any key (the zero value), no
// key, or one key.
type RoutingKey struct {
	mode  routingMode
	value string
}

type routingMode uint8

const (
	routingAny routingMode = iota
	routingNone
	routingValue
)

// AnyRoutingKey matches every event, with or without a routing key.
func AnyRoutingKey() RoutingKey { return RoutingKey{} }

// NoRoutingKey matches only events without a routing key.
func NoRoutingKey() RoutingKey { return RoutingKey{mode: routingNone} }

// RoutingKeyOf matches only events with routing key k. An empty k is the
// same as NoRoutingKey.
func RoutingKeyOf(k string) RoutingKey {
	if k == "" {
		return NoRoutingKey()
	}
	return RoutingKey{mode: routingValue, value: k}
}

// IsAny reports whether r matches every event.
func (r RoutingKey) IsAny() bool { return r.mode == routingAny }

// IsNone reports whether r matches only events without a routing key.
func (r RoutingKey) IsNone() bool { return r.mode == routingNone }

// Value returns the key r matches, and false when r is Any or None.
func (r RoutingKey) Value() (string, bool) { return r.value, r.mode == routingValue }

// String describes r for logs: "*", "<none>" or the key.
func (r RoutingKey) String() string {
	switch r.mode {
	case routingNone:
		return "<none>"
	case routingValue:
		return r.value
	}
	return "*"
}

// Query asks for one page of events.
type Query struct {
	// Filters are OR-ed; no filter matches every event.
	Filters []Filter
	// RoutingKey restricts the events further; the zero value matches all.
	RoutingKey RoutingKey
	// Args selects the page.
	Args cursor.Args
}

// SnapshotKey identifies a snapshot.
type SnapshotKey struct {
	// AggregateType is the projection's aggregate type.
	AggregateType string
	// Revision is the projection's snapshot revision; changing it orphans
	// every older snapshot.
	Revision string
	// AggregateID identifies the aggregate (or the set of aggregates) the
	// snapshot was built from.
	AggregateID string
}

// Snapshot is a saved projection state and the point up to which it is valid.
type Snapshot struct {
	// Key identifies the snapshot.
	Key SnapshotKey
	// Data is the encoded state.
	Data []byte
	// Version is the aggregate's version the state includes.
	Version int64
	// Cursor points at the last event the state includes; a load replays
	// only events after it.
	Cursor cursor.Value
	// UpdatedAt is when the snapshot was saved.
	UpdatedAt time.Time
}

// Lease is a worker's claim on a subscription key.
type Lease struct {
	// Key is the subscription key.
	Key string
	// Owner identifies the worker holding the lease.
	Owner string
	// Epoch increases on every acquisition; cursor writes are fenced by it.
	Epoch int64
	// Cursor is where the subscription stopped: processing resumes after it.
	Cursor cursor.Value
	// ExpiresAt is when the lease lapses unless renewed.
	ExpiresAt time.Time
}

// Ack is what a subscription worker stores after processing events.
type Ack struct {
	// Cursor points at the last processed event.
	Cursor cursor.Value
	// Lag is how far behind the newest event the worker was when it
	// acknowledged (now minus the last processed event's timestamp).
	Lag time.Duration
	// Error, when set, replaces the subscription's last error; the executor
	// records it with the acknowledgement's own time, which both its At and
	// the status's UpdatedAt then read. When nil the stored last error is
	// left as it is.
	Error *SubscriptionError
	// Park holds events to add to the subscription's dead letters, written
	// atomically with the cursor: all or none, and none when the lease is
	// lost. Parking an event already parked under the key replaces it.
	// Only executors that implement DeadLetterStore accept it; others fail
	// with ErrUnsupported when Park is not empty.
	Park []*DeadLetter
}

// SubscriptionError is a handler failure a subscription recorded.
type SubscriptionError struct {
	// EventID is the id of the event whose handler failed.
	EventID string
	// Message is the handler's error, followed by the event's aggregate,
	// name and version in parentheses.
	Message string
	// At is when the failure was recorded.
	At time.Time
	// Fatal says the failure stopped the subscription; otherwise the event
	// was parked or passed over and processing went on.
	Fatal bool
}

// SubscriptionStatus is the stored state of a subscription key.
type SubscriptionStatus struct {
	// Key is the subscription key.
	Key string
	// Owner is the worker holding (or last holding) the lease; empty when
	// released.
	Owner string
	// Epoch counts acquisitions.
	Epoch int64
	// ExpiresAt is when the current lease lapses; zero when released.
	ExpiresAt time.Time
	// Cursor points at the last acknowledged event.
	Cursor cursor.Value
	// Lag is the lag reported by the last acknowledgement.
	Lag time.Duration
	// UpdatedAt is when the cursor was last acknowledged.
	UpdatedAt time.Time
	// LastError is the last handler failure recorded, or nil.
	LastError *SubscriptionError
}

// Stopped reports whether the subscription stopped on a handler failure:
// its last acknowledgement recorded a fatal error, and no worker holds the
// lease at now.
func (s *SubscriptionStatus) Stopped(now time.Time) bool {
	return s.LastError != nil && s.LastError.Fatal && !s.LastError.At.Before(s.UpdatedAt) &&
		(s.Owner == "" || !now.Before(s.ExpiresAt))
}
