// Package postgres is the evento executor for PostgreSQL 13 or later,
// through github.com/jackc/pgx/v5.
//
// Connect with [Open], which makes a pgxpool.Pool from a DSN and closes it
// on Close, or wrap a pool you already have with [New]; either runs the
// schema migrations, which are safe when several processes start at once.
// A run of the migrations waits a bounded time for each lock it needs
// (200ms, twice as long at every run, 3.2s at most), and is rolled back
// and run again after a pause when a wait times out (version 3 drops an
// index, which needs the events table's exclusive lock; version 2 alters
// the subscriptions table): a long query on such a table delays the
// upgrade, and holds back the appends and reads of the running processes
// for one wait at a time. Open runs them until they succeed or its context
// ends, and then fails with the schema unchanged.
//
//	exec, err := postgres.Open(ctx, "postgres://app@db:5432/app")
//	if err != nil { ... }
//	defer exec.Close()
//	store := evento.New(exec)
//
// # Global order
//
// Every event row records the transaction that wrote it, tx_id (xid8, the
// 64-bit transaction id, which never wraps around), and a sequence number
// seq drawn inside that transaction; the global order is (tx_id, seq), and
// a cursor carries both (cursor.Position{Tx: tx_id, Seq: seq}).
//
// Neither number alone is commit order: a transaction may draw a smaller id
// or sequence than another and commit after it. A reader that paged past
// the second would never see the first. So every read of the global log
// (and every subscription, which reads it) returns only the rows whose
// tx_id is below the horizon, pg_snapshot_xmin(pg_current_snapshot()): the
// oldest transaction id still running when the read's snapshot was taken.
// Every transaction below it has ended, so nothing can ever appear below a
// position once a reader has seen it: pages are stable and subscriptions
// miss nothing. A read confined to one aggregate needs no horizon and sees
// every committed event, so that loading an aggregate reads its own writes
// (see [Executor.Read]).
//
// # The cost: an open transaction delays every subscriber
//
// The horizon is server-wide. While any transaction that has written
// something (in any database of the server, whether or not it touches
// evento's tables) stays open, events committed after it started are
// held back from reads of the global log and from subscriptions, which
// resume as soon as it ends. Short transactions cost milliseconds. A
// long-running one, or one left "idle in transaction", or a forgotten
// prepared transaction, stalls every subscriber for as long as it lasts
// (nothing is lost). Keep write transactions short; set
// idle_in_transaction_session_timeout; watch [Executor.HorizonLag], which
// counts the events held back and names the transaction that holds them.
// Read-only transactions, however long, do not hold the horizon.
//
// For the same reason a read of the global log right after an append may
// not include it yet while another, older transaction is still writing.
//
// # Appends
//
// An append is one statement, so one round trip and its own transaction:
// it checks the aggregate's version and inserts every event of the commit
// at once. Appends of one executor that arrive while another is being
// written are grouped (group commit): the next statement writes all of
// them, one transaction and one WAL flush for several commits, each still
// checked against its own expected version and answered with its own
// outcome (see [Executor.Append]). UNIQUE(aggregate_type, aggregate_id, version) enforces optimistic
// concurrency. Errors are classified by the server's SQLSTATE (23505,
// unique violation) and the name of the violated constraint, never by
// message text. Appending a commit whose events are already stored (a
// retry after an error that left the outcome unknown, such as a connection
// lost during COMMIT or a cancelled context) fails with
// evento.ErrAlreadyAppended and stores nothing twice.
//
// # Dump and restore
//
// A physical copy of the server (a promoted streaming replica,
// pg_basebackup, pg_upgrade) keeps its transaction counter, and so every
// position and cursor. A logical dump and restore (pg_dump and pg_restore,
// or copying the rows to another server) keeps the stored tx_id values but
// not the counter: on the new server, new transactions usually get smaller
// ids, so the restored events sit above the horizon (reads of the global
// log return none of them) and new events would sort before them. After
// such a restore, and before any writer starts, call [Executor.Rebase]
// once (it is harmless at any other time):
//
//	pg_dump -Fc -n app olddb > app.dump
//	pg_restore -d newdb app.dump
//	# then, from Go, with no writer running:
//	shift, err := exec.Rebase(ctx)
//
// Rebase adds an offset to the ids that the tx_id column's default and the
// horizon compute, through the two small SQL functions the schema defines
// for that purpose (<prefix>current_tx and <prefix>horizon), so that new
// events sort after every restored one. No row changes: the positions,
// the cursors stored in the subscriptions and snapshots tables, and the
// cursors your clients or your own tables hold all stay valid. Events
// written on the new server before the rebase cannot be put back in order;
// if that happened, reset the subscriptions (and drop the snapshots) whose
// cursors are past them.
//
// # Clocks
//
// Lease expiries, snapshot and acknowledgement times come from the server's
// clock (clock_timestamp()), so workers on several machines agree on them.
// Event timestamps are set by the caller, or by this process's clock when
// zero, as in every executor.
//
// # Wake-ups across processes
//
// Every committed append is notified (pg_notify) on a channel named after
// the schema and prefix, from a goroutine of the executor that sends at most
// one notification every few milliseconds, so concurrent appends share them
// and never wait for them. [Executor.Wake] listens on a connection of its
// own, reconnecting after failures, and wakes waiting subscriptions once
// reads can return the notified events: a subscription in any process sees
// a new event within milliseconds, and polls only as a fallback.
// [WithoutNotify] turns this off.
//
// # Transactional handlers
//
// The executor implements evento.TxAcknowledger: a subscription made
// Transactional runs each handler in a transaction that also stores its
// cursor, and the handler reaches it with evento.TxFrom[pgx.Tx](ctx).
//
// # Tables
//
// With the default schema "public" and prefix "evento_", the executor keeps
// its data in evento_events, evento_snapshots, evento_subscriptions and
// evento_dead_letters (events subscriptions parked), records applied
// migrations in evento_schema_migrations, and defines the functions
// evento_current_tx and evento_horizon (transaction ids) and
// evento_version_at (an aggregate's version at another event's position,
// which reads of one aggregate call); the role the executor connects as
// needs EXECUTE on the three (PostgreSQL grants it to PUBLIC unless the
// database's default privileges revoke it). [WithSchema] and
// [WithTablePrefix] change the schema (which the migrations create when
// missing) and the prefix; they must match ^[a-z_][a-z0-9_]{0,62}$ and
// ^[a-z_][a-z0-9_]{0,40}$, and are quoted wherever they appear, so that no
// configuration can inject SQL.
//
// The executor uses pgx's default statement cache. Behind a pooler in
// transaction mode that does not keep prepared statements (PgBouncer
// before 1.21, or max_prepared_statements = 0), add
// default_query_exec_mode=exec (or simple_protocol) to the DSN given to
// [Open], or make the pool yourself with QueryExecModeExec or
// QueryExecModeSimpleProtocol and pass it to [New].
// The executor works in both modes (the conformance suite runs in each),
// but PostgreSQL then plans every statement on every run, which costs most
// on the long union reads of subscriptions with many filters; and reads no
// longer run with a cached generic plan (in the simple protocol their
// values are part of the SQL text), so on a table not analyzed yet (right
// after a bulk load) the planner may choose, for every page of a
// catch-up, the full scan and sort that docs/subscriptions.md describes. With
// PgBouncer 1.21 or later and max_prepared_statements above 0, transaction
// mode keeps prepared statements, and the faster default mode works.
// LISTEN needs a session of its own, which transaction mode does not keep:
// behind such a pooler [Executor.Wake] may miss other processes' appends,
// and their subscriptions then see new events only when they poll; give
// the executor a direct connection string if that latency matters.
package postgres
