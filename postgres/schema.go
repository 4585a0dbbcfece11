package postgres

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is PostgreSQL's SQL dialect.
var dialect = sqlstore.Dialect{Placeholders: sqlstore.DollarNumbers, IdentQuote: '"', UnestimatedNoKey: true}

// names holds the quoted, schema-qualified names of the executor's tables
// and functions, and the bare names of the constraints whose violations it
// classifies, all built from a validated schema and prefix.
type names struct {
	schema        string
	events        string
	snapshots     string
	subscriptions string
	deadLetters   string
	migrations    string
	// currentTx is the function that gives a writing transaction its
	// tx_id; horizon gives the bound of ordered reads. See Rebase.
	currentTx string
	horizon   string
	// versionAt is the function that finds an aggregate's version at a
	// position that is not one of its events (see versionAtFunction).
	versionAt string
	// versionKey and idKey name the events table's unique constraints.
	versionKey string
	idKey      string
	// local returns the quoted, unqualified name of an index or constraint:
	// they live in their table's schema.
	local func(name string) string
	// lockKey is the advisory lock that serialises migrations and rebases
	// of these tables across processes.
	lockKey int32
	// schemaName is the bare schema name.
	schemaName string
}

// lockClass is the first key of every advisory lock the executor takes
// ("evnt"); the second identifies the schema and prefix.
const lockClass = 0x65766e74

