package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Leases runs the lease statements that SQL executors keeping times as unix
// microseconds from the Go clock share: everything after the acquisition,
// which differs per engine. Every write names the key, the owner and the
// epoch, so a worker whose lease moved on changes nothing.
//
// The statements take these arguments, in this order:
//
//	Holder       key                                  -> owner, expires_at
//	Renew        expires_at, key, owner, epoch
//	Release      key, owner, epoch
//	Acknowledge  cursor, lag, updated_at, key, owner, epoch
//	Status       key                                  -> owner, epoch, expires_at, cursor, lag, updated_at
type Leases struct {
	// DB is the executor's database.
	DB *sql.DB
	// SQL holds the statements, built from the executor's table names.
	SQL LeaseStatements
	// Fenced runs one fenced write and reports whether the lease (l's key,
	// owner and epoch) is still current after it. Engines differ in how
	// they tell: SQLite counts matched rows, MySQL counts changed rows and
	// must look when none changed.
	Fenced func(ctx context.Context, l *evento.Lease, query string, args ...any) (current bool, err error)
}

// LeaseStatements are the statements [Leases] runs; see [Leases] for their
// arguments.
type LeaseStatements struct {
	Holder, Renew, Release, Acknowledge, Status string
}

// Held reports who holds the lease on key that an acquisition could not
// take, as an error matching evento.ErrLeaseHeld.
func (s Leases) Held(ctx context.Context, key string) error {
	var (
		holder    sql.NullString
		expiresAt int64
	)
	if err := s.DB.QueryRowContext(ctx, s.SQL.Holder, key).Scan(&holder, &expiresAt); err != nil {
		return fmt.Errorf("%w: %s", evento.ErrLeaseHeld, key)
	}
	return fmt.Errorf("%w: %s is held by %s until %s", evento.ErrLeaseHeld, key, holder.String,
		time.UnixMicro(expiresAt).UTC().Format(time.RFC3339Nano))
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (s Leases) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: lease ttl must be positive", evento.ErrInvalidArgument)
	}
	expiresAt := time.Now().Add(ttl).UnixMicro()
	if err := s.write(ctx, "renew", l, s.SQL.Renew, expiresAt, l.Key, l.Owner, l.Epoch); err != nil {
		return err
	}
	l.ExpiresAt = time.UnixMicro(expiresAt).UTC()
	return nil
}

// ReleaseLease frees l so that another worker can take it at once.
// Releasing a lease that was already lost is not an error.
func (s Leases) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	err := s.write(ctx, "release", l, s.SQL.Release, l.Key, l.Owner, l.Epoch)
	if errors.Is(err, evento.ErrLeaseLost) {
		return nil
	}
	return err
}

// Acknowledge stores ack's cursor and lag for l's key, with the time, and
// sets l.Cursor. It fails with an error matching evento.ErrLeaseLost, having
// stored nothing, when l's epoch is no longer current. It does not extend
// the lease.
func (s Leases) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	err := s.write(ctx, "acknowledge", l, s.SQL.Acknowledge,
		string(ack.Cursor), ack.Lag.Microseconds(), time.Now().UnixMicro(), l.Key, l.Owner, l.Epoch)
	if err != nil {
		return err
	}
	l.Cursor = ack.Cursor
	return nil
}

// write runs a fenced write and turns "not current" into ErrLeaseLost.
func (s Leases) write(ctx context.Context, op string, l *evento.Lease, query string, args ...any) error {
	current, err := s.Fenced(ctx, l, query, args...)
	switch {
	case err != nil:
		return fmt.Errorf("evento: %s lease %s: %w", op, l.Key, err)
	case !current:
		return fmt.Errorf("%w: %s by %s at epoch %d", evento.ErrLeaseLost, l.Key, l.Owner, l.Epoch)
	}
	return nil
}

// SubscriptionStatus returns the stored state of key, or an error matching
// evento.ErrNotFound.
func (s Leases) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	var (
		st                        = &evento.SubscriptionStatus{Key: key}
		owner                     sql.NullString
		position                  []byte
		expiresAt, lag, updatedAt int64
	)
	err := s.DB.QueryRowContext(ctx, s.SQL.Status, key).Scan(&owner, &st.Epoch, &expiresAt, &position, &lag, &updatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: subscription status %s: %w", key, err)
	}
	st.Owner = owner.String
	st.Cursor = cursor.Value(position)
	st.Lag = time.Duration(lag) * time.Microsecond
	st.ExpiresAt = UnixMicroOrZero(expiresAt)
	st.UpdatedAt = UnixMicroOrZero(updatedAt)
	return st, nil
}

// UnixMicroOrZero converts a stored time in unix microseconds, where 0 means
// none.
func UnixMicroOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
