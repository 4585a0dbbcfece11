//go:build linux

package faulttest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/mysql"
	"github.com/eventogo/evento/postgres"
	"github.com/eventogo/evento/sqlite"
	driver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Store kinds.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "postgres"
	kindMySQL    = "mysql"
)

// allKinds are the stores every test runs on; serverKinds those with a
// server whose connections can be cut.
var (
	allKinds    = []string{kindSQLite, kindPostgres, kindMySQL}
	serverKinds = []string{kindPostgres, kindMySQL}
)

// Default servers, overridden by the variables internal/testenv documents.
const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/"
)

func postgresDSN() string { return testenv.DSN("EVENTO_POSTGRES_DSN", defaultPostgresDSN) }
func mysqlDSN() string    { return testenv.DSN("EVENTO_MYSQL_DSN", defaultMySQLDSN) }

// target is where a test's store lives: a database of its own.
type target struct {
	// Kind is kindSQLite, kindPostgres or kindMySQL.
	Kind string
	// DSN is the SQLite file, a PostgreSQL URL (or key=value string), or a
	// go-sql-driver/mysql DSN, each naming the test's database.
	DSN string
	// Database is the server database's name; empty for SQLite.
	Database string
}

// freshTarget creates an empty database of kind for the test, with the
// table handled rows go to, and drops it when the test ends (after every
// cleanup registered later, so after the children are gone). A missing
// server skips the test, or fails it in CI.
func freshTarget(t *testing.T, kind string) target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tg target
	switch kind {
	case kindSQLite:
		tg = target{Kind: kind, DSN: filepath.Join(t.TempDir(), "events.db")}
	case kindPostgres:
		tg = freshPostgres(ctx, t)
	case kindMySQL:
		tg = freshMySQL(ctx, t)
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	db, err := openSQL(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, handledDDL(kind)); err != nil {
		t.Fatalf("create table handled: %v", err)
	}
	return tg
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func freshPostgres(ctx context.Context, t *testing.T) target {
	t.Helper()
	conn, err := pgx.Connect(ctx, postgresDSN())
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
	}
	name := randomName("evento_fault_")
	// template0, so that a session connected to template1 cannot make the
	// creation fail.
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`" TEMPLATE template0`); err != nil {
		conn.Close(context.Background())
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer conn.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends the sessions of killed workers the server has not
		// noticed yet.
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return target{Kind: kindPostgres, DSN: postgresDSNFor(postgresDSN(), name), Database: name}
}

// postgresDSNFor returns dsn with its database replaced by name.
func postgresDSNFor(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return dsn + " dbname=" + name
}

