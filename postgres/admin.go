package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/jackc/pgx/v5"
)

// The administration hooks of package evento: listing subscriptions,
// counting events, breaking a lease and reporting the schema version. They
// serve tools (the evento command) rather than applications, so their
// statements are built per call. Keys, types and names are sorted with the
// "C" collation, byte by byte, as the other stores sort them, whatever the
// database's collation.

var (
	_ evento.SubscriptionLister = (*Executor)(nil)
	_ evento.Statistician       = (*Executor)(nil)
	_ evento.LeaseBreaker       = (*Executor)(nil)
	_ evento.Migrator           = (*Executor)(nil)
)

// Subscriptions returns the stored state of every subscription key, its
// last recorded error included, sorted by key.
func (x *Executor) Subscriptions(ctx context.Context) ([]*evento.SubscriptionStatus, error) {
	rows, err := x.pool.Query(ctx, x.stmt.acks.listSubscriptions)
	if err != nil {
		return nil, fmt.Errorf("evento: list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*evento.SubscriptionStatus
	for rows.Next() {
		st := new(evento.SubscriptionStatus)
		if err := scanStatus(rows.Scan, st, true); err != nil {
			return nil, fmt.Errorf("evento: list subscriptions: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: list subscriptions: %w", err)
	}
	return out, nil
}

// Stats counts the events per aggregate type and name, from the (type,
// name, tx_id, seq) index, and the aggregates per type. It counts every
// committed event it sees, horizon or not. Size is the total size of the
// executor's tables, indexes and TOAST data included.
func (x *Executor) Stats(ctx context.Context) (*evento.Stats, error) {
	n := x.names
	st := &evento.Stats{Size: -1}
	names, err := x.pool.Query(ctx, `SELECT aggregate_type, name, count(*) FROM `+n.events+
		` GROUP BY aggregate_type, name ORDER BY aggregate_type COLLATE "C", name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	defer names.Close()
	for names.Next() {
		var (
			typ, name string
			n         int64
		)
		if err := names.Scan(&typ, &name, &n); err != nil {
			return nil, fmt.Errorf("evento: stats: %w", err)
		}
		st.AddName(typ, name, n)
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	aggregates, err := x.pool.Query(ctx, `SELECT aggregate_type, count(DISTINCT aggregate_id) FROM `+n.events+
		` GROUP BY aggregate_type`)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	defer aggregates.Close()
	for aggregates.Next() {
		var (
			typ   string
			count int64
		)
		if err := aggregates.Scan(&typ, &count); err != nil {
			return nil, fmt.Errorf("evento: stats: %w", err)
		}
		st.SetAggregates(typ, count)
	}
	if err := aggregates.Err(); err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	err = x.pool.QueryRow(ctx, `SELECT COALESCE(sum(pg_catalog.pg_total_relation_size(t::pg_catalog.regclass)), 0)::bigint`+
		` FROM unnest($1::text[]) AS t`,
		[]string{n.events, n.snapshots, n.subscriptions, n.deadLetters, n.migrations}).Scan(&st.Size)
	if err != nil {
		return nil, fmt.Errorf("evento: stats: size: %w", err)
	}
	return st, nil
}

// CountAfter counts the events after the cursor in global order, below the
// horizon: the events a Read from the cursor would return now.
func (x *Executor) CountAfter(ctx context.Context, after cursor.Value) (int64, error) {
	n := x.names
	query := `SELECT count(*) FROM ` + n.events + ` WHERE tx_id < ` + n.horizon + `()`
	var args []any
	if after != "" {
		p, err := cursor.Decode(after)
		if err != nil {
			return 0, err
		}
		values, err := positionValues(p)
		if err != nil {
			return 0, err
		}
		query += ` AND (tx_id, seq) > ($1::xid8, $2)`
		args = values
	}
	var count int64
	if err := x.pool.QueryRow(ctx, query, args...).Scan(&count); err != nil {
		return 0, fmt.Errorf("evento: count events: %w", err)
	}
	return count, nil
}

// BreakLease gives owner the lease on key for ttl, whoever holds it, and
// increments its epoch, so that the previous holder's fenced writes change
// nothing. The expiry is computed on the database's clock, as
// AcquireLease computes it. It fails with an error matching
// evento.ErrNotFound when key has no stored state.
func (x *Executor) BreakLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	l := &evento.Lease{Key: key, Owner: owner}
	var position string
	err := x.pool.QueryRow(ctx, `UPDATE `+x.names.subscriptions+` SET owner = $1, epoch = epoch + 1,`+
		` expires_at = pg_catalog.clock_timestamp() + $2::bigint * interval '1 microsecond'`+
		` WHERE "key" = $3 RETURNING epoch, cursor, expires_at`, owner, ttl.Microseconds(), key).
		Scan(&l.Epoch, &position, &l.ExpiresAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
	case err != nil:
		return nil, fmt.Errorf("evento: break lease %s: %w", key, err)
	}
	l.Cursor = cursor.Value(position)
	l.ExpiresAt = l.ExpiresAt.UTC()
	return l, nil
}

// SchemaVersion reports the last migration the database has applied and
// the last one this build knows.
func (x *Executor) SchemaVersion(ctx context.Context) (evento.SchemaVersion, error) {
	v := evento.SchemaVersion{Latest: int64(len(schema(x.names).Migrations))}
	if err := x.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM `+x.names.migrations).Scan(&v.Applied); err != nil {
		return evento.SchemaVersion{}, fmt.Errorf("evento: schema version: %w", err)
	}
	return v, nil
}
