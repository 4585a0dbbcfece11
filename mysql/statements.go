package mysql

import (
	"strings"

	"github.com/eventogo/evento/internal/sqlstore"
)

// eventInsertColumns are the columns of one inserted event row, in the
// order insertEventRows binds them.
const eventInsertColumns = 10

// statements holds every fixed SQL statement of the executor, built once
// from the quoted table names. Only Read, the multi-row event INSERT and the
// event-owner lookup build SQL per call, and only from placeholders (and,
// for the counter, the number of events).
type statements struct {
	// horizon reads the position counter: every position up to it is
	// visible to a statement that starts after this one ends.
	horizon string
	// aggregateState reads an aggregate's current version and routing key.
	// Every event of an aggregate carries the routing key of its first
	// event, so the last event's key is the first event's.
	aggregateState string
	// reservePositions is the head of the counter UPDATE that takes the
	// counter row's lock and moves it on by the number of events; the
	// count and a closing parenthesis follow. LAST_INSERT_ID(expr) makes
	// the server return the new value in the statement's OK packet, so
	// the caller learns its positions without another round trip.
	reservePositions string
	// insertEvents is the head of the multi-row event INSERT; one
	// insertEventRow per event follows, comma-separated.
	insertEvents string
	// eventOwners is the head of the lookup of where event ids are stored;
	// a parenthesised list of placeholders follows.
	eventOwners string

	loadSnapshot string
	saveSnapshot string

	claimLease     string
	createLease    string
	leaseCursor    string
	leaseIsCurrent string
	leases         sqlstore.LeaseStatements
}

// insertEventRow is the placeholder group of one event row.
const insertEventRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

func newStatements(t tables) statements {
	s := t.subscriptions
	return statements{
		horizon: "SELECT value FROM " + t.counter + " WHERE id = 1",
		aggregateState: "SELECT version, routing_key FROM " + t.events +
			" WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY version DESC LIMIT 1",
		reservePositions: "UPDATE " + t.counter + " SET value = LAST_INSERT_ID(value + ",
		insertEvents: "INSERT INTO " + t.events +
			" (position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp) VALUES ",
		eventOwners: "SELECT id, aggregate_type, aggregate_id, version FROM " + t.events + " WHERE id IN ",

		loadSnapshot: "SELECT data, version, `cursor`, updated_at FROM " + t.snapshots +
			" WHERE aggregate_type = ? AND revision = ? AND aggregate_id = ?",
		saveSnapshot: "INSERT INTO " + t.snapshots +
			" (aggregate_type, revision, aggregate_id, data, version, `cursor`, updated_at)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?)" +
			" ON DUPLICATE KEY UPDATE data = VALUES(data), version = VALUES(version)," +
			" `cursor` = VALUES(`cursor`), updated_at = VALUES(updated_at)",

		// The lease is free when it was released (owner NULL) or expired,
		// and the owner may always take it again; every acquisition bumps
		// the epoch that fences cursor writes, and LAST_INSERT_ID(expr)
		// returns the new epoch in the OK packet.
		claimLease: "UPDATE " + s + " SET owner = ?, epoch = LAST_INSERT_ID(epoch + 1), expires_at = ?" +
			" WHERE `key` = ? AND (owner IS NULL OR expires_at < ? OR owner = ?)",
		createLease: "INSERT INTO " + s + " (`key`, owner, epoch, expires_at, `cursor`, `lag`, updated_at)" +
			" VALUES (?, ?, 1, ?, '', 0, 0)",
		leaseCursor:    "SELECT `cursor` FROM " + s + " WHERE `key` = ? AND owner = ? AND epoch = ?",
		leaseIsCurrent: "SELECT 1 FROM " + s + " WHERE `key` = ? AND owner = ? AND epoch = ?",
		leases: sqlstore.LeaseStatements{
			Holder: "SELECT owner, expires_at FROM " + s + " WHERE `key` = ?",
			Renew:  "UPDATE " + s + " SET expires_at = ? WHERE `key` = ? AND owner = ? AND epoch = ?",
			Release: "UPDATE " + s + " SET owner = NULL, expires_at = 0" +
				" WHERE `key` = ? AND owner = ? AND epoch = ?",
			Acknowledge: "UPDATE " + s + " SET `cursor` = ?, `lag` = ?, updated_at = ?" +
				" WHERE `key` = ? AND owner = ? AND epoch = ?",
			AcknowledgeError: "UPDATE " + s + " SET `cursor` = ?, `lag` = ?, updated_at = ?," +
				" error_event_id = ?, error_message = ?, error_at = ?, error_fatal = ?" +
				" WHERE `key` = ? AND owner = ? AND epoch = ?",
			Status: "SELECT " + sqlstore.StatusColumns(dialect) + " FROM " + s + " WHERE `key` = ?",
			List:   "SELECT `key`, " + sqlstore.StatusColumns(dialect) + " FROM " + s + " ORDER BY `key`",
			Park: "INSERT INTO " + t.deadLetters + " (`key`, event_id, event, `error`, parked_at)" +
				" VALUES (?, ?, ?, ?, ?)" +
				" ON DUPLICATE KEY UPDATE event = VALUES(event), `error` = VALUES(`error`)," +
				" parked_at = VALUES(parked_at)",
			DeadLetters: "SELECT event_id, event, `error`, parked_at FROM " + t.deadLetters +
				" WHERE `key` = ? ORDER BY parked_at, event_id LIMIT ?",
			DeleteDeadLetter: "DELETE FROM " + t.deadLetters + " WHERE `key` = ? AND event_id = ?",
		},
	}
}

// placeholders returns "(?, ?, ..., ?)" with n placeholders.
func placeholders(n int) string {
	return "(" + strings.Repeat("?, ", n-1) + "?)"
}
