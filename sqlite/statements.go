package sqlite

import "github.com/eventogo/evento/internal/sqlstore"

// statements holds every fixed SQL statement of the executor, built once
// from the quoted table names. Only Read builds SQL per call (its WHERE
// clause follows the query's shape), and only from placeholders.
type statements struct {
	// aggregateState reads an aggregate's current version and routing key.
	// Every event of an aggregate carries the routing key of its first
	// event, so the last event's key is the first event's.
	aggregateState string
	// eventOwner reads which event holds an id.
	eventOwner string
	// insertEvent appends one event; its position is the row id.
	insertEvent string

	loadSnapshot string
	saveSnapshot string

	acquireLease string
	leases       sqlstore.LeaseStatements
}

func newStatements(t tables) statements {
	s := t.subscriptions
	return statements{
		aggregateState: `SELECT version, routing_key FROM ` + t.events +
			` WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY version DESC LIMIT 1`,
		eventOwner: `SELECT aggregate_type, aggregate_id, version FROM ` + t.events + ` WHERE id = ?`,
		insertEvent: `INSERT INTO ` + t.events +
			` (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)` +
			` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,

		loadSnapshot: `SELECT data, version, cursor, updated_at FROM ` + t.snapshots +
			` WHERE aggregate_type = ? AND revision = ? AND aggregate_id = ?`,
		saveSnapshot: `INSERT INTO ` + t.snapshots +
			` (aggregate_type, revision, aggregate_id, data, version, cursor, updated_at)` +
			` VALUES (?, ?, ?, ?, ?, ?, ?)` +
			` ON CONFLICT (aggregate_type, revision, aggregate_id) DO UPDATE SET` +
			` data = excluded.data, version = excluded.version, cursor = excluded.cursor,` +
			` updated_at = excluded.updated_at`,

		// The lease is free when it was released (owner NULL) or expired,
		// and the owner may always take it again; every acquisition bumps
		// the epoch that fences cursor writes.
		acquireLease: `INSERT INTO ` + s + ` ("key", owner, epoch, expires_at, cursor, lag, updated_at)` +
			` VALUES (?1, ?2, 1, ?3, '', 0, 0)` +
			` ON CONFLICT ("key") DO UPDATE SET owner = excluded.owner, epoch = ` + s + `.epoch + 1,` +
			` expires_at = excluded.expires_at` +
			` WHERE ` + s + `.owner IS NULL OR ` + s + `.expires_at < ?4 OR ` + s + `.owner = excluded.owner` +
			` RETURNING epoch, cursor, expires_at`,
		leases: sqlstore.LeaseStatements{
			Holder: `SELECT owner, expires_at FROM ` + s + ` WHERE "key" = ?`,
			Renew:  `UPDATE ` + s + ` SET expires_at = ? WHERE "key" = ? AND owner = ? AND epoch = ?`,
			Release: `UPDATE ` + s + ` SET owner = NULL, expires_at = 0` +
				` WHERE "key" = ? AND owner = ? AND epoch = ?`,
			Acknowledge: `UPDATE ` + s + ` SET cursor = ?, lag = ?, updated_at = ?` +
				` WHERE "key" = ? AND owner = ? AND epoch = ?`,
			AcknowledgeError: `UPDATE ` + s + ` SET cursor = ?, lag = ?, updated_at = ?,` +
				` error_event_id = ?, error_message = ?, error_at = ?, error_fatal = ?` +
				` WHERE "key" = ? AND owner = ? AND epoch = ?`,
			Status: `SELECT ` + sqlstore.StatusColumns(dialect) + ` FROM ` + s + ` WHERE "key" = ?`,
			List:   `SELECT "key", ` + sqlstore.StatusColumns(dialect) + ` FROM ` + s + ` ORDER BY "key"`,
			Park: `INSERT INTO ` + t.deadLetters + ` ("key", event_id, event, error, parked_at)` +
				` VALUES (?, ?, ?, ?, ?)` +
				` ON CONFLICT ("key", event_id) DO UPDATE SET event = excluded.event,` +
				` error = excluded.error, parked_at = excluded.parked_at`,
			DeadLetters: `SELECT event_id, event, error, parked_at FROM ` + t.deadLetters +
				` WHERE "key" = ? ORDER BY parked_at, event_id LIMIT ?`,
			DeleteDeadLetter: `DELETE FROM ` + t.deadLetters + ` WHERE "key" = ? AND event_id = ?`,
		},
	}
}
