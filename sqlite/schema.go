package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/eventogo/evento/internal/sqlstore"
)

// dialect is SQLite's SQL dialect.
var dialect = sqlstore.Dialect{Placeholders: sqlstore.QuestionMarks, IdentQuote: '"', Embedded: true, WrapCompoundMembers: true}

// tables holds the quoted names of the executor's tables and indexes, built
// from a validated prefix.
type tables struct {
	events        string
	snapshots     string
	subscriptions string
	deadLetters   string
	migrations    string
	// index returns the quoted name of an index.
	index func(name string) string
}

// migrateTimeout bounds how long opening a database keeps retrying while
// another process holds it busy.
const migrateTimeout = 10 * time.Second

// migrate brings the schema up to date. SQLite answers SQLITE_BUSY without
// waiting in a few cases the busy timeout does not cover, notably while
// another connection switches a brand-new file to WAL or recovers its WAL
// index; several processes opening a new file at once meet them, so a busy
// answer is retried with a growing pause, for up to migrateTimeout.
func migrate(ctx context.Context, db *sql.DB, t tables) error {
	deadline := time.Now().Add(migrateTimeout)
	pause := time.Millisecond
	for {
		err := schema(t).Migrate(ctx, db)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

func newTables(prefix string) tables {
	name := func(s string) string { return dialect.Quote(prefix + s) }
	return tables{
		events:        name("events"),
		snapshots:     name("snapshots"),
		subscriptions: name("subscriptions"),
		deadLetters:   name("dead_letters"),
		migrations:    name("schema_migrations"),
		index:         name,
	}
}

// schema returns the executor's versioned schema. Published migrations never
// change; a schema change is a new migration appended to the list.
//
// Timestamps, expiries, lags and update times are unix microseconds (or
// microseconds, for lag). Every index that serves a Read filter ends with
// position, so that a filtered page is an index range read in global order:
// (aggregate_type, position) for a type, (aggregate_type, name, position)
// for a type and a name, (routing_key, position) for a routing key. A read
// of one aggregate pages by version through UNIQUE(aggregate_type,
// aggregate_id, version), which also enforces optimistic concurrency:
// within an aggregate, version order is position order (sqlstore.Keyset).
//
// Version 2 records the last handler failure of each subscription (NULL
// columns, error_at in unix microseconds like updated_at) and adds the dead
// letters: the events subscriptions parked, one row per key and event id,
// listed through the (key, parked_at, event_id) index.
func schema(t tables) *sqlstore.Schema {
	return &sqlstore.Schema{
		Dialect: dialect,
		Table:   t.migrations,
		Begin:   []string{"BEGIN IMMEDIATE"},
		Migrations: []sqlstore.Migration{{
			Version: 1,
			Statements: []string{
				`CREATE TABLE ` + t.events + ` (
					position       INTEGER PRIMARY KEY AUTOINCREMENT,
					id             BLOB    NOT NULL UNIQUE,
					aggregate_type TEXT    NOT NULL,
					aggregate_id   TEXT    NOT NULL,
					version        INTEGER NOT NULL,
					name           TEXT    NOT NULL,
					routing_key    TEXT,
					data           BLOB,
					metadata       BLOB,
					timestamp      INTEGER NOT NULL,
					UNIQUE (aggregate_type, aggregate_id, version)
				)`,
				`CREATE INDEX ` + t.index("events_type_position") + ` ON ` + t.events +
					` (aggregate_type, position)`,
				`CREATE INDEX ` + t.index("events_aggregate_position") + ` ON ` + t.events +
					` (aggregate_type, aggregate_id, position)`,
				`CREATE INDEX ` + t.index("events_type_name_position") + ` ON ` + t.events +
					` (aggregate_type, name, position)`,
				`CREATE INDEX ` + t.index("events_routing_key_position") + ` ON ` + t.events +
					` (routing_key, position)`,
				`CREATE TABLE ` + t.snapshots + ` (
					aggregate_type TEXT    NOT NULL,
					revision       TEXT    NOT NULL,
					aggregate_id   TEXT    NOT NULL,
					data           BLOB,
					version        INTEGER NOT NULL,
					cursor         TEXT    NOT NULL,
					updated_at     INTEGER NOT NULL,
					PRIMARY KEY (aggregate_type, revision, aggregate_id)
				)`,
				`CREATE TABLE ` + t.subscriptions + ` (
					"key"      TEXT    NOT NULL PRIMARY KEY,
					owner      TEXT,
					epoch      INTEGER NOT NULL,
					expires_at INTEGER NOT NULL,
					cursor     TEXT    NOT NULL,
					lag        INTEGER NOT NULL,
					updated_at INTEGER NOT NULL
				)`,
			},
		}, {
			Version: 2,
			Statements: []string{
				`ALTER TABLE ` + t.subscriptions + ` ADD COLUMN error_event_id TEXT`,
				`ALTER TABLE ` + t.subscriptions + ` ADD COLUMN error_message TEXT`,
				`ALTER TABLE ` + t.subscriptions + ` ADD COLUMN error_at INTEGER`,
				`ALTER TABLE ` + t.subscriptions + ` ADD COLUMN error_fatal INTEGER NOT NULL DEFAULT 0`,
				`CREATE TABLE ` + t.deadLetters + ` (
					"key"     TEXT    NOT NULL,
					event_id  TEXT    NOT NULL,
					event     BLOB    NOT NULL,
					error     TEXT    NOT NULL,
					parked_at INTEGER NOT NULL,
					PRIMARY KEY ("key", event_id)
				)`,
				`CREATE INDEX ` + t.index("dead_letters_parked") + ` ON ` + t.deadLetters +
					` ("key", parked_at, event_id)`,
			},
		}, {
			// The routing key index holds only the events that have a key:
			// an event without one then writes one page less to the WAL
			// (docs/benchmarks.md measured 8–14% more single-event appends
			// per second with synchronous NORMAL). Reads of one key use it
			// as before (routing_key = ? implies IS NOT NULL); reads of the
			// events without a key go through the type indexes or the
			// table, in position order, and skip the keyed events.
			Version: 3,
			Statements: []string{
				`DROP INDEX ` + t.index("events_routing_key_position"),
				`CREATE INDEX ` + t.index("events_routing_key_position") + ` ON ` + t.events +
					` (routing_key, position) WHERE routing_key IS NOT NULL`,
			},
		}, {
			// Reads of one aggregate page by version through the unique
			// (aggregate_type, aggregate_id, version) index; the index that
			// served them in position order goes, and an append writes one
			// page less to the WAL (docs/benchmarks.md). A process of an
			// older build still runs on this schema, but reads one
			// aggregate by scanning the events of its type: upgrade every
			// process of a store together.
			Version:    4,
			Statements: []string{`DROP INDEX ` + t.index("events_aggregate_position")},
		}},
	}
}
