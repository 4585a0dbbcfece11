package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pool returns the executor's pool, for tests that read and write the
// database with their own SQL.
func (x *Executor) Pool() *pgxpool.Pool { return x.pool }

// Table returns the quoted name of a table called name in the executor's
// schema, for tests that create tables of their own next to its tables.
func (x *Executor) Table(name string) string { return x.names.schema + "." + dialect.Quote(name) }

// MigrateTo applies the first n migrations of the schema to the tables of
// opts in pool's database, as a build that knew only those would: tests
// use it to make a database of an older schema version.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, n int, opts ...Option) error {
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	s := schema(newNames(cfg))
	s.Migrations = s.Migrations[:n]
	return s.Migrate(ctx, db)
}
