package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Leases live under l <subscription key>, one record per key, with the
// same semantics as the SQL executors' subscriptions table: an owner (empty
// once released), an epoch bumped by every acquisition, an expiry, and the
// acknowledged cursor and lag, and the last handler failure an
// acknowledgement recorded. Every change is a read-modify-write under the
// executor's lease mutex, and every change after the acquisition first
// checks the owner and the epoch, so a worker whose lease moved on changes
// nothing. One process owns a Pebble directory, so the mutex serialises
// every writer of the leases (and of the dead letters, see deadletter.go).
// Times come from this process's clock.

// leaseRecord is the stored state of a subscription key.
type leaseRecord struct {
	owner     string
	epoch     int64
	expiresAt int64 // unix µs; 0 once released
	cursor    string
	lag       int64 // µs
	updatedAt int64 // unix µs of the last acknowledgement; 0 if none
	// hasError says lastError holds the last recorded handler failure.
	hasError  bool
	lastError storedError
}

// storedError is a subscription's last recorded handler failure.
type storedError struct {
	eventID string
	message string
	at      int64 // unix µs; the updatedAt of the acknowledgement that recorded it
	fatal   bool
}

// errorFatal is the flag bit of a fatal error in a lease record.
const errorFatal = 1

// encode writes
//
//	format byte, owner, epoch (uvarint), expires at (varint), cursor,
//	lag (varint), updated at (varint)
//
// and, only when a handler failure was recorded,
//
//	error event id, error message, error at (varint), flags (uvarint)
//
// Records without the error fields are the first lease format, which
// decodeLease still reads.
func (r leaseRecord) encode() []byte {
	b := []byte{recordFormat}
	b = appendStr(b, r.owner)
	b = binary.AppendUvarint(b, uint64(r.epoch))
	b = binary.AppendVarint(b, r.expiresAt)
	b = appendStr(b, r.cursor)
	b = binary.AppendVarint(b, r.lag)
	b = binary.AppendVarint(b, r.updatedAt)
	if !r.hasError {
		return b
	}
	var flags uint64
	if r.lastError.fatal {
		flags |= errorFatal
	}
	b = appendStr(b, r.lastError.eventID)
	b = appendStr(b, r.lastError.message)
	b = binary.AppendVarint(b, r.lastError.at)
	return binary.AppendUvarint(b, flags)
}

func decodeLease(v []byte) (leaseRecord, error) {
	d := newDecoder("lease", v)
	r := leaseRecord{owner: d.string(), epoch: d.int64(), expiresAt: d.varint(), cursor: d.string(), lag: d.varint(), updatedAt: d.varint()}
	if d.more() {
		r.hasError = true
		r.lastError = storedError{eventID: d.string(), message: d.string(), at: d.varint()}
		switch flags := d.uvarint(); flags {
		case 0:
		case errorFatal:
			r.lastError.fatal = true
		default:
			d.fail("unknown lease error flags")
		}
	}
	return r, d.end()
}

// status returns the record as the stored state of key.
func (r leaseRecord) status(key string) *evento.SubscriptionStatus {
	st := &evento.SubscriptionStatus{
		Key:       key,
		Owner:     r.owner,
		Epoch:     r.epoch,
		ExpiresAt: unixMicroOrZero(r.expiresAt),
		Cursor:    cursor.Value(r.cursor),
		Lag:       time.Duration(r.lag) * time.Microsecond,
		UpdatedAt: unixMicroOrZero(r.updatedAt),
	}
	if r.hasError {
		st.LastError = &evento.SubscriptionError{
			EventID: r.lastError.eventID,
			Message: r.lastError.message,
			At:      unixMicro(r.lastError.at),
			Fatal:   r.lastError.fatal,
		}
	}
	return st
}

// AcquireLease gives owner the lease on key for ttl when it is free,
// expired or already owner's, and increments its epoch. It fails with an
// error matching evento.ErrLeaseHeld while another owner holds an
// unexpired lease.
func (x *Executor) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	var l *evento.Lease
	err := x.updateLease(ctx, key, func(r *leaseRecord, found bool) error {
		now := time.Now()
		if found && r.owner != "" && r.owner != owner && r.expiresAt >= now.UnixMicro() {
			return fmt.Errorf("%w: %s is held by %s until %s", evento.ErrLeaseHeld, key, r.owner,
				unixMicro(r.expiresAt).Format(time.RFC3339Nano))
		}
		r.owner = owner
		r.epoch++
		r.expiresAt = now.Add(ttl).UnixMicro()
		l = &evento.Lease{Key: key, Owner: owner, Epoch: r.epoch, Cursor: cursor.Value(r.cursor), ExpiresAt: unixMicro(r.expiresAt)}
		return nil
	})
	if err != nil {
		return nil, leaseError("acquire", key, err)
	}
	return l, nil
}

