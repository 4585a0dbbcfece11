package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
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

// Acknowledge stores ack's cursor and lag for l's key and sets l.Cursor. It
// fails with an error matching evento.ErrLeaseLost, having stored nothing,
// when l's epoch is no longer current. It does not extend the lease.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	return x.leases.Acknowledge(ctx, l, ack)
}

// SubscriptionStatus returns the stored state of key, or an error matching
// evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	return x.leases.SubscriptionStatus(ctx, key)
}

// fenced runs a write guarded by key, owner and epoch, behind the writer
// lock; SQLite counts matched rows, so none means the lease is lost.
func (x *Executor) fenced(ctx context.Context, _ *evento.Lease, query string, args ...any) (bool, error) {
	var res sql.Result
	err := x.writeOne(ctx, func() (err error) {
		res, err = x.db.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
