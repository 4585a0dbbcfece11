package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/eventogo/evento/internal/sqlstore"
)

// rollbackTimeout bounds a ROLLBACK that runs after the caller's context was
// cancelled.
const rollbackTimeout = 10 * time.Second

// writer is the connection appends run on, with their statements prepared
// once: SQLite would otherwise parse every statement of every append again.
// Only the holder of the writer lock touches it; it is opened at the first
// append and replaced when a failure may have left it in a transaction.
type writer struct {
	conn                           *sql.Conn
	begin, commit, state, event    *sql.Stmt
	owner                          *sql.Stmt
	savepoint, rollbackTo, release *sql.Stmt
}

// writerConn returns the append connection, opening it if needed. The
// caller holds the writer lock.
func (x *Executor) writerConn(ctx context.Context) (*writer, error) {
	if x.w != nil {
		return x.w, nil
	}
	conn, err := x.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.state, x.stmt.aggregateState},
		{&w.event, x.stmt.insertEvent},
		{&w.owner, x.stmt.eventOwner},
		{&w.savepoint, "SAVEPOINT evento_commit"},
		{&w.rollbackTo, "ROLLBACK TO evento_commit"},
		{&w.release, "RELEASE evento_commit"},
	} {
		if *p.stmt, err = conn.PrepareContext(ctx, p.query); err != nil {
			w.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
	}
	x.w = w
	return w, nil
}

// rollback ends the append transaction whatever happened to ctx. When the
// ROLLBACK fails the connection may still be inside a transaction, so it is
// discarded and the next append opens a new one. The caller holds the
// writer lock.
func (x *Executor) rollback(ctx context.Context) {
	if x.w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := x.w.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		x.w.closeStatements()
		sqlstore.Discard(x.w.conn)
		x.w = nil
	}
}

// dropWriter closes the append connection, giving it back to the pool. The
// caller holds the writer lock.
func (x *Executor) dropWriter() {
	if x.w != nil {
		x.w.close()
		x.w = nil
	}
}

// close finalizes the statements, while the connection is still open, and
// then gives the connection back.
func (w *writer) close() {
	w.closeStatements()
	w.conn.Close()
}

func (w *writer) closeStatements() {
	for _, s := range []*sql.Stmt{w.begin, w.commit, w.state, w.event, w.owner, w.savepoint, w.rollbackTo, w.release} {
		if s != nil {
			s.Close()
		}
	}
}