// RenewLease extends l to ttl from now and updates l.ExpiresAt. It fails
// with an error matching evento.ErrLeaseLost when l was released or taken
// over.
func (x *Executor) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: lease ttl must be positive", evento.ErrInvalidArgument)
	}
	var expiresAt int64
	err := x.updateLease(ctx, l.Key, func(r *leaseRecord, found bool) error {
		if err := fence(l, r, found); err != nil {
			return err
		}
		expiresAt = time.Now().Add(ttl).UnixMicro()
		r.expiresAt = expiresAt
		return nil
	})
	if err != nil {
		return leaseError("renew", l.Key, err)
	}
	l.ExpiresAt = unixMicro(expiresAt)
	return nil
}

// ReleaseLease frees l so that another worker can take it at once.
// Releasing a lease that was already lost is not an error.
func (x *Executor) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	err := x.updateLease(ctx, l.Key, func(r *leaseRecord, found bool) error {
		if err := fence(l, r, found); err != nil {
			return err
		}
		r.owner, r.expiresAt = "", 0
		return nil
	})
	if errors.Is(err, evento.ErrLeaseLost) {
		return nil
	}
	return leaseError("release", l.Key, err)
}

// Acknowledge stores ack's cursor and lag for l's key, with the time, and
// sets l.Cursor. When ack.Error is set it becomes the key's last error,
// recorded at the acknowledgement's time (the status's UpdatedAt); each
// event of ack.Park becomes a dead letter of l's key, parked at that same
// time, replacing one parked before under the same event id. Cursor, error
// and dead letters are written in one atomic batch. It fails with an error
// matching evento.ErrLeaseLost, having stored nothing, when l's epoch is
// no longer current, and with one matching evento.ErrInvalidArgument when
// a dead letter has no event id or no event. It does not extend the lease.
func (x *Executor) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	for _, dl := range ack.Park {
		if err := checkDeadLetter(dl); err != nil {
			return err
		}
	}
	err := x.updateLeaseBatch(ctx, l.Key, func(r *leaseRecord, found bool, b *pebbledb.Batch) error {
		if err := fence(l, r, found); err != nil {
			return err
		}
		now := time.Now().UnixMicro()
		r.cursor = string(ack.Cursor)
		r.lag = ack.Lag.Microseconds()
		r.updatedAt = now
		if e := ack.Error; e != nil {
			r.hasError = true
			r.lastError = storedError{eventID: e.EventID, message: e.Message, at: now, fatal: e.Fatal}
		}
		return x.park(b, l.Key, now, ack.Park)
	})
	if err != nil {
		return leaseError("acknowledge", l.Key, err)
	}
	l.Cursor = ack.Cursor
	return nil
}

// SubscriptionStatus returns the stored state of key, or an error matching
// evento.ErrNotFound.
func (x *Executor) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	r, found, err := x.readLease(key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("evento: subscription status %s: %w", key, err)
	case !found:
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	}
	return r.status(key), nil
}

// fence fails with ErrLeaseLost unless l is the lease the record holds:
// same owner, same epoch.
func fence(l *evento.Lease, r *leaseRecord, found bool) error {
	if !found || r.owner != l.Owner || r.epoch != l.Epoch {
		return fmt.Errorf("%w: %s by %s at epoch %d", evento.ErrLeaseLost, l.Key, l.Owner, l.Epoch)
	}
	return nil
}

// updateLease reads key's record, lets change modify it, and writes it
// back, all under the lease mutex. Nothing is written when change fails.
func (x *Executor) updateLease(ctx context.Context, key string, change func(r *leaseRecord, found bool) error) error {
	return x.updateLeaseBatch(ctx, key, func(r *leaseRecord, found bool, _ *pebbledb.Batch) error {
		return change(r, found)
	})
}

// updateLeaseBatch is updateLease for changes that write more than the
// record: change may add writes to b, which is committed with the record,
// and discarded when change fails.
func (x *Executor) updateLeaseBatch(ctx context.Context, key string, change func(r *leaseRecord, found bool, b *pebbledb.Batch) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	x.leaseMu.Lock()
	defer x.leaseMu.Unlock()
	r, found, err := x.readLease(key)
	if err != nil {
		return err
	}
	b := x.db.NewBatch()
	defer b.Close()
	if err := change(&r, found, b); err != nil {
		return err
	}
	if err := b.Set(x.keys.lease(key), r.encode(), nil); err != nil {
		return err
	}
	return b.Commit(x.write)
}

func (x *Executor) readLease(key string) (leaseRecord, bool, error) {
	v, closer, err := x.db.Get(x.keys.lease(key))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return leaseRecord{}, false, nil
	}
	if err != nil {
		return leaseRecord{}, false, err
	}
	defer closer.Close()
	r, err := decodeLease(v)
	return r, err == nil, err
}

// leaseError adds the operation to err, leaving the sentinels it wraps
// reachable; a nil err stays nil.
func leaseError(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, evento.ErrLeaseHeld), errors.Is(err, evento.ErrLeaseLost):
		return err
	}
	return fmt.Errorf("evento: %s lease %s: %w", op, key, err)
}

// unixMicroOrZero converts a stored time, where 0 means none.
func unixMicroOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return unixMicro(us)
}
