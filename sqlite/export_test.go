package sqlite

import (
	"context"
	"database/sql"

	"github.com/eventogo/evento"
)

// DB returns the executor's database, for tests that read and write it
// with their own SQL.
func (x *Executor) DB() *sql.DB { return x.db }

// MigrateTo applies the first n migrations of the schema with the table
// prefix to db, as a build that knew only those would: tests use it to
// make a database of an older schema version.
func MigrateTo(ctx context.Context, db *sql.DB, prefix string, n int) error {
	s := schema(newTables(prefix))
	s.Migrations = s.Migrations[:n]
	return s.Migrate(ctx, db)
}

// HoldAppends takes the write turn, so that appends queue until release
// is called: tests use it to make a group-commit batch of known commits.
func (x *Executor) HoldAppends() (release func()) {
	x.writer <- struct{}{}
	return func() { <-x.writer }
}

// QueuedAppends is the number of appends waiting for the write turn.
func (x *Executor) QueuedAppends() int { return x.queue.Len() }

// ReadStatement returns the SQL and arguments Read runs for q.
func (x *Executor) ReadStatement(q evento.Query) (string, []any, error) {
	return x.events.Statement(&q)
}
