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

// The administration hooks of package evento: listing subscriptions,
// counting events, breaking a lease and reporting the schema version. They
// serve tools (the evento command) rather than applications, so their
// statements are built per call. Keys, types and names are VARBINARY, so
// they sort byte by byte, as the other stores sort them.

var (
	_ evento.SubscriptionLister = (*Executor)(nil)
	_ evento.Statistician       = (*Executor)(nil)
	_ evento.LeaseBreaker       = (*Executor)(nil)
	_ evento.Migrator           = (*Executor)(nil)
)

// Subscriptions returns the stored state of every subscription key, its
// last recorded error included, sorted by key.
func (x *Executor) Subscriptions(ctx context.Context) ([]*evento.SubscriptionStatus, error) {
	subs, err := x.leases.Subscriptions(ctx)
	if err != nil {
		return nil, contextCause(ctx, err)
	}
	return subs, nil
}

// Stats counts the events per aggregate type and name, from the (type,
// name, position) index, and the aggregates per type, from the (type, id,
// position) index. Size is the data and index length of the executor's
// tables as information_schema reports it (an estimate for InnoDB, which
// MySQL 8 may cache for information_schema_stats_expiry seconds).
func (x *Executor) Stats(ctx context.Context) (*evento.Stats, error) {
	t := x.tables
	st, err := sqlstore.CountEvents(ctx, x.db, t.events)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", contextCause(ctx, err))
	}
	tableNames := make([]any, 0, len(t.names))
	for _, name := range t.names {
		tableNames = append(tableNames, name)
	}
	err = x.db.QueryRowContext(ctx, "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED)"+
		" FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN "+
		placeholders(len(tableNames)), tableNames...).Scan(&st.Size)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: size: %w", contextCause(ctx, err))
	}
	return st, nil
}

// CountAfter counts the events after the cursor in global order, up to the
// position counter: the events a Read from the cursor would return now
// (see Read).
func (x *Executor) CountAfter(ctx context.Context, after cursor.Value) (int64, error) {
	p, err := cursor.Decode(after)
	if err != nil {
		return 0, err
	}
	if p.Tx != 0 || p.Seq > 1<<63-1 {
		return 0, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	horizon, err := x.readHorizon(ctx)
	if err != nil {
		return 0, fmt.Errorf("evento: count events: read the position counter: %w", err)
	}
	var n int64
	if err := x.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+x.tables.events+
		" WHERE position > ? AND position <= ?", int64(p.Seq), horizon).Scan(&n); err != nil {
		return 0, fmt.Errorf("evento: count events: %w", contextCause(ctx, err))
	}
	return n, nil
}

// BreakLease gives owner the lease on key for ttl, whoever holds it, and
// increments its epoch, so that the previous holder's fenced writes change
// nothing. As with AcquireLease, the expiry comes from this process's
// clock, in unix microseconds. It fails with an error matching
// evento.ErrNotFound when key has no stored state.
func (x *Executor) BreakLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	if len(key) > evento.MaxNameLen || len(owner) > evento.MaxNameLen {
		return nil, fmt.Errorf("%w: lease key or owner longer than %d bytes", evento.ErrInvalidArgument, evento.MaxNameLen)
	}
	s := x.tables.subscriptions
	expiresAt := time.Now().Add(ttl).UnixMicro()
	l := &evento.Lease{Key: key, Owner: owner, ExpiresAt: time.UnixMicro(expiresAt).UTC()}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("evento: break lease %s: %w", key, contextCause(ctx, err))
	}
	defer tx.Rollback()
	// The UPDATE locks the row until COMMIT, so the SELECT reads the epoch
	// and cursor this UPDATE left.
	if _, err := tx.ExecContext(ctx, "UPDATE "+s+" SET owner = ?, epoch = epoch + 1, expires_at = ? WHERE `key` = ?",
		owner, expiresAt, key); err != nil {
		return nil, fmt.Errorf("evento: break lease %s: %w", key, contextCause(ctx, err))
	}
	var position []byte
	err = tx.QueryRowContext(ctx, "SELECT epoch, `cursor` FROM "+s+" WHERE `key` = ?", key).Scan(&l.Epoch, &position)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: break lease %s: %w", key, contextCause(ctx, err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("evento: break lease %s: %w", key, contextCause(ctx, err))
	}
	l.Cursor = cursor.Value(position)
	return l, nil
}

// SchemaVersion reports the last migration the database has applied and
// the last one this build knows.
func (x *Executor) SchemaVersion(ctx context.Context) (evento.SchemaVersion, error) {
	t := x.tables
	v := evento.SchemaVersion{Latest: int64(len(schema(t).Migrations))}
	if err := x.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+t.migrations).Scan(&v.Applied); err != nil {
		return evento.SchemaVersion{}, fmt.Errorf("evento: schema version: %w", contextCause(ctx, err))
	}
	return v, nil
}
