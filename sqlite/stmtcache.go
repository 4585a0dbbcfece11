package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Bounds of a stmtCache: the statements it keeps, and the longest query
// text it prepares. Reads build their statements from the shape of the
// query (the number and kind of filters, the direction, the kind of
// cursor), so an application uses few; the rarer shapes of many filters
// are long, and cost more to keep prepared on every pooled connection
// than to compile when they run.
const (
	maxCachedStatements = 32
	maxCachedQueryLen   = 512
)

// stmtCache runs the executor's reads through statements prepared once per
// query text. modernc.org/sqlite compiles a statement for every query it
// runs unprepared: a short read, such as the one of an aggregate's last
// version or of a snapshot, spent most of its time there. database/sql
// prepares a cached statement again on each pooled connection that runs
// it, once. When full, the cache closes the statement used least recently
// to make room.
type stmtCache struct {
	db *sql.DB
	// running is held for reading while a query starts on a cached
	// statement, and for writing while statements are closed.
	running sync.RWMutex
	mu      sync.Mutex // guards the fields below
	stmts   map[string]*cachedStmt
	clock   uint64
	closed  bool
}

// cachedStmt is a prepared statement and when it was last used.
type cachedStmt struct {
	st   *sql.Stmt
	used uint64
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*cachedStmt)}
}

// QueryContext runs query with args through its prepared statement,
// preparing it first if needed; queries the cache does not keep run on the
// database directly.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if !c.with(ctx, query, func(st *sql.Stmt) { rows, err = st.QueryContext(ctx, args...) }) {
		return c.db.QueryContext(ctx, query, args...)
	}
	return rows, err
}

// QueryRowContext is QueryContext for a query of at most one row.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	var row *sql.Row
	if !c.with(ctx, query, func(st *sql.Stmt) { row = st.QueryRowContext(ctx, args...) }) {
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return row
}

// with calls start with the prepared statement of query, preparing it
// first if needed, and reports whether it did; it does not when the cache
// is closed, when query is too long to keep, or when the statement cannot
// be prepared (running it unprepared then reports the error). Neither
// Close nor an eviction closes the statement until start returns; rows
// that start opened keep a closed statement alive until they close.
func (c *stmtCache) with(ctx context.Context, query string, start func(*sql.Stmt)) bool {
	for range 2 {
		c.running.RLock()
		st := c.lookup(query)
		if st != nil {
			start(st)
			c.running.RUnlock()
			return true
		}
		c.running.RUnlock()
		if len(query) > maxCachedQueryLen || !c.add(ctx, query) {
			return false
		}
	}
	return false
}

// lookup returns the cached statement of query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stmts[query]
	if !ok {
		return nil
	}
	c.clock++
	s.used = c.clock
	return s.st
}

// add prepares query and caches it, evicting the statement used least
// recently when the cache is full. It reports whether query is cached.
func (c *stmtCache) add(ctx context.Context, query string) bool {
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return false
	}
	c.running.Lock()
	defer c.running.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.stmts[query]; ok || c.closed {
		// Another read prepared it meanwhile, or the executor closed.
		st.Close()
		return !c.closed
	}
	if len(c.stmts) >= maxCachedStatements {
		var (
			oldest string
			least  uint64
		)
		for q, s := range c.stmts {
			if oldest == "" || s.used < least {
				oldest, least = q, s.used
			}
		}
		c.stmts[oldest].st.Close()
		delete(c.stmts, oldest)
	}
	c.clock++
	c.stmts[query] = &cachedStmt{st: st, used: c.clock}
	return true
}

// close closes every cached statement; later queries run unprepared.
func (c *stmtCache) close() {
	c.running.Lock()
	defer c.running.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.st.Close()
		delete(c.stmts, q)
	}
	c.closed = true
}
