package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
	"github.com/eventogo/evento/internal/wake"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// listener turns other sessions' notifications into wake, and
	// notifier sends this executor's; both nil with WithoutNotify.
	listener *listener
	notifier *notifier

	// queue holds the appends waiting for a write turn; turns is the
	// semaphore of the turns (see Append).
	queue groupcommit.Queue
	turns chan struct{}

	// Read-your-writes bookkeeping (see awaitOwnWrites): the newest
	// transaction id this executor appended, the highest horizon seen, and
	// the transaction id a bounded wait last gave up on.
	lastTx      atomic.Uint64
	horizonSeen atomic.Uint64
	gaveUpOn    atomic.Uint64
}

var (
	_ evento.Executor        = (*Executor)(nil)
	_ evento.Waker           = (*Executor)(nil)
	_ evento.MonotonicReader = (*Executor)(nil)
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
		return nil, dsnError(err)
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
	channel := ""
	if !cfg.noNotify {
		channel = notifyChannel(cfg)
	}
	x := &Executor{pool: pool, names: n, stmt: newStatements(n), turns: make(chan struct{}, appendTurns)}
	if channel != "" {
		x.listener = newListener(pool, channel, x.stmt.horizon, x.wake.Fire)
		x.notifier = newNotifier(pool, channel)
	}
	return x, nil
}

// Close stops the listener that [Executor.Wake] started and the goroutine
// that sends the appends' notifications, and waits until they have
// returned; then it closes the pool if [Open] opened
// it. A pool passed to [New] stays open. After Close, Wake no longer
// listens.
func (x *Executor) Close() error {
	if x.listener != nil {
		x.listener.stop()
		x.notifier.stop()
	}
	if x.ownsPool {
		x.pool.Close()
	}
	return nil
}

// MonotonicReads reports true: a read of the log returns the events below
// the visibility horizon, which never moves back, from the one server the
// pool connects to.
func (x *Executor) MonotonicReads() bool { return true }

// Wake returns a channel that is closed after the next successful append
// to this executor's tables, by this executor or, through PostgreSQL's
// LISTEN/NOTIFY, by any other session: another executor on the same schema
// and prefix, in this process or another.
//
// The first call starts a goroutine that holds one connection of its own
// (taken out of the pool, and no longer counted in it) listening to the
// channel that appends notify, until Close. A notified append closes the
// channel once reads of the global log can return its events: when a
// transaction older than the append still runs somewhere on the server and
// holds the horizon (see the package documentation), the channel closes
// when that transaction ends (the listener reads the horizon again at
// intervals growing up to a quarter of a second). When the connection
// fails (a server restart, a terminated backend), the goroutine reconnects
// with a backoff from 50 milliseconds to 5 seconds, and closes the channel
// once it listens again, since events may have been appended in between:
// the channel may close without a new event, and a waiter then finds
// nothing new. With [WithoutNotify], or after Close, the channel reports
// only the appends made through this executor.
func (x *Executor) Wake() <-chan struct{} {
	ch := x.wake.C()
	if x.listener != nil {
		x.listener.start()
	}
	return ch
}

// positionValues returns the bind values of a position of this store. Every
// stored event has a transaction part, so a cursor with a sequence and no
// transaction comes from another kind of store.
func positionValues(p cursor.Position) ([]any, error) {
	if (p.Tx == 0 && p.Seq != 0) || p.Seq > math.MaxInt64 {
		return nil, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	return []any{p.Tx, int64(p.Seq)}, nil
}

// dsnError describes a DSN that pgxpool.ParseConfig refused without
// quoting it: pgx masks the passwords it recognizes in the DSN it quotes,
// but the error it wraps (a *url.Error, say) may hold the DSN whole. The
// description keeps pgx's reason ("invalid port", "failed to parse as
// URL", ...) alone, or nothing when the message is not of the shape this
// expects.
func dsnError(err error) error {
	const prefix = "cannot parse ``: "
	var reason string
	if pe, ok := errors.AsType[*pgconn.ParseConfigError](err); ok {
		bare := *pe
		bare.ConnString = ""
		reason = bare.Error()
		inner := pe.Unwrap()
		if inner != nil {
			reason = strings.TrimSuffix(reason, " ("+inner.Error()+")")
		}
		if !strings.HasPrefix(reason, prefix) || inner != nil && strings.Contains(reason, inner.Error()) {
			reason = ""
		}
		reason = strings.TrimPrefix(reason, prefix)
	}
	if reason == "" || strings.ContainsAny(reason, "`@") {
		return fmt.Errorf("%w: cannot parse the PostgreSQL DSN", evento.ErrInvalidArgument)
	}
	return fmt.Errorf("%w: cannot parse the PostgreSQL DSN: %s", evento.ErrInvalidArgument, reason)
}
