package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Migration is one step of a schema's history.
type Migration struct {
	// Version numbers the step: 1 for the first, then 2, 3, ...
	Version int64
	// Statements run in order, inside the migration transaction.
	Statements []string
}

// Schema is a versioned schema: the ordered migrations that build it, and
// the table that records which of them a database has applied.
type Schema struct {
	// Dialect is the engine's SQL dialect.
	Dialect Dialect
	// Table is the quoted name of the table that records applied versions.
	Table string
	// Begin opens the migration transaction and makes concurrent migrators
	// wait for it: BEGIN IMMEDIATE on SQLite, BEGIN then an advisory lock on
	// PostgreSQL. Migrate re-reads the applied version after Begin, so two
	// processes that open the same database at once apply each step once.
	Begin []string
	// Migrations holds every step, versions 1, 2, 3, ... in order.
	Migrations []Migration
	// Retry, when set, reports whether a run that failed with err, and was
	// rolled back, is tried again, from Begin, after RetryPause. PostgreSQL
	// bounds every lock wait of a run (lock_timeout, set in Begin) and tries
	// again when one times out: a migration that needs a busy table's
	// exclusive lock then holds back the queries queued behind its wait for
	// that long at most, and nothing of the run (its transaction id, the
	// locks of its other steps) outlives a failed attempt.
	Retry func(err error) bool
	// RetryPause is the pause between two runs (see Retry).
	RetryPause time.Duration
}

// Migrate applies, in one transaction, every migration that db has not
// applied yet. A database that has applied more migrations than s knows
// (written by a newer build) is left alone. A run that fails in a way
// s.Retry accepts is run again until it succeeds, fails otherwise, or ctx
// ends.
func (s *Schema) Migrate(ctx context.Context, db *sql.DB) error {
	for i, m := range s.Migrations {
		if m.Version != int64(i)+1 {
			return fmt.Errorf("evento: migration %d has version %d", i+1, m.Version)
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.run(ctx, db)
		if err == nil || s.Retry == nil || !s.Retry(err) {
			return err
		}
		pause := time.NewTimer(s.RetryPause)
		select {
		case <-ctx.Done():
			pause.Stop()
			return fmt.Errorf("evento: migrate: %w; run %d failed: %v", context.Cause(ctx), attempt, err)
		case <-pause.C:
		}
	}
}

// run applies the pending migrations in one transaction.
func (s *Schema) run(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("evento: migrate: %w", err)
	}
	defer conn.Close()
	for _, stmt := range s.Begin {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			Rollback(ctx, conn)
			return fmt.Errorf("evento: migrate: begin: %w", err)
		}
	}
	if err := s.apply(ctx, conn); err != nil {
		Rollback(ctx, conn)
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		Rollback(ctx, conn)
		return fmt.Errorf("evento: migrate: commit: %w", err)
	}
	return nil
}

// apply runs the pending migrations inside the open transaction.
func (s *Schema) apply(ctx context.Context, conn *sql.Conn) error {
	create := "CREATE TABLE IF NOT EXISTS " + s.Table +
		" (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("evento: migrate: create %s: %w", s.Table, err)
	}
	var applied int64
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+s.Table).Scan(&applied); err != nil {
		return fmt.Errorf("evento: migrate: read applied version: %w", err)
	}
	record := "INSERT INTO " + s.Table + " (version, applied_at) VALUES (" +
		s.Dialect.Placeholder(1) + ", " + s.Dialect.Placeholder(2) + ")"
	for _, m := range s.Migrations {
		if m.Version <= applied {
			continue
		}
		for i, stmt := range m.Statements {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("evento: migrate: version %d, statement %d: %w", m.Version, i+1, err)
			}
		}
		if _, err := conn.ExecContext(ctx, record, m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("evento: migrate: record version %d: %w", m.Version, err)
		}
	}
	return nil
}
