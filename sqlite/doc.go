// Package sqlite is the evento executor for SQLite, through the pure-Go
// driver modernc.org/sqlite (no cgo).
//
// Open a database file with [Open], or wrap a *sql.DB you already have
// with [New]; either runs the schema migrations, which are safe when
// several processes open the same file at once.
//
//	exec, err := sqlite.Open(ctx, "app.db")
//	if err != nil { ... }
//	defer exec.Close()
//	store := evento.New(exec)
//
// # Global order
//
// Every event gets its position from the events table's INTEGER PRIMARY
// KEY AUTOINCREMENT column, inside a BEGIN IMMEDIATE transaction. SQLite
// admits one writer at a time and BEGIN IMMEDIATE takes the write lock
// before the transaction reads anything, so transactions that append
// commit in the order they were numbered: commit order is position order,
// and a reader that has seen position p never later finds a newly
// committed event before p. AUTOINCREMENT also guarantees that a position
// is never reused, not even the highest one after a delete.
//
// Within one process the executor lets one append (or other write) at a
// time reach SQLite, so that writers wait on a Go lock instead of spinning
// in SQLite's busy handler. Writers in other processes wait in the busy
// handler, up to busy_timeout.
//
// # Durability
//
// [Open] sets, on every connection: journal_mode WAL (readers never block
// the writer, nor the writer readers), busy_timeout 10000 ms,
// foreign_keys on, and synchronous FULL, which syncs the write-ahead log at
// every commit so that an acknowledged append survives a power loss.
// [WithSynchronous](SynchronousNormal) trades that last guarantee for
// speed: with WAL, NORMAL never corrupts the database, but the commits of
// the last moments before a power loss (not a process crash) may be lost.
//
// # Dead letters and transactional handlers
//
// The executor keeps parked events (evento.DeadLetterStore) and each
// subscription's last handler failure, written by Acknowledge in the same
// transaction that moves the cursor.
//
// It also implements evento.TxAcknowledger, which a transactional
// subscription uses to run its handler in the transaction that stores the
// cursor. The handler reaches that transaction with
//
//	tx, ok := evento.TxFrom[*sql.Tx](ctx)
//
// and writes its read model through tx: the writes and the cursor then
// commit together or not at all. The handler must not commit or roll back
// tx itself, and must not write through any other connection to the same
// database (this executor's Append included) while it runs: the
// transaction holds SQLite's write lock, and this process's write turn,
// until the handler returns. Writers in other processes wait for it in the
// busy handler, up to busy_timeout, so keep transactional handlers short.
//
// # Tables
//
// With the default prefix "evento_" the executor keeps its data in
// evento_events, evento_snapshots, evento_subscriptions and
// evento_dead_letters, and records applied migrations in
// evento_schema_migrations. [WithTablePrefix] changes the prefix; it must
// match ^[a-z_][a-z0-9_]{0,40}$.
package sqlite
