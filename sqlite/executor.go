package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/eventogo/evento/internal/wake"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// Executor is the SQLite implementation of evento.Executor and
// evento.Waker. It is safe for concurrent use.
type Executor struct {
	db     *sql.DB
	ownsDB bool
	tables tables
	stmt   statements
	leases sqlstore.Leases
	// w is the append connection; only the writer lock's holder uses it.
	w      *writer
	events sqlstore.EventReader
	// reads runs the event reads through prepared statements.
	reads *stmtCache
	// writer admits one write at a time from this process; a channel
	// rather than a mutex so that waiting for it honours the context.
	writer chan struct{}
	// closed is set by Close; only the writer lock's holder touches it.
	closed bool
	// queue holds the appends waiting for a transaction (group commit).
	queue groupcommit.Queue
	wake  wake.Signal
}

var (
	_ evento.Executor        = (*Executor)(nil)
	_ evento.Waker           = (*Executor)(nil)
	_ evento.MonotonicReader = (*Executor)(nil)
)

// Open opens (creating it if needed) the SQLite database file at path and
// brings its schema up to date. path is a file name or a "file:" URI; its
// own query parameters are kept, and Open adds journal_mode WAL,
// busy_timeout 10000, synchronous FULL (see [WithSynchronous]) and
// foreign_keys on. An in-memory database is refused: every pooled
// connection would see a different one. The pool keeps up to 16 idle
// connections, each closed after five idle minutes; each holds its own
// page cache (up to about 2 MB) and the read statements it has run (see
// the executor's statement cache). Close closes the database.
func Open(ctx context.Context, path string, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("%w: sqlite.Open needs a database file, got %q", evento.ErrInvalidArgument, path)
	}
	synchronous := cfg.synchronous
	if synchronous == 0 {
		synchronous = SynchronousFull
	}
	// busy_timeout comes first, so that switching to WAL already waits for
	// a concurrent opener instead of failing.
	pragmas := url.Values{"_pragma": {
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(" + synchronous.pragma() + ")",
		"foreign_keys(1)",
	}}.Encode()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", path+sep+pragmas)
	if err != nil {
		return nil, fmt.Errorf("evento: open sqlite %s: %w", path, err)
	}
	sqlstore.KeepIdle(db)
	x, err := newExecutor(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	x.ownsDB = true
	return x, nil
}

// New wraps a database the caller opened with the "sqlite" driver
// (modernc.org/sqlite) and brings its schema up to date. The caller's DSN
// must set WAL and a busy timeout on every connection, e.g.
//
//	file:app.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)
//
// Without WAL readers and the writer block each other, and without a busy
// timeout a write that meets another process's write fails at once with
// SQLITE_BUSY. Close leaves db open.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.synchronous != 0 {
		return nil, fmt.Errorf("%w: WithSynchronous applies to sqlite.Open; set synchronous in the DSN of a database passed to New",
			evento.ErrInvalidArgument)
	}
	return newExecutor(ctx, db, cfg)
}

func newExecutor(ctx context.Context, db *sql.DB, cfg config) (*Executor, error) {
	t := newTables(cfg.prefix)
	if err := migrate(ctx, db, t); err != nil {
		return nil, err
	}
	x := &Executor{
		db:     db,
		tables: t,
		stmt:   newStatements(t),
		events: sqlstore.NewEventReader(dialect, t.events).ByVersion().Unite(),
		reads:  newStmtCache(db),
		writer: make(chan struct{}, 1),
	}
	x.leases = sqlstore.Leases{DB: db, SQL: x.stmt.leases, Lock: x.writeTurn, Fenced: x.fenced}
	return x, nil
}

// Close closes the database if [Open] opened it; a database passed to [New]
// stays open.
func (x *Executor) Close() error {
	x.writer <- struct{}{}
	x.closed = true
	x.dropWriter()
	x.reads.close()
	<-x.writer
	if !x.ownsDB {
		return nil
	}
	return x.db.Close()
}

// MonotonicReads reports true: every read runs on the one database file,
// and a read sees every transaction committed before it started.
func (x *Executor) MonotonicReads() bool { return true }

// Wake returns a channel that is closed after the next successful append
// through this executor. Appends by other processes do not close it.
func (x *Executor) Wake() <-chan struct{} { return x.wake.C() }

// Read returns one page of the events that match q, in global order. A
// malformed cursor fails with an error matching cursor.ErrInvalid.
func (x *Executor) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	return x.events.Read(ctx, x.reads, &q)
}

// lockWriter waits for this process's write turn, or for ctx to end.
func (x *Executor) lockWriter(ctx context.Context) error {
	if err := x.heldByCaller(ctx); err != nil {
		return err
	}
	select {
	case x.writer <- struct{}{}:
		if x.closed {
			<-x.writer
			return errClosed
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errClosed reports a write through a closed executor.
var errClosed = errors.New("evento: the sqlite executor is closed")

func (x *Executor) unlockWriter() { <-x.writer }

// heldByCaller fails when ctx is a transactional handler's that runs under
// x's write lock: a write through x would wait for itself.
func (x *Executor) heldByCaller(ctx context.Context) error {
	if ctx.Value(writerHeld{}) == x {
		return fmt.Errorf("%w: a transactional handler writes through this store's own calls; "+
			"it holds the store's write lock, so write through evento.TxFrom[*sql.Tx](ctx) instead", evento.ErrInvalidArgument)
	}
	return nil
}

// writerHeld marks the context of a transactional handler with the executor
// whose write lock it runs under, so that a write through that executor
// fails at once instead of waiting for itself.
type writerHeld struct{}
