package postgres

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/wake"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Executor is the PostgreSQL implementation of evento.Executor and
// evento.Waker. It is safe for concurrent use.
type Executor struct {
	pool     *pgxpool.Pool
	ownsPool bool
	names    names
	stmt     statements
	wake     wake.Signal

	// Read-your-writes bookkeeping (see awaitOwnWrites): the newest
	// transaction id this executor appended, the highest horizon seen, and
	// the transaction id a bounded wait last gave up on.
	lastTx      atomic.Uint64
	horizonSeen atomic.Uint64
	gaveUpOn    atomic.Uint64
}

var (
	_ evento.Executor = (*Executor)(nil)
	_ evento.Waker    = (*Executor)(nil)
)

// querier runs statements: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects a pool to the database at dsn (a URL such as
// postgres://user@host:5432/db or a key=value string, as pgxpool.ParseConfig
// reads it) and brings the schema up to date. Close closes the pool.
func Open(ctx context.Context, dsn string, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error of ParseConfig may quote the DSN, password included.
		return nil, fmt.Errorf("%w: cannot parse the PostgreSQL DSN", evento.ErrInvalidArgument)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("evento: open postgres: %w", err)
	}
	x, err := newExecutor(ctx, pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	x.ownsPool = true
	return x, nil
}

// New wraps a pool the caller made and brings the schema up to date. Close
// leaves the pool open.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Executor, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: postgres.New needs a pool", evento.ErrInvalidArgument)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newExecutor(ctx, pool, cfg)
}

func newExecutor(ctx context.Context, pool *pgxpool.Pool, cfg config) (*Executor, error) {
	n := newNames(cfg)
	// The shared migrations runner speaks database/sql; this *sql.DB
	// borrows connections from the pool and closing it leaves the pool
	// open.
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := schema(n).Migrate(ctx, db); err != nil {
		return nil, err
	}
	return &Executor{pool: pool, names: n, stmt: newStatements(n)}, nil
}

// Close closes the pool if [Open] opened it; a pool passed to [New] stays
// open.
func (x *Executor) Close() error {
	if x.ownsPool {
		x.pool.Close()
	}
	return nil
}

// Wake returns a channel that is closed after the next successful append
// through this executor. Appends by other processes do not close it.
func (x *Executor) Wake() <-chan struct{} { return x.wake.C() }

// positionValues returns the bind values of a position of this store. Every
// stored event has a transaction part, so a cursor with a sequence and no
// transaction comes from another kind of store.
func positionValues(p cursor.Position) ([]any, error) {
	if (p.Tx == 0 && p.Seq != 0) || p.Seq > math.MaxInt64 {
		return nil, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	return []any{p.Tx, int64(p.Seq)}, nil
}
