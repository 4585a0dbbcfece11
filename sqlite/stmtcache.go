package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statements a stmtCache keeps. Reads build
// their statements from the shape of the query (filters, direction, the
// kind of cursor), so a store sees few distinct ones; any beyond the bound
// run unprepared.
const maxCachedStatements = 256

// stmtCache runs the executor's reads through statements prepared once per
// query text. modernc.org/sqlite compiles a statement for every query it
// runs unprepared: a short read, such as the one of an aggregate's last
// version, spent most of its time there. database/sql prepares a cached
// statement again on each pooled connection that runs it, once.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// QueryContext runs query with args through its prepared statement,
// preparing it first if needed; the queries the cache cannot keep run on
// the database directly.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is QueryContext for a query of at most one row. A
// statement that cannot be prepared runs unprepared, which reports the
// same error through the row.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.statement(ctx, query)
	if err != nil || st == nil {
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// statement returns the prepared statement of query, or nil when the cache
// is full or closed.
func (c *stmtCache) statement(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.stmts[query]
	full := c.closed || len(c.stmts) >= maxCachedStatements
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok || c.closed {
		// Another read prepared it meanwhile, or the executor closed.
		st.Close()
		return prev, nil
	}
	c.stmts[query] = st
	return st, nil
}

// close closes every cached statement; later queries run unprepared.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
	c.closed = true
}
