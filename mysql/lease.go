package mysql

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
			return nil, x.leases.Held(ctx, key)
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
		return nil, x.leases.Held(ctx, key)
	case err != nil:
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
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
// event id or an event, or with an event id (or a recorded error's event
// id) longer than evento.MaxNameLen bytes. It does not extend the lease.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	if err := checkAck(ack); err != nil {
		return err
	}
	return x.leases.Acknowledge(ctx, l, ack)
}

// checkAck refuses event ids that VARBINARY(255) cannot hold: a server
// without strict sql_mode would cut them short, and two parked events
// could collide.
func checkAck(ack evento.Ack) error {
	if ack.Error != nil && len(ack.Error.EventID) > evento.MaxNameLen {
		return fmt.Errorf("%w: error event id longer than %d bytes", evento.ErrInvalidArgument, evento.MaxNameLen)
	}
	for _, dl := range ack.Park {
		if dl != nil && len(dl.EventID) > evento.MaxNameLen {
			return fmt.Errorf("%w: dead letter event id longer than %d bytes", evento.ErrInvalidArgument, evento.MaxNameLen)
		}
	}
	return nil
}

// SubscriptionStatus returns the stored state of key, its last recorded
// error included, or an error matching evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	return x.leases.SubscriptionStatus(ctx, key)
}

// fenced runs a write guarded by key, owner and epoch on q, the database
// or an acknowledgement's transaction. MySQL counts changed rows, not
// matched ones, so a write that matched but set the values already stored
// changes none; only when the (key, owner, epoch) row is gone is the lease
// lost. Inside a transaction the write has locked the row when it matched,
// so the look that follows reads what the write saw.
func (x *Executor) fenced(ctx context.Context, q sqlstore.Execer, l *evento.Lease, query string, args ...any) (bool, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err == nil, err
	}
	var one int
	err = q.QueryRowContext(ctx, x.stmt.leaseIsCurrent, l.Key, l.Owner, l.Epoch).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
