package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// Leases live in the subscriptions table, one row per subscription key:
// owner (NULL once released), epoch (bumped by every acquisition),
// expires_at (NULL once released), and the acknowledged cursor and lag.
// Every write after the acquisition names the key, the owner and the epoch,
// so a worker whose lease moved on changes nothing. Expiries are computed
// and compared on the database server's clock (clock_timestamp()), so that
// workers on several machines agree on them whatever their own clocks say.

// AcquireLease gives owner the lease on key for ttl when it is free, expired
// or already owner's, in one statement, and increments its epoch. It fails
// with an error matching evento.ErrLeaseHeld while another owner holds an
// unexpired lease.
func (x *Executor) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	l := &evento.Lease{Key: key, Owner: owner}
	var position string
	err := x.pool.QueryRow(ctx, x.stmt.acquireLease, key, owner, ttl.Microseconds()).
		Scan(&l.Epoch, &position, &l.ExpiresAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, x.leaseHeld(ctx, key)
	case err != nil:
		return nil, fmt.Errorf("evento: acquire lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
	l.ExpiresAt = l.ExpiresAt.UTC()
	return l, nil
}

// leaseHeld reports who holds the lease AcquireLease could not take.
func (x *Executor) leaseHeld(ctx context.Context, key string) error {
	var (
		holder    *string
		expiresAt *time.Time
	)
	if err := x.pool.QueryRow(ctx, x.stmt.leaseHolder, key).Scan(&holder, &expiresAt); err != nil || holder == nil || expiresAt == nil {
		return fmt.Errorf("%w: %s", evento.ErrLeaseHeld, key)
	}
	return fmt.Errorf("%w: %s is held by %s until %s", evento.ErrLeaseHeld, key, *holder,
		expiresAt.UTC().Format(time.RFC3339Nano))
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (x *Executor) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: lease ttl must be positive", evento.ErrInvalidArgument)
	}
	var expiresAt time.Time
	err := x.pool.QueryRow(ctx, x.stmt.renewLease, ttl.Microseconds(), l.Key, l.Owner, l.Epoch).Scan(&expiresAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return leaseLost(l)
	case err != nil:
		return fmt.Errorf("evento: renew lease %s: %w", l.Key, err)
	}
	l.ExpiresAt = expiresAt.UTC()
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

// Acknowledge stores ack's cursor and lag for l's key, with the time on
// the database's clock, and sets l.Cursor. ack.Error, when set, becomes the
// key's last error, recorded with the same time; ack.Park is added to the
// key's dead letters in the same transaction. It fails with an error
// matching evento.ErrLeaseLost, having stored nothing, when l's epoch is no
// longer current, and with evento.ErrInvalidArgument for a dead letter
// without an event id or an event. It does not extend the lease.
//
// PostgreSQL's text holds valid UTF-8 without NUL bytes: any other byte of
// an error message is stored as U+FFFD, rather than making the
// acknowledgement fail.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	if err := sqlstore.CheckAck(ack); err != nil {
		return err
	}
	switch {
	case len(ack.Park) > 0:
		return x.AcknowledgeTx(ctx, l, ack, nil)
	case ack.Error != nil:
		// One statement, atomic on its own.
		if _, err := x.acknowledgeIn(ctx, x.pool, l, ack); err != nil {
			return err
		}
	default:
		err := x.fencedWrite(ctx, "acknowledge", l, x.stmt.acknowledge,
			string(ack.Cursor), ack.Lag.Microseconds(), l.Key, l.Owner, l.Epoch)
		if err != nil {
			return err
		}
	}
	l.Cursor = ack.Cursor
	return nil
}

// fencedWrite runs a write guarded by key, owner and epoch; no row changed
// means the lease is lost.
func (x *Executor) fencedWrite(ctx context.Context, op string, l *evento.Lease, query string, args ...any) error {
	tag, err := x.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return leaseLost(l)
	}
	return nil
}

func leaseLost(l *evento.Lease) error {
	return fmt.Errorf("%w: %s by %s at epoch %d", evento.ErrLeaseLost, l.Key, l.Owner, l.Epoch)
}

// SubscriptionStatus returns the stored state of key, its last recorded
// error included, or an error matching evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	st := &evento.SubscriptionStatus{Key: key}
	err := scanStatus(x.pool.QueryRow(ctx, x.stmt.subscriptionStatus, key).Scan, st, false)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: subscription status %s: %w", key, err)
	}
	return st, nil
}

// scanStatus reads one row of sqlstore.StatusColumns, preceded by the key
// when withKey is set, into st.
func scanStatus(scan func(dest ...any) error, st *evento.SubscriptionStatus, withKey bool) error {
	var (
		owner, errorEventID, errorMessage *string
		position                          string
		lag                               int64
		expiresAt, updatedAt, errorAt     *time.Time
		errorFatal                        bool
	)
	dest := []any{&owner, &st.Epoch, &expiresAt, &position, &lag, &updatedAt,
		&errorEventID, &errorMessage, &errorAt, &errorFatal}
	if withKey {
		dest = append([]any{&st.Key}, dest...)
	}
	if err := scan(dest...); err != nil {
		return err
	}
	if owner != nil {
		st.Owner = *owner
	}
	st.Cursor = cursor.Value(position)
	st.Lag = time.Duration(lag) * time.Microsecond
	st.ExpiresAt = utcOrZero(expiresAt)
	st.UpdatedAt = utcOrZero(updatedAt)
	if errorAt != nil {
		st.LastError = &evento.SubscriptionError{At: errorAt.UTC(), Fatal: errorFatal}
		if errorEventID != nil {
			st.LastError.EventID = *errorEventID
		}
		if errorMessage != nil {
			st.LastError.Message = *errorMessage
		}
	}
	return nil
}

// utcOrZero converts a nullable stored time.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
