package mysql

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/eventogo/evento/internal/sqlstore"
)

// dialect is MySQL's and MariaDB's SQL dialect.
var dialect = sqlstore.Dialect{Placeholders: sqlstore.QuestionMarks, IdentQuote: '`'}

// tables holds the quoted names of the executor's tables, built from a
// validated prefix.
type tables struct {
	events        string
	counter       string
	snapshots     string
	subscriptions string
	deadLetters   string
	migrations    string
	// names maps each quoted name above to its unquoted name, for the
	// storage-engine check.
	names map[string]string
}

func newTables(prefix string) tables {
	t := tables{names: map[string]string{}}
	name := func(s string) string {
		q := dialect.Quote(prefix + s)
		t.names[q] = prefix + s
		return q
	}
	t.events = name("events")
	t.counter = name("counter")
	t.snapshots = name("snapshots")
	t.subscriptions = name("subscriptions")
	t.deadLetters = name("dead_letters")
	t.migrations = name("schema_migrations")
	return t
}

// migrationLockTimeout is how long, in seconds, Open and New wait for
// another process's migration run before they give up.
const migrationLockTimeout = 300

// migrationLock is the server-wide GET_LOCK that serialises the migrators
// of one set of tables: its name hashes the database and the prefix, so
// that it stays within GET_LOCK's 64 characters.
func migrationLock(database, prefix string) sqlstore.SessionLock {
	sum := sha256.Sum256([]byte(database + "\x00" + prefix))
	return sqlstore.SessionLock{
		Acquire: "SELECT GET_LOCK(?, " + strconv.Itoa(migrationLockTimeout) + ")",
		Release: "DO RELEASE_LOCK(?)",
		Args:    []any{"evento_migrate_" + hex.EncodeToString(sum[:20])},
	}
}

