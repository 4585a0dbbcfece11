package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// SessionLock is an advisory lock that belongs to a database session rather
// than to a transaction, such as MySQL's and MariaDB's GET_LOCK: it stays
// held across the implicit commits of schema statements, and the server
// frees it when the session ends.
type SessionLock struct {
	// Acquire waits for the lock and returns one value: 1 once it is held,
	// 0 or NULL when it could not be taken (a timeout, an error).
	Acquire string
	// Release frees the lock.
	Release string
	// Args are bound to both statements.
	Args []any
}

// MigrateLocked applies every migration that db has not applied yet, like
// [Schema.Migrate], for engines whose schema statements cannot run inside a
// transaction: MySQL and MariaDB commit each CREATE or ALTER implicitly.
// Concurrent migrators wait for lock instead, which is taken on the
// connection the migrations run on and released when they end; s.Begin is
// not used.
//
// Without a transaction a run that fails midway is not undone: the steps it
// finished stay recorded, and the statements of the failed step that ran
// before the failure stay applied. Every statement of such a schema must
// therefore be safe to run again (CREATE TABLE IF NOT EXISTS, an INSERT
// that tolerates its row), so that the next run completes the step.
func (s *Schema) MigrateLocked(ctx context.Context, db *sql.DB, lock SessionLock) error {
	for i, m := range s.Migrations {
		if m.Version != int64(i)+1 {
			return fmt.Errorf("evento: migration %d has version %d", i+1, m.Version)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("evento: migrate: %w", err)
	}
	defer conn.Close()
	var held sql.NullInt64
	if err := conn.QueryRowContext(ctx, lock.Acquire, lock.Args...).Scan(&held); err != nil {
		return fmt.Errorf("evento: migrate: take the migration lock: %w", err)
	}
	if held.Int64 != 1 {
		return fmt.Errorf("evento: migrate: the migration lock was not granted (another migrator holds it, or the server refused it)")
	}
	defer release(ctx, conn, lock)
	return s.apply(ctx, conn)
}

// release frees lock, whatever happened to ctx. When that fails, the
// connection is discarded: ending the session frees the lock.
func release(ctx context.Context, conn *sql.Conn, lock SessionLock) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := conn.ExecContext(ctx, lock.Release, lock.Args...); err != nil {
		Discard(conn)
	}
}
