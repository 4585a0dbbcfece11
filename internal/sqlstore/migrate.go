package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	// Attempt, when set, returns the statements that start run number run
	// (1, 2, ...) of the migrations, after Begin: PostgreSQL bounds the
	// run's lock waits there (lock_timeout), longer at every run.
	Attempt func(run int) []string
	// Retry, when set, decides on run number run, which failed with err and
	// was rolled back: whether to run again, from Begin, and after which
	// pause. PostgreSQL runs again after a lock wait that timed out: a
	// migration that needs a busy table's exclusive lock holds back the
	// queries queued behind its wait for that long at most, and nothing of
	// a failed run (its transaction id, the locks of its other steps)
	// outlives it.
	Retry func(err error, run int) (pause time.Duration, again bool)
}

// Migrate applies, in one transaction, every migration that db has not
// applied yet. A database that has applied more migrations than s knows
// (written by a newer build) is left alone. A run that fails in a way
// s.Retry accepts is run again until it succeeds, fails otherwise, or ctx
// ends (the error then wraps ctx's error, its cause, and the last run's).
func (s *Schema) Migrate(ctx context.Context, db *sql.DB) error {
	for i, m := range s.Migrations {
		if m.Version != int64(i)+1 {
			return fmt.Errorf("evento: migration %d has version %d", i+1, m.Version)
		}
	}
	for run := 1; ; run++ {
		err := s.run(ctx, db, run)
		if err == nil || s.Retry == nil {
			return err
		}
		pause, again := s.Retry(err, run)
		if !again {
			return err
		}
		if perr := Pause(ctx, pause); perr != nil {
			return fmt.Errorf("evento: migrate: %w; run %d failed: %w", perr, run, err)
		}
	}
}

// Pause waits for d, or until ctx ends; then it returns ctx's error,
// wrapping its cause too when that is another error, so that a caller
// that retries can report why it stopped.
func Pause(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		cause := context.Cause(ctx)
		if errors.Is(cause, ctx.Err()) {
			return cause
		}
		return fmt.Errorf("%w: %w", ctx.Err(), cause)
	case <-timer.C:
		return nil
	}
}

// run applies the pending migrations in one transaction, as run number n.
func (s *Schema) run(ctx context.Context, db *sql.DB, n int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("evento: migrate: %w", err)
	}
	defer conn.Close()
	begin := s.Begin
	if s.Attempt != nil {
		begin = append(slices.Clip(begin), s.Attempt(n)...)
	}
	for _, stmt := range begin {
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