// schema returns the executor's versioned schema. Published migrations never
// change; a schema change is a new migration appended to the list.
//
// MySQL commits every CREATE TABLE on its own, so a migration is not atomic:
// each statement is written to be run again (IF NOT EXISTS, an upsert of
// the counter row), and a run that failed midway completes on the next
// start.
//
// Names are VARBINARY, compared byte for byte: the utf8mb4 "_bin"
// collations of MySQL 8 and MariaDB are PAD SPACE, which would make "a"
// and "a " the same aggregate, and their NO PAD variants have different
// names on the two servers. Every name is at most evento.MaxNameLen (255)
// bytes, so the widest index, (aggregate_type, aggregate_id, version), is
// about 520 bytes, well within InnoDB's 3072-byte (and the old 767-byte)
// key limit.
//
// position is the primary key and InnoDB clusters rows by it, so a read of
// the whole log is a range scan in global order. Every index that serves a
// Read filter ends with position, so that a filtered page is an index range
// read in global order: (aggregate_type, position) for a type,
// (aggregate_type, aggregate_id, position) for one aggregate,
// (aggregate_type, name, position) for a type and a name, (routing_key,
// position) for a routing key. Times are unix microseconds.
//
// Version 2 records the last handler failure of each subscription (NULL
// columns, error_at in unix microseconds like updated_at) and adds the dead
// letters: the events subscriptions parked, one row per key and event id,
// listed through the (key, parked_at, event_id) index. Error messages are
// MEDIUMBLOB, stored byte for byte whatever the server's character set: a
// handler's error need not even be valid UTF-8. MySQL 8 has no ADD COLUMN
// IF NOT EXISTS, so the columns are added by one ALTER TABLE, prepared only
// when they are missing (see addColumns).
func schema(t tables) *sqlstore.Schema {
	return &sqlstore.Schema{
		Dialect: dialect,
		Table:   t.migrations,
		Migrations: []sqlstore.Migration{{
			Version: 1,
			Statements: []string{
				`CREATE TABLE IF NOT EXISTS ` + t.events + ` (
					position       BIGINT UNSIGNED NOT NULL,
					id             BINARY(16)      NOT NULL,
					aggregate_type VARBINARY(255)  NOT NULL,
					aggregate_id   VARBINARY(255)  NOT NULL,
					version        BIGINT          NOT NULL,
					name           VARBINARY(255)  NOT NULL,
					routing_key    VARBINARY(255)  NULL,
					data           LONGBLOB        NULL,
					metadata       LONGBLOB        NULL,
					timestamp      BIGINT          NOT NULL,
					PRIMARY KEY (position),
					UNIQUE KEY id_unique (id),
					UNIQUE KEY aggregate_version (aggregate_type, aggregate_id, version),
					KEY type_position (aggregate_type, position),
					KEY aggregate_position (aggregate_type, aggregate_id, position),
					KEY type_name_position (aggregate_type, name, position),
					KEY routing_key_position (routing_key, position)
				) ENGINE=InnoDB`,
				// The counter holds the last assigned position. Its one row
				// is the lock every append takes (see doc.go).
				`CREATE TABLE IF NOT EXISTS ` + t.counter + ` (
					id    TINYINT UNSIGNED NOT NULL PRIMARY KEY,
					value BIGINT UNSIGNED  NOT NULL
				) ENGINE=InnoDB`,
				`INSERT INTO ` + t.counter + ` (id, value)` +
					` SELECT 1, COALESCE(MAX(position), 0) FROM ` + t.events +
					` ON DUPLICATE KEY UPDATE id = id`,
				`CREATE TABLE IF NOT EXISTS ` + t.snapshots + ` (
					aggregate_type VARBINARY(255) NOT NULL,
					revision       VARBINARY(255) NOT NULL,
					aggregate_id   VARBINARY(255) NOT NULL,
					data           LONGBLOB       NULL,
					version        BIGINT         NOT NULL,
					` + "`cursor`" + `       BLOB           NOT NULL,
					updated_at     BIGINT         NOT NULL,
					PRIMARY KEY (aggregate_type, revision, aggregate_id)
				) ENGINE=InnoDB`,
				`CREATE TABLE IF NOT EXISTS ` + t.subscriptions + ` (
					` + "`key`" + `      VARBINARY(255) NOT NULL PRIMARY KEY,
					owner      VARBINARY(255) NULL,
					epoch      BIGINT         NOT NULL,
					expires_at BIGINT         NOT NULL,
					` + "`cursor`" + `   BLOB           NOT NULL,
					` + "`lag`" + `      BIGINT         NOT NULL,
					updated_at BIGINT         NOT NULL
				) ENGINE=InnoDB`,
			},
		}, {
			Version: 2,
			Statements: append(addColumns(t.names[t.subscriptions], t.subscriptions, "error_event_id",
				"ADD COLUMN error_event_id VARBINARY(255) NULL,"+
					" ADD COLUMN error_message MEDIUMBLOB NULL,"+
					" ADD COLUMN error_at BIGINT NULL,"+
					" ADD COLUMN error_fatal BOOLEAN NOT NULL DEFAULT FALSE"),
				`CREATE TABLE IF NOT EXISTS `+t.deadLetters+` (
					`+"`key`"+`     VARBINARY(255) NOT NULL,
					event_id  VARBINARY(255) NOT NULL,
					event     LONGBLOB       NOT NULL,
					`+"`error`"+`   MEDIUMBLOB     NOT NULL,
					parked_at BIGINT         NOT NULL,
					PRIMARY KEY (`+"`key`"+`, event_id),
					KEY key_parked (`+"`key`"+`, parked_at, event_id)
				) ENGINE=InnoDB`,
			),
		}},
	}
}

// addColumns returns the statements that run ALTER TABLE table alter (one
// or more ADD COLUMN clauses) unless the table, whose unquoted name is
// name, already has the column probe, which alter adds. One ALTER TABLE is
// atomic, so the probe tells whether all its columns exist; the statements
// can run again after a migration run that failed later on.
func addColumns(name, table, probe, alter string) []string {
	return []string{
		"SET @evento_migrate = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS" +
			" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " + literal(name) +
			" AND COLUMN_NAME = " + literal(probe) + "), 'DO 0', " +
			literal("ALTER TABLE "+table+" "+alter) + ")",
		"PREPARE evento_migrate FROM @evento_migrate",
		"EXECUTE evento_migrate",
		"DEALLOCATE PREPARE evento_migrate",
	}
}

// literal quotes s as an SQL string literal. It serves only the
// migrations' own text, built from validated names.
func literal(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
