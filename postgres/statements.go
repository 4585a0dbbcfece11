package postgres

import "github.com/eventogo/evento/internal/sqlstore"

// eventColumns are the columns Read selects, in the order scanEvent reads
// them.
const eventColumns = "tx_id, seq, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp"

// statements holds every fixed SQL statement of the executor, built once
// from the quoted names. Only Read builds SQL per call (its WHERE clause
// follows the query's shape), and only from placeholders.
type statements struct {
	// appendEvents is the whole append, in one statement: see Append.
	appendEvents string
	// createEvents is the append of a commit that creates its aggregate:
	// see Executor.write.
	createEvents string
	// appendBatch appends several commits in one statement: see
	// writeMany.
	appendBatch string
	// aggregateState reads an aggregate's current version and the tx_id of
	// its last event, to explain a refused append.
	aggregateState string
	// eventOwner reads which event holds an id.
	eventOwner string

	// selectEvents is the head of every Read.
	selectEvents string
	// ordered pages through the global log; it returns only rows below the
	// horizon. aggregate pages through one aggregate, which needs no
	// horizon (see Read).
	ordered   sqlstore.Keyset
	aggregate sqlstore.Keyset
	// union describes the events table to the reads of several filters
	// (see readStatement).
	union sqlstore.Union

	horizonLag string
	// horizon reads the current horizon.
	horizon string

	loadSnapshot string
	saveSnapshot string

	acquireLease       string
	leaseHolder        string
	renewLease         string
	releaseLease       string
	acknowledge        string
	subscriptionStatus string
	// acks holds the statements of the acknowledgements that record an
	// error or park events, of the dead letters, and of the subscription
	// list (see deadletter.go).
	acks ackStatements
}

// newStatements builds the statements on the names n.
func newStatements(n names) statements {
	s := n.subscriptions
	order := sqlstore.Keyset{
		Columns: []string{"tx_id", "seq"},
		Casts:   []string{"::xid8", ""},
		Values:  positionValues,
	}
	// Reads of one aggregate (alone, or in a union) from another event's
	// cursor find its version there with the schema's function.
	order.SearchFunc = n.versionAt
	ordered := order
	ordered.Bound = "tx_id < " + n.horizon + "()"
	aggregate := order
	aggregate.Table = n.events
	return statements{
		appendEvents: appendStatement(n),
		createEvents: createStatement(n),
		appendBatch:  batchStatement(n),
		aggregateState: `SELECT version, tx_id FROM ` + n.events +
			` WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`,
		eventOwner: `SELECT aggregate_type, aggregate_id, version FROM ` + n.events + ` WHERE id = $1`,

		selectEvents: "SELECT " + eventColumns + " FROM " + n.events,
		union:        sqlstore.Union{Columns: eventColumns, Table: n.events, ByVersion: true, Merge: true},
		ordered:      ordered,
		aggregate:    aggregate,

		horizon: `SELECT ` + n.horizon + `()`,
		// The transaction that holds the horizon is the running one with
		// the oldest transaction id.
		horizonLag: `SELECT (SELECT count(*) FROM ` + n.events + ` WHERE tx_id >= ` + n.horizon + `()),` +
			` a.pid, (extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start) * 1e6)::bigint` +
			` FROM (SELECT 1) AS one LEFT JOIN LATERAL (` +
			`SELECT pid, xact_start FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL` +
			` ORDER BY pg_catalog.age(backend_xid) DESC LIMIT 1) AS a ON true`,

		loadSnapshot: `SELECT data, version, cursor, updated_at FROM ` + n.snapshots +
			` WHERE aggregate_type = $1 AND revision = $2 AND aggregate_id = $3`,
		saveSnapshot: `INSERT INTO ` + n.snapshots +
			` (aggregate_type, revision, aggregate_id, data, version, cursor, updated_at)` +
			` VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.clock_timestamp())` +
			` ON CONFLICT (aggregate_type, revision, aggregate_id) DO UPDATE SET` +
			` data = excluded.data, version = excluded.version, cursor = excluded.cursor,` +
			` updated_at = excluded.updated_at` +
			` RETURNING updated_at`,

		// The lease is free when it was released (owner NULL) or expired,
		// and the owner may always take it again; every acquisition bumps
		// the epoch that fences cursor writes. Expiries are computed and
		// compared on the database's clock.
		acquireLease: `INSERT INTO ` + s + ` ("key", owner, epoch, expires_at, cursor, lag)` +
			` VALUES ($1, $2, 1, pg_catalog.clock_timestamp() + $3::bigint * interval '1 microsecond', '', 0)` +
			` ON CONFLICT ("key") DO UPDATE SET owner = excluded.owner, epoch = ` + s + `.epoch + 1,` +
			` expires_at = excluded.expires_at` +
			` WHERE ` + s + `.owner IS NULL OR ` + s + `.expires_at < pg_catalog.clock_timestamp()` +
			` OR ` + s + `.owner = excluded.owner` +
			` RETURNING epoch, cursor, expires_at`,
		leaseHolder: `SELECT owner, expires_at FROM ` + s + ` WHERE "key" = $1`,
		renewLease: `UPDATE ` + s + ` SET expires_at = pg_catalog.clock_timestamp() + $1::bigint * interval '1 microsecond'` +
			` WHERE "key" = $2 AND owner = $3 AND epoch = $4 RETURNING expires_at`,
		releaseLease: `UPDATE ` + s + ` SET owner = NULL, expires_at = NULL` +
			` WHERE "key" = $1 AND owner = $2 AND epoch = $3`,
		acknowledge: `UPDATE ` + s + ` SET cursor = $1, lag = $2, updated_at = pg_catalog.clock_timestamp()` +
			` WHERE "key" = $3 AND owner = $4 AND epoch = $5`,
		subscriptionStatus: `SELECT ` + sqlstore.StatusColumns(dialect) + ` FROM ` + s + ` WHERE "key" = $1`,
		acks:               newAckStatements(n),
	}
}

