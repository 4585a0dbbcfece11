package evento

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// Administration hooks. An executor may implement any of the interfaces
// below, in the manner of database/sql/driver's optional interfaces: the
// Executor contract stays what every store must offer, and tools such as
// the evento command ask an executor whether it can answer more (with a
// type assertion) and say so when it cannot.

// SubscriptionLister is implemented by executors that can list every
// subscription they keep.
type SubscriptionLister interface {
	// Subscriptions returns the stored state of every subscription key,
	// sorted by key.
	Subscriptions(ctx context.Context) ([]*SubscriptionStatus, error)
}

// Statistician is implemented by executors that can count their events.
type Statistician interface {
	// Stats counts the events per aggregate type and event name and the
	// aggregates per type, and reports the store's size.
	Stats(ctx context.Context) (*Stats, error)
	// CountAfter counts the events after the cursor in global order; the
	// empty cursor counts every event. A cursor of another store fails
	// with an error matching cursor.ErrInvalid.
	CountAfter(ctx context.Context, after cursor.Value) (int64, error)
}

// Stats describes what a store holds.
type Stats struct {
	// Types holds one entry per aggregate type, sorted by type.
	Types []TypeStats
	// Size is the store's size in bytes as its engine reports it (say, the
	// database pages of SQLite, the disk space of a Pebble database); -1
	// when the engine cannot tell.
	Size int64
}

// AddName records n events named name of aggregate type typ. Calls must
// come in (type, name) order, as a store's GROUP BY ... ORDER BY returns
// them: a new type starts a new entry.
func (s *Stats) AddName(typ, name string, n int64) {
	if len(s.Types) == 0 || s.Types[len(s.Types)-1].AggregateType != typ {
		s.Types = append(s.Types, TypeStats{AggregateType: typ})
	}
	t := &s.Types[len(s.Types)-1]
	t.Names = append(t.Names, NameStats{Name: name, Events: n})
	t.Events += n
}

// SetAggregates records that aggregate type typ has n aggregates. A type
// that AddName never saw is ignored.
func (s *Stats) SetAggregates(typ string, n int64) {
	if i, ok := slices.BinarySearchFunc(s.Types, typ, func(t TypeStats, typ string) int {
		return strings.Compare(t.AggregateType, typ)
	}); ok {
		s.Types[i].Aggregates = n
	}
}

// TypeStats counts the events and aggregates of one aggregate type.
type TypeStats struct {
	// AggregateType names the type.
	AggregateType string
	// Aggregates counts the aggregates of the type.
	Aggregates int64
	// Events counts the events of the type.
	Events int64
	// Names counts the events per event name, sorted by name.
	Names []NameStats
}

// NameStats counts the events of one name within an aggregate type.
type NameStats struct {
	// Name is the event name.
	Name string
	// Events counts the events.
	Events int64
}

// LeaseBreaker is implemented by executors that can take a subscription's
// lease away from a live worker.
type LeaseBreaker interface {
	// BreakLease gives owner the lease on key for ttl, whoever holds it,
	// and increments its epoch: the previous holder's renewals and
	// acknowledgements fail with ErrLeaseLost from then on. It fails with
	// an error matching ErrNotFound when key has no stored state.
	BreakLease(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error)
}

// Migrator is implemented by executors whose schema is versioned.
type Migrator interface {
	// SchemaVersion reports the schema version the store has applied and
	// the latest version this build of the executor knows.
	SchemaVersion(ctx context.Context) (SchemaVersion, error)
}

// SchemaVersion is a store's schema version.
type SchemaVersion struct {
	// Applied is the version the store has applied.
	Applied int64
	// Latest is the newest version this build knows; a store whose Applied
	// is higher was upgraded by a newer build.
	Latest int64
}

// ResetOwner begins the lease owner that ResetSubscription acts as: a slash
// and a ULID of the call follow it, so that two resets never pass for each
// other. Workers never use it: their owner ids are ULIDs.
const ResetOwner = "evento-reset"

// resetTTL bounds how long a reset that dies half-way keeps the lease.
const resetTTL = 30 * time.Second

// ResetSubscription moves the stored cursor of subscription key to to: the
// empty cursor makes the next worker replay the log from the start, an
// event's cursor makes it resume after that event.
//
// Without force, ResetSubscription takes the lease the way a worker does,
// as ResetOwner, so it fails with an error matching ErrLeaseHeld while a
// live worker holds it: stop the workers first, or wait for their lease to
// expire. With force it breaks the lease of a live worker, which needs an
// executor that implements LeaseBreaker (ErrUnsupported otherwise): the
// worker's next renewal or acknowledgement fails, it stands by, and it
// takes the lease again from the new cursor; events it handled after its
// last acknowledgement are handled again.
//
// It fails with ErrNotFound when key has no stored state, and with an error
// matching cursor.ErrInvalid when to is not a cursor of this store.
func ResetSubscription(ctx context.Context, exec Executor, key string, to cursor.Value, force bool) error {
	if err := checkName("subscription key", key); err != nil {
		return err
	}
	if _, err := exec.SubscriptionStatus(ctx, key); err != nil {
		return fmt.Errorf("evento: reset subscription %s: %w", key, err)
	}
	if _, err := exec.Read(ctx, Query{Args: cursor.Forward(1, to)}); err != nil {
		return fmt.Errorf("evento: reset subscription %s to %q: %w", key, to, err)
	}
	acquire := exec.AcquireLease
	if force {
		breaker, ok := exec.(LeaseBreaker)
		if !ok {
			return fmt.Errorf("%w: breaking the lease of subscription %s", ErrUnsupported, key)
		}
		acquire = breaker.BreakLease
	}
	owner := ResetOwner + "/" + ulid.Make().String()
	lease, err := acquireLease(ctx, exec, slog.Default(), key, owner, resetTTL, acquire)
	if err != nil {
		return fmt.Errorf("evento: reset subscription %s: %w", key, err)
	}
	ackErr := exec.Acknowledge(ctx, lease, Ack{Cursor: to})
	rctx, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	relErr := exec.ReleaseLease(rctx, lease)
	done()
	if err := errors.Join(ackErr, relErr); err != nil {
		return fmt.Errorf("evento: reset subscription %s: %w", key, err)
	}
	return nil
}
