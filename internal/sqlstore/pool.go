package sqlstore

import (
	"database/sql"
	"time"
)

// Pool settings of a database an executor opens itself (see KeepIdle).
const (
	poolMaxIdleConns    = 16
	poolConnMaxIdleTime = 5 * time.Minute
)

// KeepIdle lets db keep up to 16 idle connections, each closed after five
// idle minutes. database/sql keeps two by default: more concurrent readers
// than that open a connection, and close it, for every query, which on
// SQLite runs the connection's pragmas and parses the schema each time.
func KeepIdle(db *sql.DB) {
	db.SetMaxIdleConns(poolMaxIdleConns)
	db.SetConnMaxIdleTime(poolConnMaxIdleTime)
}
