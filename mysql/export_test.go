package mysql

import (
	"context"
	"database/sql"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// AppendUncommitted runs Append up to, and not including, its COMMIT and
// leaves the transaction open, holding the position counter: tests use it
// to stand for a writer that is slow to commit. Exactly one of commit and
// rollback must be called.
func (x *Executor) AppendUncommitted(ctx context.Context, c *evento.Commit) (commit func() error, rollback func(), err error) {
	p, err := x.begin(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return func() error { return p.commit(ctx) }, func() { p.rollback(ctx) }, nil
}

// RenewLeaseTo sets l's expiry to exactly at, through the fenced write of
// RenewLease: tests use it to write a value that is already stored.
func (x *Executor) RenewLeaseTo(ctx context.Context, l *evento.Lease, at time.Time) error {
	current, err := x.fenced(ctx, x.db, l, x.stmt.leases.Renew, at.UnixMicro(), l.Key, l.Owner, l.Epoch)
	if err == nil && !current {
		err = evento.ErrLeaseLost
	}
	return err
}

// ReadRecorded reads q as Read does and returns the page statements it
// ran.
func (x *Executor) ReadRecorded(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], []string, error) {
	r := &recorder{db: x.db}
	page, err := x.read(ctx, r, q)
	return page, r.queries, err
}

// ReadArgsRecorded reads q as Read does and returns the arguments of each
// page statement it ran.
func (x *Executor) ReadArgsRecorded(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], [][]any, error) {
	r := &recorder{db: x.db}
	page, err := x.read(ctx, r, q)
	return page, r.args, err
}

// recorder runs queries on db and keeps their text and arguments.
type recorder struct {
	db      *sql.DB
	queries []string
	args    [][]any
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.queries = append(r.queries, query)
	r.args = append(r.args, args)
	return r.db.QueryContext(ctx, query, args...)
}

// DB returns the executor's database, for tests that read and write it
// with their own SQL.
func (x *Executor) DB() *sql.DB { return x.db }

// MigrateTo applies the first n migrations of the schema with the table
// prefix to db, as a build that knew only those would: tests use it to
// make a database of an older schema version.
func MigrateTo(ctx context.Context, db *sql.DB, prefix string, n int) error {
	var database string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return err
	}
	s := schema(newTables(prefix))
	s.Migrations = s.Migrations[:n]
	return s.MigrateLocked(ctx, db, migrationLock(database, prefix))
}

// RunMigration runs the statements of migration version on one connection
// without recording it, as a migration run that failed after them leaves
// the database: tests use it to check that the next run completes.
func RunMigration(ctx context.Context, db *sql.DB, prefix string, version int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, stmt := range schema(newTables(prefix)).Migrations[version-1].Statements {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// HoldAppends takes the write turn, so that appends queue until release
// is called: tests use it to make a group-commit batch of known commits.
func (x *Executor) HoldAppends() (release func()) {
	x.turns <- struct{}{}
	return func() { <-x.turns }
}

// QueuedAppends is the number of appends waiting for the write turn.
func (x *Executor) QueuedAppends() int { return x.queue.Len() }

// ReadStatement returns the statement that Read runs for q when the
// position counter is at upTo, and its arguments.
func (x *Executor) ReadStatement(q evento.Query, upTo int64) (string, []any, error) {
	return x.events.StatementUpTo(&q, upTo)
}

// KnownHorizon is the highest counter value the executor has read.
func (x *Executor) KnownHorizon() int64 { return x.horizon.Load() }
