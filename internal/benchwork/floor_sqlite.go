package benchwork

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLFloor is a floor on a database/sql driver: a table of the events
// table's columns and unique indexes but none of its read indexes, one
// transaction per Insert, statements prepared once.
type SQLFloor struct {
	db                              *sql.DB
	insert, last, readAll, readAggr *sql.Stmt
	// unique reports a unique-key violation of the driver.
	unique func(error) bool
	// after runs on Close, once db is closed.
	after func() error
}

// SQLiteFloor is the floor on SQLite: database/sql and modernc.org/sqlite,
// the pragmas sqlite.Open sets (WAL, busy_timeout 10000, the given
// synchronous, foreign_keys), BEGIN IMMEDIATE transactions like the
// executor's.
type SQLiteFloor = SQLFloor

// OpenSQLiteFloor creates the floor's table in a new database file at path;
// synchronous is "FULL" or "NORMAL".
func OpenSQLiteFloor(ctx context.Context, path, synchronous string) (*SQLiteFloor, error) {
	pragmas := url.Values{"_pragma": {
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(" + synchronous + ")",
		"foreign_keys(1)",
	}, "_txlock": {"immediate"}}.Encode()
	db, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		return nil, err
	}
	f := &SQLFloor{db: db, unique: sqliteUnique}
	if err := f.init(ctx, `CREATE TABLE floor_events (
		position       INTEGER PRIMARY KEY AUTOINCREMENT,
		id             BLOB    NOT NULL UNIQUE,
		aggregate_type TEXT    NOT NULL,
		aggregate_id   TEXT    NOT NULL,
		version        INTEGER NOT NULL,
		name           TEXT    NOT NULL,
		routing_key    TEXT,
		data           BLOB,
		metadata       BLOB,
		timestamp      INTEGER NOT NULL,
		UNIQUE (aggregate_type, aggregate_id, version)
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite floor: %w", err)
	}
	return f, nil
}

// init creates the table with ddl and prepares the statements, which both
// SQLite and MySQL accept.
func (f *SQLFloor) init(ctx context.Context, ddl string) error {
	if _, err := f.db.ExecContext(ctx, ddl); err != nil {
		return err
	}
	var err error
	prep := func(q string) *sql.Stmt {
		s, e := f.db.PrepareContext(ctx, q)
		if e != nil && err == nil {
			err = e
		}
		return s
	}
	f.insert = prep(`INSERT INTO floor_events (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)`)
	f.last = prep(`SELECT version FROM floor_events WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY version DESC LIMIT 1`)
	f.readAll = prep(`SELECT position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp FROM floor_events WHERE position > ? ORDER BY position LIMIT ?`)
	f.readAggr = prep(`SELECT position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp FROM floor_events WHERE aggregate_type = ? AND aggregate_id = ? AND version > ? ORDER BY version LIMIT ?`)
	return err
}

// Insert implements Floor.
func (f *SQLFloor) Insert(ctx context.Context, rows []Row) error {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, f.insert)
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.ID[:], AggregateType, r.AggregateID, r.Version, "Happened",
			r.Data, r.Metadata, r.Timestamp.UnixMicro()); err != nil {
			if f.unique(err) {
				return ErrConflict
			}
			return err
		}
	}
	return tx.Commit()
}

func sqliteUnique(err error) bool {
	var e *modernc.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// LastVersion implements Floor.
func (f *SQLFloor) LastVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := f.last.QueryRowContext(ctx, AggregateType, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// ReadAll implements Floor.
func (f *SQLFloor) ReadAll(ctx context.Context, after int64, limit int) (int, int64, error) {
	rows, err := f.readAll.QueryContext(ctx, after, limit)
	if err != nil {
		return 0, 0, err
	}
	n, last, _, err := scanSQLRows(rows)
	return n, last, err
}

// ReadAggregate implements Floor.
func (f *SQLFloor) ReadAggregate(ctx context.Context, id string, after int64, limit int) (int, int64, error) {
	rows, err := f.readAggr.QueryContext(ctx, AggregateType, id, after, limit)
	if err != nil {
		return 0, 0, err
	}
	n, _, version, err := scanSQLRows(rows)
	return n, version, err
}

// scanSQLRows scans every column of every row, as a reader of events
// would, and returns the count and the last position and version.
func scanSQLRows(rows *sql.Rows) (n int, position, version int64, err error) {
	defer rows.Close()
	var (
		id, data, md     []byte
		typ, aggID, name string
		routing          sql.NullString
		ts               int64
	)
	for rows.Next() {
		if err := rows.Scan(&position, &id, &typ, &aggID, &version, &name, &routing, &data, &md, &ts); err != nil {
			return 0, 0, 0, err
		}
		_ = time.UnixMicro(ts)
		n++
	}
	return n, position, version, rows.Err()
}

// Close implements Floor.
func (f *SQLFloor) Close() error {
	err := f.db.Close()
	if f.after != nil {
		err = errors.Join(err, f.after())
	}
	return err
}