// createStatement returns the append statement of a commit that creates
// its aggregate (expected version 0): the INSERT of appendStatement without
// the read of the aggregate's last event, since the unique version key
// refuses a first event whose version the aggregate already has (see
// Executor.write). It takes the same arguments.
func createStatement(n names) string {
	return `INSERT INTO ` + n.events +
		` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)` +
		` SELECT e.id, $1::text, $2::text, $3::bigint + e.ord, e.name, $4::text, e.data, e.metadata, e.ts` +
		` FROM unnest($5::uuid[], $6::text[], $7::bytea[], $8::bytea[], $9::timestamptz[])` +
		` WITH ORDINALITY AS e (id, name, data, metadata, ts, ord)` +
		` ORDER BY e.ord` +
		` RETURNING tx_id, seq, version, routing_key`
}

// appendStatement returns the append statement (see Append).
//
// The first CTE reads the aggregate's last event with the statement's
// snapshot; the INSERT writes the events only when that event is the one
// the commit expects, and when it was written by an older transaction than
// this one (always so outside a caller's own transaction: see Append). Rows
// are inserted in commit order, so that their seq values ascend with their
// versions.
func appendStatement(n names) string {
	return `WITH last AS (` +
		`SELECT version, routing_key, tx_id FROM ` + n.events +
		` WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1)` +
		` INSERT INTO ` + n.events +
		` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)` +
		` SELECT e.id, $1, $2, $3::bigint + e.ord, e.name,` +
		` CASE WHEN $3::bigint = 0 THEN $4::text ELSE (SELECT routing_key FROM last) END,` +
		` e.data, e.metadata, e.ts` +
		` FROM unnest($5::uuid[], $6::text[], $7::bytea[], $8::bytea[], $9::timestamptz[])` +
		` WITH ORDINALITY AS e (id, name, data, metadata, ts, ord)` +
		` WHERE COALESCE((SELECT version FROM last), 0) = $3::bigint` +
		` AND COALESCE((SELECT tx_id FROM last) < ` + n.currentTx + `(), true)` +
		` ORDER BY e.ord` +
		` RETURNING tx_id, seq, version, routing_key`
}
