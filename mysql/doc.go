// Package mysql is the evento executor for MySQL 8 and MariaDB 10.11 (and
// later), through the driver github.com/go-sql-driver/mysql, on InnoDB.
//
// Open a database from a DSN with [Open], or wrap a *sql.DB you already have
// with [New]; either runs the schema migrations, which are safe when
// several processes start at once.
//
//	exec, err := mysql.Open(ctx, "app:secret@tcp(127.0.0.1:3306)/app")
//	if err != nil { ... }
//	defer exec.Close()
//	store := evento.New(exec)
//
// # Global order
//
// MySQL has no snapshot horizon that would let a reader skip rows of
// transactions still in flight (PostgreSQL's pg_snapshot_xmin), and
// AUTO_INCREMENT values are handed out in insert order, not commit order: a
// reader tailing an AUTO_INCREMENT log can pass a position whose
// transaction commits later, and miss its events for good.
//
// So positions come from a counter: one row, which every append moves on by
// its number of events (UPDATE ... SET value = LAST_INSERT_ID(value + n))
// inside its transaction, before it inserts the events. The UPDATE locks
// the row until the transaction ends, so appends that reserve positions
// commit one at a time, in position order; a rolled-back append also rolls
// the counter back, so positions stay dense: the committed positions are
// always 1..N. InnoDB takes a committing transaction out of its list of
// active transactions before it releases the transaction's locks (MariaDB:
// deregister_rw before release_locks; MySQL: trx_erase_lists before
// lock_trx_release_locks), so by the time the next writer holds the
// counter, the previous commit is complete.
//
// That alone does not make every SELECT see a prefix of the log. MariaDB
// builds a statement's read view by walking its lock-free hash of active
// transactions while commits go on, so a view can miss an append that
// committed just before the walk reached it and include one that committed
// after: position p+1 without p (the tests measure about one such read in
// 20,000 under load). A reader that moved its cursor past p+1 would never
// see p. So [Executor.Read] is two statements: the first reads the
// counter, the second reads the page, bounded to positions up to that
// value. Every append up to that value had finished committing before the
// first statement ended, and the second statement's view is built after
// that, so it sees them all: a reader that has seen position p never later
// finds a newly visible event before p.
//
// The cost is that appends serialise on the counter for three statements:
// the counter UPDATE, one multi-row INSERT of the commit's events, and
// COMMIT. Everything else happens outside the lock: the version check
// (which the UNIQUE(aggregate_type, aggregate_id, version) key backs up),
// encoding, and the durable log flush, which InnoDB does after releasing
// locks so that group commit still batches fsyncs. With the binary log
// enabled, locks are held until the binlog is written, and a sync_binlog=1
// fsync then sits inside the serialised section. Reads cost one more round
// trip, for the counter, except a forward read more than a page behind
// the last counter value the executor read, which is bounded by that value
// first and reads the counter only when its page is not full (see
// [Executor.Read]).
//
// Appends of one executor that arrive while another holds the counter are
// grouped (group commit, see [Executor.Append]): one transaction moves the
// counter once for all of them and inserts their events together, so the
// three serialised statements are paid once per group instead of once per
// commit.
//
// Reads must see committed data only: the server's default REPEATABLE
// READ, READ COMMITTED and SERIALIZABLE do. [Open] and [New] refuse
// connections at READ UNCOMMITTED (from the DSN or the server's default)
// with evento.ErrInvalidArgument: their reads would return events of
// appends that may still roll back.
// Nothing in the append transaction is a consistent read (the version
// check runs before it starts), so MariaDB's innodb_snapshot_isolation
// does not make the counter UPDATE fail when it had to wait.
//
// # Errors
//
// Database errors are classified by the server's error number, never by
// message text: 1062 (duplicate key) means a version or an event id is
// taken, and the executor reads the stored rows to tell which: the commit
// is already stored (evento.ErrAlreadyAppended, e.g. a retry after a
// connection lost during COMMIT), another writer took the version
// (evento.ErrVersionConflict), or an event id is reused
// (evento.ErrInvalidArgument).
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
// tx itself, and must not write the same rows through any other
// connection while it runs (that write would wait for tx's locks). The
// subscription's row stays locked until the handler returns, so a worker
// taking the lease over waits for it.
//
// # Tables
//
// With the default prefix "evento_" the executor keeps its data in
// evento_events, evento_counter, evento_snapshots, evento_subscriptions and
// evento_dead_letters, and records applied migrations in
// evento_schema_migrations.
// [WithTablePrefix] changes the prefix; it must match
// ^[a-z_][a-z0-9_]{0,40}$, and every table name is quoted with backticks.
// Names (aggregate types and ids, event names, routing keys) are stored
// as VARBINARY(255) and compared byte for byte.
//
// MySQL commits each schema statement on its own, so migrations cannot run
// in one transaction. Concurrent migrators instead take a GET_LOCK named
// after the database and the prefix, and every migration statement can be
// run again, so a run interrupted midway completes on the next start.
//
// The largest event is bounded by the server's max_allowed_packet (less
// 64 KiB); a commit larger than that is inserted in several statements of
// the same transaction.
package mysql
