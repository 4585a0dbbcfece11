package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"
)

// rollbackTimeout bounds a ROLLBACK that runs after the caller's context was
// cancelled.
const rollbackTimeout = 10 * time.Second

// Rollback ends the transaction that the caller opened by hand (with BEGIN
// ..., not sql.Conn.BeginTx) on conn, whatever happened to ctx: a cancelled
// append must still roll back. database/sql does not know about such a
// transaction, so when the ROLLBACK fails the connection is discarded
// rather than returned to the pool with a transaction possibly still open.
func Rollback(ctx context.Context, conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		Discard(conn)
	}
}

// Discard closes conn and tells the pool not to reuse its driver
// connection. Close any statement prepared on conn first.
func Discard(conn *sql.Conn) {
	// database/sql drops a driver connection when Raw's function returns
	// driver.ErrBadConn; the error itself is the expected signal.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}
