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

// The administration hooks of package evento: listing subscriptions,
// counting events, breaking a lease and reporting the schema version. They
// serve tools (the evento command) rather than applications, so their
// statements are built per call.

var (
	_ evento.SubscriptionLister = (*Executor)(nil)
	_ evento.Statistician       = (*Executor)(nil)
	_ evento.LeaseBreaker       = (*Executor)(nil)
	_ evento.Migrator           = (*Executor)(nil)
)

// Subscriptions returns the stored state of every subscription key, its
// last recorded error included, sorted by key.
func (x *Executor) Subscriptions(ctx context.Context) ([]*evento.SubscriptionStatus, error) {
	return x.leases.Subscriptions(ctx)
}

// Stats counts the events per aggregate type and name, from the (type,
// name, position) index, and the aggregates per type, from the (type, id,
// position) index. Size is the size of the database pages, without the
// write-ahead log.
func (x *Executor) Stats(ctx context.Context) (*evento.Stats, error) {
	st, err := sqlstore.CountEvents(ctx, x.db, x.tables.events)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	err = x.db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).
		Scan(&st.Size)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: size: %w", err)
	}
	return st, nil
}

// CountAfter counts the events after the cursor in global order.
func (x *Executor) CountAfter(ctx context.Context, after cursor.Value) (int64, error) {
	t := x.tables
	p, err := cursor.Decode(after)
	if err != nil {
		return 0, err
	}
	if p.Tx != 0 || p.Seq > 1<<63-1 {
		return 0, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	var n int64
	if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.events+` WHERE position > ?`, int64(p.Seq)).
		Scan(&n); err != nil {
		return 0, fmt.Errorf("evento: count events: %w", err)
	}
	return n, nil
}

// BreakLease gives owner the lease on key for ttl, whoever holds it, and
// increments its epoch, so that the previous holder's fenced writes change
// nothing. It fails with an error matching evento.ErrNotFound when key has
// no stored state.
func (x *Executor) BreakLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	t := x.tables
	l := &evento.Lease{Key: key, Owner: owner}
	var (
		position  string
		expiresAt = time.Now().Add(ttl).UnixMicro()
	)
	err := x.writeOne(ctx, func() error {
		return x.db.QueryRowContext(ctx, `UPDATE `+t.subscriptions+` SET owner = ?, epoch = epoch + 1, expires_at = ?`+
			` WHERE "key" = ? RETURNING epoch, cursor`, owner, expiresAt, key).Scan(&l.Epoch, &position)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: break lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
	l.ExpiresAt = time.UnixMicro(expiresAt).UTC()
	return l, nil
}

// SchemaVersion reports the last migration the database has applied and
// the last one this build knows.
func (x *Executor) SchemaVersion(ctx context.Context) (evento.SchemaVersion, error) {
	t := x.tables
	v := evento.SchemaVersion{Latest: int64(len(schema(t).Migrations))}
	if err := x.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+t.migrations).Scan(&v.Applied); err != nil {
		return evento.SchemaVersion{}, fmt.Errorf("evento: schema version: %w", err)
	}
	return v, nil
}
