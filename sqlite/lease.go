package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore"
)

// Leases live in the subscriptions table, one row per subscription key:
// owner (NULL once released), epoch (bumped by every acquisition),
// expires_at, and the acknowledged cursor and lag. Every write after the
// acquisition names the key, the owner and the epoch, so a worker whose
// lease moved on changes nothing. Times come from this process's clock, in
// unix microseconds; workers on several machines need reasonably synchronised
// clocks, within a small fraction of the lease TTL.

// AcquireLease gives owner the lease on key for ttl when it is free, expired
// or already owner's, in one statement, and increments its epoch. It fails
// with an error matching evento.ErrLeaseHeld while another owner holds an
// unexpired lease.
func (x *Executor) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	now := time.Now()
	l := &evento.Lease{Key: key, Owner: owner}
	var (
		position  string
		expiresAt int64
	)
	err := x.writeOne(ctx, func() error {
		return x.db.QueryRowContext(ctx, x.stmt.acquireLease, key, owner, now.Add(ttl).UnixMicro(), now.UnixMicro()).
			Scan(&l.Epoch, &position, &expiresAt)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, x.leases.Held(ctx, key)
	case err != nil:
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
	l.ExpiresAt = time.UnixMicro(expiresAt).UTC()
	return l, nil
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (x *Executor) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	return x.leases.RenewLease(ctx, l, ttl)
}

// ReleaseLease frees l so that another worker can take it at once.
// Releasing a lease that was already lost is not an error.
func (x *Executor) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	return x.leases.ReleaseLease(ctx, l)
}

// Acknowledge stores ack's cursor and lag for l's key and sets l.Cursor.
// ack.Error, when set, becomes the key's last error, recorded with the
// acknowledgement's time; ack.Park is added to the key's dead letters in
// the same transaction. It fails with an error matching
// evento.ErrLeaseLost, having stored nothing, when l's epoch is no longer
// current, and with evento.ErrInvalidArgument for a dead letter without an
// event id or an event. It does not extend the lease.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	return x.leases.Acknowledge(ctx, l, ack)
}

// SubscriptionStatus returns the stored state of key, its last recorded
// error included, or an error matching evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	return x.leases.SubscriptionStatus(ctx, key)
}

// writeTurn starts this process's write turn, for the shared lease code.
func (x *Executor) writeTurn(ctx context.Context) (func(), error) {
	if err := x.lockWriter(ctx); err != nil {
		return nil, err
	}
	return x.unlockWriter, nil
}

// fenced runs a write guarded by key, owner and epoch on q; the shared
// lease code runs it in this process's write turn. SQLite counts matched
// rows, so none means the lease is lost.
func (x *Executor) fenced(ctx context.Context, q sqlstore.Execer, _ *evento.Lease, query string, args ...any) (bool, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