func freshMySQL(ctx context.Context, t *testing.T) target {
	t.Helper()
	cfg, err := driver.ParseDSN(mysqlDSN())
	if err != nil {
		t.Fatalf("EVENTO_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		testenv.Unavailable(t, "MySQL/MariaDB at "+cfg.Addr, err)
	}
	name := randomName("evento_fault_")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Connections of killed workers the server has not noticed yet
		// would hold metadata locks that DROP waits for.
		killConnections(ctx, admin, name)
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return target{Kind: kindMySQL, DSN: cfg.FormatDSN(), Database: name}
}

// openExecutor opens the evento executor of tg.
func openExecutor(ctx context.Context, tg target) (evento.Executor, func() error, error) {
	switch tg.Kind {
	case kindSQLite:
		x, err := sqlite.Open(ctx, tg.DSN)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Close, nil
	case kindPostgres:
		x, err := postgres.Open(ctx, tg.DSN)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Close, nil
	case kindMySQL:
		x, err := mysql.Open(ctx, tg.DSN)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown store kind %q", tg.Kind)
}

// openStore opens an executor on tg for the test, closed when it ends.
func openStore(t *testing.T, tg target, opts ...evento.Option) *evento.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x, closeX, err := openExecutor(ctx, tg)
	if err != nil {
		t.Fatalf("open %s store: %v", tg.Kind, err)
	}
	t.Cleanup(func() { closeX() })
	return evento.New(x, opts...)
}

// openSQL opens a database/sql pool on tg's database, separate from any
// executor's.
func openSQL(tg target) (*sql.DB, error) {
	switch tg.Kind {
	case kindSQLite:
		return sql.Open("sqlite", "file:"+tg.DSN+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	case kindPostgres:
		return sql.Open("pgx", tg.DSN)
	case kindMySQL:
		return sql.Open("mysql", tg.DSN)
	}
	return nil, fmt.Errorf("unknown store kind %q", tg.Kind)
}

// handledDDL creates the table workers record handled events in. It has no
// unique key but its sequence number, so that an event handled twice shows
// up as two rows, and seq gives the order of the records.
func handledDDL(kind string) string {
	switch kind {
	case kindPostgres:
		return `CREATE TABLE handled (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL,
			aggregate_id TEXT NOT NULL, version BIGINT NOT NULL, owner_pid INTEGER NOT NULL,
			owner TEXT NOT NULL, epoch BIGINT NOT NULL)`
	case kindMySQL:
		return "CREATE TABLE handled (seq BIGINT AUTO_INCREMENT PRIMARY KEY, event_id VARCHAR(26) NOT NULL," +
			" aggregate_id VARCHAR(64) NOT NULL, version BIGINT NOT NULL, owner_pid INT NOT NULL," +
			" owner VARCHAR(64) NOT NULL, epoch BIGINT NOT NULL) ENGINE=InnoDB"
	}
	return `CREATE TABLE handled (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,
		aggregate_id TEXT NOT NULL, version INTEGER NOT NULL, owner_pid INTEGER NOT NULL,
		owner TEXT NOT NULL, epoch INTEGER NOT NULL)`
}

// handledRow is one record of a handled event.
type handledRow struct {
	Seq       int64
	EventID   string
	Aggregate string
	Version   int64
	PID       int
	Owner     string
	Epoch     int64
}

func (r handledRow) args() []any {
	return []any{r.EventID, r.Aggregate, r.Version, r.PID, r.Owner, r.Epoch}
}

func insertHandledSQL(kind string) string {
	if kind == kindPostgres {
		return `INSERT INTO handled (event_id, aggregate_id, version, owner_pid, owner, epoch) VALUES ($1, $2, $3, $4, $5, $6)`
	}
	return `INSERT INTO handled (event_id, aggregate_id, version, owner_pid, owner, epoch) VALUES (?, ?, ?, ?, ?, ?)`
}

// recordInTx inserts r through the transaction of a transactional
// subscription's handler: a pgx.Tx on PostgreSQL, a *sql.Tx otherwise.
func recordInTx(ctx context.Context, kind string, r handledRow) error {
	if kind == kindPostgres {
		tx, ok := evento.TxFrom[pgx.Tx](ctx)
		if !ok {
			return errors.New("no pgx.Tx in the handler's context")
		}
		_, err := tx.Exec(ctx, insertHandledSQL(kind), r.args()...)
		return err
	}
	tx, ok := evento.TxFrom[*sql.Tx](ctx)
	if !ok {
		return errors.New("no *sql.Tx in the handler's context")
	}
	_, err := tx.ExecContext(ctx, insertHandledSQL(kind), r.args()...)
	return err
}

// readHandled returns every handled row of tg, in seq order.
func readHandled(t *testing.T, tg target) []handledRow {
	t.Helper()
	db, err := openSQL(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT seq, event_id, aggregate_id, version, owner_pid, owner, epoch FROM handled ORDER BY seq`)
	if err != nil {
		t.Fatalf("read handled: %v", err)
	}
	defer rows.Close()
	var out []handledRow
	for rows.Next() {
		var r handledRow
		if err := rows.Scan(&r.Seq, &r.EventID, &r.Aggregate, &r.Version, &r.PID, &r.Owner, &r.Epoch); err != nil {
			t.Fatalf("read handled: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read handled: %v", err)
	}
	return out
}

// cutter terminates every server connection to a test's database but its
// own: the stand-in for a database restart that leaves the other tests on
// the server alone.
type cutter struct {
	tg    target
	pg    *pgx.Conn
	mysql *sql.DB
}

// newCutter connects to tg's server, closed when the test ends.
func newCutter(t *testing.T, tg target) *cutter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &cutter{tg: tg}
	switch tg.Kind {
	case kindPostgres:
		conn, err := pgx.Connect(ctx, tg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		c.pg = conn
	case kindMySQL:
		cfg, err := driver.ParseDSN(tg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = ""
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		c.mysql = db
	default:
		t.Fatalf("%s has no server connections to cut", tg.Kind)
	}
	return c
}

// cut terminates the other connections to the database and reports how
// many it terminated.
func (c *cutter) cut(ctx context.Context) (int, error) {
	if c.pg != nil {
		rows, err := c.pg.Query(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			var ok bool
			if err := rows.Scan(&ok); err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		return n, rows.Err()
	}
	return killConnections(ctx, c.mysql, c.tg.Database)
}

// killConnections kills every connection of the MariaDB/MySQL server whose
// current database is name, but db's own.
func killConnections(ctx context.Context, db *sql.DB, name string) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx,
		"SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", name)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
		var me *driver.MySQLError
		switch {
		case err == nil:
			n++
		case errors.As(err, &me) && me.Number == 1094: // unknown thread id: gone already
		default:
			return n, err
		}
	}
	return n, nil
}

// holdBack describes, on PostgreSQL, the transaction that holds back reads
// of the global log; "" elsewhere or when none does.
func holdBack(tg target, st *evento.Store) string {
	x, ok := st.Executor().(*postgres.Executor)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lag, err := x.HorizonLag(ctx)
	if err != nil {
		return fmt.Sprintf("horizon lag: %v", err)
	}
	if lag.Held == 0 {
		return ""
	}
	out := fmt.Sprintf("%d events held by pid %d, open for %v", lag.Held, lag.PID, lag.Oldest.Round(time.Millisecond))
	if lag.PID == 0 {
		return out
	}
	conn, err := pgx.Connect(ctx, tg.DSN)
	if err != nil {
		return out
	}
	defer conn.Close(context.Background())
	var datname, app, state, query *string
	if err := conn.QueryRow(ctx, `SELECT datname, application_name, state, left(query, 120)
		FROM pg_stat_activity WHERE pid = $1`, lag.PID).Scan(&datname, &app, &state, &query); err != nil {
		return out
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return fmt.Sprintf("%s (database %q, application %q, %s: %q)", out, str(datname), str(app), str(state), str(query))
}
