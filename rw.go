package evento

import (
	"context"
	"time"

	"github.com/eventogo/evento/cursor"
)

// Rw is an executor that reads events from one store and does everything
// else (appends, snapshots, leases, acknowledgements) on another: typically
// a PostgreSQL replica and its primary.
//
// Reads lag behind the write store by the replication delay. Subscriptions
// cope (they poll, and their cursors come from the read store, whose order
// is the write store's order); a projection loaded from the read store right
// after an append may miss that append, and a commit using its version then
// fails with ErrVersionConflict. Load state for commands through the write
// store when that matters. The read store may be several replicas behind
// one address, each with its own delay; so that it misses nothing there, a
// subscription keeps its cursor on the last event it handled under an Rw,
// where on a single store it moves the cursor past the events it does not
// handle (see MonotonicReader).
type Rw struct {
	read  EventStore
	write Executor
}

var _ Executor = (*Rw)(nil)

// NewRw returns an executor that reads events from read and sends
// everything else to write.
func NewRw(read EventStore, write Executor) *Rw { return &Rw{read: read, write: write} }

// Append appends to the write store.
func (r *Rw) Append(ctx context.Context, c *Commit) error { return r.write.Append(ctx, c) }

// Read reads from the read store.
func (r *Rw) Read(ctx context.Context, q Query) (*cursor.Page[*Event], error) {
	return r.read.Read(ctx, q)
}

// LoadSnapshot loads from the write store.
func (r *Rw) LoadSnapshot(ctx context.Context, key SnapshotKey) (*Snapshot, error) {
	return r.write.LoadSnapshot(ctx, key)
}

// SaveSnapshot saves to the write store.
func (r *Rw) SaveSnapshot(ctx context.Context, s *Snapshot) error {
	return r.write.SaveSnapshot(ctx, s)
}

// AcquireLease acquires on the write store.
func (r *Rw) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error) {
	return r.write.AcquireLease(ctx, key, owner, ttl)
}

// RenewLease renews on the write store.
func (r *Rw) RenewLease(ctx context.Context, l *Lease, ttl time.Duration) error {
	return r.write.RenewLease(ctx, l, ttl)
}

// ReleaseLease releases on the write store.
func (r *Rw) ReleaseLease(ctx context.Context, l *Lease) error { return r.write.ReleaseLease(ctx, l) }

// Acknowledge acknowledges on the write store.
func (r *Rw) Acknowledge(ctx context.Context, l *Lease, ack Ack) error {
	return r.write.Acknowledge(ctx, l, ack)
}

// SubscriptionStatus reads the status from the write store.
func (r *Rw) SubscriptionStatus(ctx context.Context, key string) (*SubscriptionStatus, error) {
	return r.write.SubscriptionStatus(ctx, key)
}

// Wake returns the write store's wake-up channel, where this process's
// appends land, or nil (never fires) when it has none. A woken subscription
// may find the read store still behind; it then sees the events at its next
// poll.
func (r *Rw) Wake() <-chan struct{} {
	if w, ok := r.write.(Waker); ok {
		return w.Wake()
	}
	return nil
}
