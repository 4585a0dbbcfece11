package mysql

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
// lease moved on changes nothing; each is one statement whose row lock
// decides races, never a read followed by a write. Times come from this
// process's clock, in unix microseconds; workers on several machines need
// reasonably synchronised clocks, within a small fraction of the lease TTL.

// AcquireLease gives owner the lease on key for ttl when it is free, expired
// or already owner's, and increments its epoch. It fails with an error
// matching evento.ErrLeaseHeld while another owner holds an unexpired
// lease.
func (x *Executor) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	if len(key) > evento.MaxNameLen || len(owner) > evento.MaxNameLen {
		return nil, fmt.Errorf("%w: lease key or owner longer than %d bytes", evento.ErrInvalidArgument, evento.MaxNameLen)
	}
	now := time.Now()
	expiresAt := now.Add(ttl).UnixMicro()
	l := &evento.Lease{Key: key, Owner: owner, ExpiresAt: time.UnixMicro(expiresAt).UTC()}

	res, err := x.db.ExecContext(ctx, x.stmt.claimLease, owner, expiresAt, key, now.UnixMicro(), owner)
	if err != nil {
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	claimed, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	if claimed == 0 {
		// No row, or a row held by another owner: only the first can be
		// created. A duplicate key means another worker created it first.
		_, err := x.db.ExecContext(ctx, x.stmt.createLease, key, owner, expiresAt)
		switch {
		case err == nil:
			l.Epoch = 1
			return l, nil
		case isDuplicateKey(err):
			return nil, x.leaseHeld(ctx, key)
		}
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	if l.Epoch, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	// Only the holder of this epoch can move the cursor, so it is the
	// cursor the lease resumes from; when the row has moved on to a later
	// epoch already, the lease was taken over at once.
	var position []byte
	err = x.db.QueryRowContext(ctx, x.stmt.leaseCursor, key, owner, l.Epoch).Scan(&position)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, x.leaseHeld(ctx, key)
	case err != nil:
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
	return l, nil
}

// leaseHeld reports who holds the lease AcquireLease could not take.
func (x *Executor) leaseHeld(ctx context.Context, key string) error {
	var (
		holder    sql.NullString
		expiresAt int64
	)
	if err := x.db.QueryRowContext(ctx, x.stmt.leaseHolder, key).Scan(&holder, &expiresAt); err != nil {
		return fmt.Errorf("%w: %s", evento.ErrLeaseHeld, key)
	}
	return fmt.Errorf("%w: %s is held by %s until %s", evento.ErrLeaseHeld, key, holder.String,
		time.UnixMicro(expiresAt).UTC().Format(time.RFC3339Nano))
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (x *Executor) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: lease ttl must be positive", evento.ErrInvalidArgument)
	}
	expiresAt := time.Now().Add(ttl).UnixMicro()
	if err := x.fencedWrite(ctx, "renew", l, x.stmt.renewLease, expiresAt, l.Key, l.Owner, l.Epoch); err != nil {
		return err
	}
	l.ExpiresAt = time.UnixMicro(expiresAt).UTC()
	return nil
}

// ReleaseLease frees l so that another worker can take it at once.
// Releasing a lease that was already lost is not an error.
func (x *Executor) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	err := x.fencedWrite(ctx, "release", l, x.stmt.releaseLease, l.Key, l.Owner, l.Epoch)
	if errors.Is(err, evento.ErrLeaseLost) {
		return nil
	}
	return err
}

// Acknowledge stores ack's cursor and lag for l's key, with the time, and
// sets l.Cursor. It fails with an error matching evento.ErrLeaseLost, having
// stored nothing, when l's epoch is no longer current. It does not extend
// the lease.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	err := x.fencedWrite(ctx, "acknowledge", l, x.stmt.acknowledge,
		string(ack.Cursor), ack.Lag.Microseconds(), time.Now().UnixMicro(), l.Key, l.Owner, l.Epoch)
	if err != nil {
		return err
	}
	l.Cursor = ack.Cursor
	return nil
}

// fencedWrite runs a write guarded by key, owner and epoch. MySQL counts
// changed rows, not matched ones, so a write that matched but set the
// values already stored changes none; only when the (key, owner, epoch)
// row is gone is the lease lost.
func (x *Executor) fencedWrite(ctx context.Context, op string, l *evento.Lease, query string, args ...any) error {
	res, err := x.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = x.db.QueryRowContext(ctx, x.stmt.leaseIsCurrent, l.Key, l.Owner, l.Epoch).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s by %s at epoch %d", evento.ErrLeaseLost, l.Key, l.Owner, l.Epoch)
	case err != nil:
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	}
	return nil
}

// SubscriptionStatus returns the stored state of key, or an error matching
// evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	var (
		st                        = &evento.SubscriptionStatus{Key: key}
		owner                     sql.NullString
		position                  []byte
		expiresAt, lag, updatedAt int64
	)
	err := x.db.QueryRowContext(ctx, x.stmt.subscriptionStatus, key).
		Scan(&owner, &st.Epoch, &expiresAt, &position, &lag, &updatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: subscription status %s: %w", key, err)
	}
	st.Owner = owner.String
	st.Cursor = cursor.Value(position)
	st.Lag = time.Duration(lag) * time.Microsecond
	st.ExpiresAt = unixMicroOrZero(expiresAt)
	st.UpdatedAt = unixMicroOrZero(updatedAt)
	return st, nil
}

// unixMicroOrZero converts a stored time, where 0 means none.
func unixMicroOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