func newNames(c config) names {
	schema := dialect.Quote(c.schema)
	qualified := func(s string) string { return schema + "." + dialect.Quote(c.prefix+s) }
	h := fnv.New32a()
	h.Write([]byte(c.schema + "." + c.prefix))
	return names{
		schema:        schema,
		events:        qualified("events"),
		snapshots:     qualified("snapshots"),
		subscriptions: qualified("subscriptions"),
		deadLetters:   qualified("dead_letters"),
		migrations:    qualified("schema_migrations"),
		currentTx:     qualified("current_tx"),
		horizon:       qualified("horizon"),
		versionAt:     qualified("version_at"),
		versionKey:    c.prefix + "events_version_key",
		idKey:         c.prefix + "events_id_key",
		local:         func(s string) string { return dialect.Quote(c.prefix + s) },
		lockKey:       int32(h.Sum32()),
		schemaName:    c.schema,
	}
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// lock returns the statement that takes the tables' advisory lock until the
// end of the transaction.
func (n names) lock() string {
	return fmt.Sprintf("SELECT pg_catalog.pg_advisory_xact_lock(%d, %d)", lockClass, n.lockKey)
}

// txFunctions returns the statements that (re)define the two functions the
// global order rests on, with base added to every transaction id: zero
// until a Rebase after a logical restore.
//
// current_tx is the tx_id of the calling transaction's rows: its
// transaction id (assigning one if needed), plus base. horizon is the
// smallest tx_id that a transaction still running may write, seen from the
// calling statement's snapshot: every row below it was written by a
// finished transaction and is visible. Both are SQL functions made of one
// expression, which PostgreSQL inlines, so that "tx_id < horizon()" is an
// index condition evaluated once per statement.
func (n names) txFunctions(base uint64) []string {
	shift := func(expr string) string {
		if base == 0 {
			return expr
		}
		return fmt.Sprintf("(%s::pg_catalog.text::pg_catalog.numeric + %d)::pg_catalog.text::pg_catalog.xid8", expr, base)
	}
	return []string{
		`CREATE OR REPLACE FUNCTION ` + n.currentTx + `() RETURNS pg_catalog.xid8 LANGUAGE sql STABLE AS ` +
			literal("SELECT "+shift("pg_catalog.pg_current_xact_id()")),
		`CREATE OR REPLACE FUNCTION ` + n.horizon + `() RETURNS pg_catalog.xid8 LANGUAGE sql STABLE AS ` +
			literal("SELECT "+shift("pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())")),
	}
}

// versionAtFunction returns the statement that creates n.versionAt(type,
// id, tx, seq, backward): the largest version of the aggregate whose
// position is at or before (tx, seq), 0 when none is; backward, the
// smallest version at or after it, or the last version + 1 when none is
// (a bound that leaves every version in). It is a binary search over the
// aggregate's versions, which are dense and whose positions ascend with
// them: about log2(versions) lookups of the version key, where the query
// of the largest version at or before a position reads every version
// after it. A version missing from the middle makes it return NULL. A
// read calls it only when the cursor is not one of the aggregate's own
// events (see sqlstore.Keyset.SearchFunc); being a function, it costs the
// other reads nothing, where the same search written into the statement
// made PostgreSQL set up its plans at every run. STABLE: its queries see
// the snapshot of the statement that calls it.
func (n names) versionAtFunction() string {
	lookup := func(op string) string {
		return `SELECT (e.tx_id, e.seq) ` + op + ` (tx, sq) INTO c FROM ` + n.events + ` AS e` +
			` WHERE e.aggregate_type = t AND e.aggregate_id = i AND e.version = mid;`
	}
	return `CREATE OR REPLACE FUNCTION ` + n.versionAt +
		`(t pg_catalog.text, i pg_catalog.text, tx pg_catalog.xid8, sq pg_catalog.int8, backward pg_catalog.bool)` +
		` RETURNS pg_catalog.int8 LANGUAGE plpgsql STABLE AS $evento$
DECLARE
	lo pg_catalog.int8;
	hi pg_catalog.int8;
	mid pg_catalog.int8;
	c pg_catalog.bool;
BEGIN
	SELECT e.version INTO hi FROM ` + n.events + ` AS e
		WHERE e.aggregate_type = t AND e.aggregate_id = i ORDER BY e.version DESC LIMIT 1;
	hi := COALESCE(hi, 0);
	IF backward THEN
		lo := 1;
		hi := hi + 1;
	ELSE
		lo := 0;
	END IF;
	WHILE lo < hi LOOP
		IF backward THEN
			mid := (lo + hi) / 2;
			` + lookup(">=") + `
			IF c IS NULL THEN RETURN NULL; END IF;
			IF c THEN hi := mid; ELSE lo := mid + 1; END IF;
		ELSE
			mid := (lo + hi + 1) / 2;
			` + lookup("<=") + `
			IF c IS NULL THEN RETURN NULL; END IF;
			IF c THEN lo := mid; ELSE hi := mid - 1; END IF;
		END IF;
	END LOOP;
	IF backward THEN RETURN hi; END IF;
	RETURN lo;
END
$evento$`
}

// schema returns the executor's versioned schema. Published migrations never
// change; a schema change is a new migration appended to the list.
//
// The events table's primary key is the global order, (tx_id, seq). Every
// index that serves a Read filter ends with (tx_id, seq), so that a
// filtered page is an index range read in global order: (aggregate_type, …)
// for a type, (aggregate_type, name, …) for a type and a name,
// (routing_key, …) for a routing key (of the events that have one, since
// version 5). UNIQUE(aggregate_type, aggregate_id, version) is what
// enforces optimistic concurrency; it serves the lookup of an aggregate's
// current version and the reads of one aggregate, which page by version
// (within an aggregate, version order is global order: see
// sqlstore.Keyset).
//
// Version 2 records the last handler failure of each subscription (NULL
// columns, error_at a timestamptz like updated_at) and adds the dead
// letters: the events subscriptions parked, one row per key and event id,
// listed through the (key, parked_at, event_id) index, whose event_id
// sorts byte by byte (the "C" collation) as in the other stores.
//
// Version 3 drops the index on (aggregate_type, aggregate_id, tx_id, seq),
// which served the reads of one aggregate before they paged by version:
// every append writes one index entry less per event. DROP INDEX needs the
// events table's exclusive lock, which waits for the queries running on
// the table and, while it waits, holds back every query that comes after
// it: every run of the migrations waits lockWait at most for a lock and
// is tried again, from the start, after a pause (see Attempt below). A
// process of an older build still runs on this schema, but reads one
// aggregate without its index: upgrade every process of a store together.
//
// Version 4 adds the function that finds an aggregate's version at another
// event's position (versionAtFunction); a process of an older build does
// not call it.
//
// Version 5 replaces the routing key index with one that holds only the
// events that have a routing key: an append of events without one (the
// usual case) writes one index entry less per event (docs/benchmarks.md
// measured the WAL it saves). A read of one routing key uses it as before
// (routing_key = $n implies IS NOT NULL, for the generic plan too); a read
// of the events without a key goes through a type index or the primary
// key, in global order, and skips the keyed events. The migration takes
// the table's exclusive lock first, in a bounded wait like version 3's,
// and then swaps the indexes: every query of the table waits for the
// build, 0.35s for a table of a million events (182 MB, a tenth of them
// keyed) on the benchmark machine. Building first under the SHARE lock
// would let reads run meanwhile, but dropping the old index afterwards
// must raise that lock to an exclusive one, which deadlocks with any
// append that read the table (its statement takes a shared lock to read
// the aggregate's version, then waits behind the build to insert). A
// process of an older build runs on this schema unchanged.
func schema(n names) *sqlstore.Schema {
	v1 := append(n.txFunctions(0),
		`CREATE TABLE `+n.events+` (
			seq            bigint      GENERATED ALWAYS AS IDENTITY,
			tx_id          xid8        NOT NULL DEFAULT `+n.currentTx+`(),
			id             uuid        NOT NULL,
			aggregate_type text        NOT NULL,
			aggregate_id   text        NOT NULL,
			version        bigint      NOT NULL,
			name           text        NOT NULL,
			routing_key    text,
			data           bytea,
			metadata       bytea,
			timestamp      timestamptz NOT NULL,
			CONSTRAINT `+n.local("events_pkey")+` PRIMARY KEY (tx_id, seq),
			CONSTRAINT `+dialect.Quote(n.idKey)+` UNIQUE (id),
			CONSTRAINT `+dialect.Quote(n.versionKey)+` UNIQUE (aggregate_type, aggregate_id, version)
		)`,
		`CREATE INDEX `+n.local("events_type")+` ON `+n.events+` (aggregate_type, tx_id, seq)`,
		`CREATE INDEX `+n.local("events_aggregate")+` ON `+n.events+` (aggregate_type, aggregate_id, tx_id, seq)`,
		`CREATE INDEX `+n.local("events_type_name")+` ON `+n.events+` (aggregate_type, name, tx_id, seq)`,
		`CREATE INDEX `+n.local("events_routing_key")+` ON `+n.events+` (routing_key, tx_id, seq)`,
		`CREATE TABLE `+n.snapshots+` (
			aggregate_type text        NOT NULL,
			revision       text        NOT NULL,
			aggregate_id   text        NOT NULL,
			data           bytea,
			version        bigint      NOT NULL,
			cursor         text        NOT NULL,
			updated_at     timestamptz NOT NULL,
			CONSTRAINT `+n.local("snapshots_pkey")+` PRIMARY KEY (aggregate_type, revision, aggregate_id)
		)`,
		`CREATE TABLE `+n.subscriptions+` (
			"key"      text        NOT NULL,
			owner      text,
			epoch      bigint      NOT NULL,
			expires_at timestamptz,
			cursor     text        NOT NULL,
			lag        bigint      NOT NULL,
			updated_at timestamptz,
			CONSTRAINT `+n.local("subscriptions_pkey")+` PRIMARY KEY ("key")
		)`,
	)
	v2 := []string{
		`ALTER TABLE ` + n.subscriptions +
			` ADD COLUMN error_event_id text,` +
			` ADD COLUMN error_message text,` +
			` ADD COLUMN error_at timestamptz,` +
			` ADD COLUMN error_fatal boolean NOT NULL DEFAULT false`,
		`CREATE TABLE ` + n.deadLetters + ` (
			"key"     text        NOT NULL,
			event_id  text        NOT NULL,
			event     bytea       NOT NULL,
			error     text        NOT NULL,
			parked_at timestamptz NOT NULL,
			CONSTRAINT ` + n.local("dead_letters_pkey") + ` PRIMARY KEY ("key", event_id)
		)`,
		`CREATE INDEX ` + n.local("dead_letters_parked") + ` ON ` + n.deadLetters +
			` ("key", parked_at, event_id COLLATE "C")`,
	}
	return &sqlstore.Schema{
		Dialect: dialect,
		Table:   n.migrations,
		// The advisory lock makes concurrent migrators (several processes
		// starting at once) wait for each other; Migrate re-reads the
		// applied version once it holds it. The schema is created under the
		// lock too, and only when missing, so that a role without CREATE on
		// the database can use a schema made for it.
		//
		// Every lock wait of a run after the advisory lock is bounded
		// (lock_timeout, for the run's transaction only: 200ms, then twice
		// as long at every run, up to 3.2s): a run that times out is rolled
		// back, releasing what it held (its transaction id too, which would
		// hold back the horizon of every reader), and run again after a
		// pause as long as its wait (half a second at least), until it
		// succeeds or Open's context ends. A long query on a table that a
		// migration must lock exclusively then delays the upgrade, and holds
		// back the table's other queries for one wait at a time; the longer
		// waits outlast transactions that overlap one another (and reach
		// deadlock_timeout, after which the server cancels an autovacuum
		// that is in the way).
		Begin: []string{
			"BEGIN",
			n.lock(),
			`DO $evento$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ` +
				literal(n.schemaName) + `) THEN CREATE SCHEMA ` + n.schema + `; END IF; END $evento$`,
		},
		Attempt: func(run int) []string {
			return []string{fmt.Sprintf("SET LOCAL lock_timeout = %d", lockWait(run).Milliseconds())}
		},
		Retry: func(err error, run int) (time.Duration, bool) {
			return max(minRetryPause, lockWait(run)), lockTimedOut(err)
		},
		Migrations: []sqlstore.Migration{
			{Version: 1, Statements: v1},
			{Version: 2, Statements: v2},
			{Version: 3, Statements: []string{`DROP INDEX IF EXISTS ` + n.schema + `.` + n.local("events_aggregate")}},
			{Version: 4, Statements: []string{n.versionAtFunction()}},
			{Version: 5, Statements: []string{
				`LOCK TABLE ` + n.events + ` IN ACCESS EXCLUSIVE MODE`,
				`DROP INDEX IF EXISTS ` + n.schema + `.` + n.local("events_routing_key"),
				`CREATE INDEX ` + n.local("events_with_routing_key") + ` ON ` + n.events +
					` (routing_key, tx_id, seq) WHERE routing_key IS NOT NULL`,
			}},
		},
	}
}

// lockWait is the longest that run number run (1, 2, ...) of the
// migrations waits for a lock: 200ms, doubled at every run, 3.2s at most.
func lockWait(run int) time.Duration {
	return 200 * time.Millisecond << min(run-1, 4)
}

// minRetryPause is the shortest pause between two runs of the migrations,
// during which the queries queued behind a timed-out wait run.
const minRetryPause = 500 * time.Millisecond

// lockTimedOut reports whether err is a lock wait that lock_timeout ended
// (SQLSTATE 55P03, lock_not_available), or one the server ended to break
// a deadlock (40P01, deadlock_detected): either way the run was rolled
// back, and another run may get the locks.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "40P01")
}
