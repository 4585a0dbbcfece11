package benchwork

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresFloor is the floor on PostgreSQL: pgx, a table of the events
// table's columns and unique indexes (none of its read indexes, no
// transaction-id ordering) in a schema of its own, one INSERT statement
// per transaction (rows passed as arrays, as the executor passes them).
type PostgresFloor struct {
	pool   *pgxpool.Pool
	schema string
	table  string
}

// OpenPostgresFloor creates schema (which must not exist) and the floor's
// table in it; Close drops the schema.
func OpenPostgresFloor(ctx context.Context, dsn, schema string) (*PostgresFloor, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	f := &PostgresFloor{pool: pool, schema: schema, table: pgx.Identifier{schema, "floor_events"}.Sanitize()}
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()+`;
		CREATE TABLE `+f.table+` (
			seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			id             uuid        NOT NULL UNIQUE,
			aggregate_type text        NOT NULL,
			aggregate_id   text        NOT NULL,
			version        bigint      NOT NULL,
			name           text        NOT NULL,
			routing_key    text,
			data           bytea,
			metadata       bytea,
			timestamp      timestamptz NOT NULL,
			UNIQUE (aggregate_type, aggregate_id, version)
		)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres floor: %w", err)
	}
	return f, nil
}

// Insert implements Floor.
func (f *PostgresFloor) Insert(ctx context.Context, rows []Row) error {
	var err error
	if len(rows) == 1 {
		r := rows[0]
		_, err = f.pool.Exec(ctx, `INSERT INTO `+f.table+
			` (id, aggregate_type, aggregate_id, version, name, data, metadata, timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			[16]byte(r.ID), AggregateType, r.AggregateID, r.Version, "Happened", r.Data, r.Metadata, r.Timestamp)
	} else {
		ids := make([][16]byte, len(rows))
		versions := make([]int64, len(rows))
		data := make([][]byte, len(rows))
		md := make([][]byte, len(rows))
		ts := make([]time.Time, len(rows))
		for i, r := range rows {
			ids[i], versions[i], data[i], md[i], ts[i] = r.ID, r.Version, r.Data, r.Metadata, r.Timestamp
		}
		_, err = f.pool.Exec(ctx, `INSERT INTO `+f.table+
			` (id, aggregate_type, aggregate_id, version, name, data, metadata, timestamp)`+
			` SELECT i, $2, $3, v, $5, d, m, t FROM unnest($1::uuid[], $4::bigint[], $6::bytea[], $7::bytea[], $8::timestamptz[]) AS u(i, v, d, m, t)`,
			ids, AggregateType, rows[0].AggregateID, versions, "Happened", data, md, ts)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return ErrConflict
	}
	return err
}

// LastVersion implements Floor.
func (f *PostgresFloor) LastVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := f.pool.QueryRow(ctx, `SELECT version FROM `+f.table+
		` WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`, AggregateType, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

const pgColumns = `seq, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp`

// ReadAll implements Floor.
func (f *PostgresFloor) ReadAll(ctx context.Context, after int64, limit int) (int, int64, error) {
	rows, err := f.pool.Query(ctx, `SELECT `+pgColumns+` FROM `+f.table+` WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return 0, 0, err
	}
	n, last, _, err := scanPgRows(rows)
	return n, last, err
}

// ReadAggregate implements Floor.
func (f *PostgresFloor) ReadAggregate(ctx context.Context, id string, after int64, limit int) (int, int64, error) {
	rows, err := f.pool.Query(ctx, `SELECT `+pgColumns+` FROM `+f.table+
		` WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version LIMIT $4`, AggregateType, id, after, limit)
	if err != nil {
		return 0, 0, err
	}
	n, _, v, err := scanPgRows(rows)
	return n, v, err
}

func scanPgRows(rows pgx.Rows) (n int, seq, version int64, err error) {
	defer rows.Close()
	var (
		id               [16]byte
		typ, aggID, name string
		routing          *string
		data, md         []byte
		ts               time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &id, &typ, &aggID, &version, &name, &routing, &data, &md, &ts); err != nil {
			return 0, 0, 0, err
		}
		n++
	}
	return n, seq, version, rows.Err()
}

// Close implements Floor: it drops the schema and closes the pool.
func (f *PostgresFloor) Close() error {
	defer f.pool.Close()
	_, err := f.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{f.schema}.Sanitize()+` CASCADE`)
	return err
}
