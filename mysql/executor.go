package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/eventogo/evento/internal/wake"
	driver "github.com/go-sql-driver/mysql"
)

// Executor is the MySQL/MariaDB implementation of evento.Executor and
// evento.Waker. It is safe for concurrent use.
type Executor struct {
	db     *sql.DB
	ownsDB bool
	stmt   statements
	tables tables
	leases sqlstore.Leases
	events sqlstore.EventReader
	// maxStatement is the size, in bytes, that one multi-row INSERT aims
	// to stay under: the server's max_allowed_packet, less a margin.
	maxStatement int
	wake         wake.Signal
	// queue holds the appends waiting for the write turn (see Append).
	queue groupcommit.Queue
	turns chan struct{}
	// horizon is the highest value of the position counter that this
	// executor has read (0 before the first read): see read.
	horizon atomic.Int64
}

var (
	_ evento.Executor        = (*Executor)(nil)
	_ evento.Waker           = (*Executor)(nil)
	_ evento.MonotonicReader = (*Executor)(nil)
)

// Open connects to the database named by dsn, in the form of
// github.com/go-sql-driver/mysql (user:password@tcp(host:3306)/dbname?...),
// and brings its schema up to date. The DSN must name a database. Open
// turns on interpolateParams, so that each statement is one round trip
// instead of a prepare, an execute and a close, and keeps up to 16 idle
// connections. Close closes the database.
func Open(ctx context.Context, dsn string, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	dc, err := driver.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: mysql DSN: %v", evento.ErrInvalidArgument, err)
	}
	if dc.DBName == "" {
		return nil, fmt.Errorf("%w: the mysql DSN names no database", evento.ErrInvalidArgument)
	}
	dc.InterpolateParams = true
	connector, err := driver.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("%w: mysql DSN: %v", evento.ErrInvalidArgument, err)
	}
	db := sql.OpenDB(connector)
	sqlstore.KeepIdle(db)
	x, err := newExecutor(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	x.ownsDB = true
	return x, nil
}

// New wraps a database the caller opened with the "mysql" driver
// (github.com/go-sql-driver/mysql) and brings its schema up to date. The
// connections must have a default database (the DSN's /dbname). Set
// interpolateParams=true in the DSN: without it the driver prepares,
// executes and closes every statement that has arguments, so each costs
// two round trips instead of one, among them the INSERT that runs while
// the append holds the position counter. Close leaves db open.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newExecutor(ctx, db, cfg)
}

// statementMargin is what a multi-row INSERT leaves of max_allowed_packet
// for the packet header and the statement's SQL text.
const statementMargin = 64 << 10

func newExecutor(ctx context.Context, db *sql.DB, cfg config) (*Executor, error) {
	var (
		database  sql.NullString
		maxPacket int
	)
	if err := db.QueryRowContext(ctx, "SELECT DATABASE(), @@max_allowed_packet").Scan(&database, &maxPacket); err != nil {
		return nil, fmt.Errorf("evento: mysql: %w", err)
	}
	if !database.Valid {
		return nil, fmt.Errorf("%w: the mysql connection has no default database: name one in the DSN", evento.ErrInvalidArgument)
	}
	if err := checkIsolation(ctx, db); err != nil {
		return nil, err
	}
	t := newTables(cfg.prefix)
	if err := schema(t).MigrateLocked(ctx, db, migrationLock(database.String, cfg.prefix)); err != nil {
		return nil, err
	}
	if err := checkEngines(ctx, db, t); err != nil {
		return nil, err
	}
	x := &Executor{
		db:     db,
		stmt:   newStatements(t),
		tables: t,
		events: sqlstore.NewEventReader(dialect, t.events).ForceIndexes(sqlstore.Indexes{
			Type: "type_position", TypeName: "type_name_position",
			Aggregate: "aggregate_position", RoutingKey: "routing_key_position"}).WalkDense(),
		maxStatement: max(maxPacket-statementMargin, statementMargin),
		turns:        make(chan struct{}, 1),
	}
	x.leases = sqlstore.Leases{DB: db, SQL: x.stmt.leases, Fenced: x.fenced}
	return x, nil
}

// checkIsolation fails when the connections read uncommitted data
// (READ UNCOMMITTED, from the DSN or the server's default): reads would
// then return events, and the counter that bounds them, of appends that
// may still roll back, and a subscription would handle events that were
// never stored. It reads transaction_isolation (MySQL, MariaDB 11.1 and
// later) or else tx_isolation (MariaDB before 11.1, MySQL 5.7).
func checkIsolation(ctx context.Context, db *sql.DB) error {
	var level string
	err := db.QueryRowContext(ctx, "SELECT @@SESSION.transaction_isolation").Scan(&level)
	if isUnknownVariable(err) {
		err = db.QueryRowContext(ctx, "SELECT @@SESSION.tx_isolation").Scan(&level)
	}
	if err != nil {
		return fmt.Errorf("evento: mysql: read the transaction isolation: %w", err)
	}
	if strings.EqualFold(level, "READ-UNCOMMITTED") {
		return fmt.Errorf("%w: the mysql connections' transaction isolation is READ UNCOMMITTED, under which reads "+
			"return events of appends that have not committed; use READ COMMITTED or REPEATABLE READ", evento.ErrInvalidArgument)
	}
	return nil
}

// checkEngines fails unless every table is InnoDB. A server without
// NO_ENGINE_SUBSTITUTION in its sql_mode silently creates a table in its
// default engine when InnoDB is unavailable, and a MyISAM table has
// neither transactions nor row locks: commits would stop being atomic and
// positions would stop following commit order.
func checkEngines(ctx context.Context, db *sql.DB, t tables) error {
	names := make([]any, 0, len(t.names))
	for _, n := range t.names {
		names = append(names, n)
	}
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES"+
		" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN "+placeholders(len(names)), names...)
	if err != nil {
		return fmt.Errorf("evento: mysql: check storage engines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, engine sql.NullString
		if err := rows.Scan(&name, &engine); err != nil {
			return fmt.Errorf("evento: mysql: check storage engines: %w", err)
		}
		if !strings.EqualFold(engine.String, "InnoDB") {
			return fmt.Errorf("evento: mysql: table %s uses storage engine %q; the executor needs InnoDB", name.String, engine.String)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("evento: mysql: check storage engines: %w", err)
	}
	return nil
}

// Close closes the database if [Open] opened it; a database passed to [New]
// stays open.
func (x *Executor) Close() error {
	if !x.ownsDB {
		return nil
	}
	return x.db.Close()
}

// MonotonicReads reports true: a read of the log returns the events up to
// a value of the position counter read before it (see Read), and the
// counter never moves back on the one server the pool connects to.
func (x *Executor) MonotonicReads() bool { return true }

// Wake returns a channel that is closed after the next successful append
// through this executor. Appends by other processes do not close it.
func (x *Executor) Wake() <-chan struct{} { return x.wake.C() }

// Read returns one page of the events that match q, in global order. A
// malformed cursor fails with an error matching cursor.ErrInvalid.
//
// A read is two statements at most times: the first reads the position
// counter, the second the page, bounded to positions up to that value.
// MariaDB builds a statement's read view without stopping commits, so a
// single SELECT can see a transaction that committed while the view was
// being built and miss one that committed just before it: position p+1
// without p. Every transaction up to the counter value the first statement
// saw had finished committing before that statement ended, so the second
// statement, which starts later, sees all of them: a prefix of the log.
// A forward read more than a page behind the last counter value the
// executor read runs against that value first, and reads the counter only
// when that page is not full (then completing it with a third statement
// when the counter has moved). This assumes that the counter never moves
// back while the executor is open: restoring a backup in place, or
// pointing the DSN at a server whose counter is behind, needs the
// executors reopened.
func (x *Executor) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	return x.read(ctx, x.db, q)
}

// read is Read, with the page read through db.
//
// A counter value read earlier stays a valid bound: every append up to it
// had finished committing before that read ended, so before this page's
// statement starts. A bound that is not the latest only makes the page
// stop short of the newest events, and a forward page that comes back
// full (it has a next page) is then exactly the page the latest bound
// would give: every event after the old bound sorts after it. So a forward
// read far enough behind the last counter value read (more than a page
// of positions) first runs against that value, and reads the counter only
// when the page is not full; when the counter has moved, the page is then
// completed with the events after the old value up to the new one. A
// catch-up or a walk through the log reads the counter once per that many
// positions instead of once per page; a read that finds fewer events than
// its page holds that far behind (a sparse filter) costs a third
// statement, which reads only the positions the first did not.
func (x *Executor) read(ctx context.Context, db sqlstore.Querier, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var short *cursor.Page[*evento.Event]
	known := x.horizon.Load()
	if x.behind(&q, known) {
		page, err := x.events.ReadUpTo(ctx, db, &q, known)
		if err != nil {
			return nil, contextCause(ctx, err)
		}
		if page.PageInfo.HasNextPage {
			return page, nil
		}
		short = page
	}
	horizon, err := x.readHorizon(ctx)
	if err != nil {
		return nil, fmt.Errorf("evento: read events: read the position counter: %w", err)
	}
	switch {
	case short != nil && horizon == known:
		return short, nil
	case short != nil && horizon > known:
		return x.complete(ctx, db, q, short, known, horizon)
	}
	page, err := x.events.ReadUpTo(ctx, db, &q, horizon)
	if err != nil {
		return nil, contextCause(ctx, err)
	}
	return page, nil
}

// complete returns short, the page of q read up to position known that was
// not full, with the events of q after known up to horizon added: the page
// read up to horizon, without reading the positions up to known again.
func (x *Executor) complete(ctx context.Context, db sqlstore.Querier, q evento.Query, short *cursor.Page[*evento.Event], known, horizon int64) (*cursor.Page[*evento.Event], error) {
	room := q.Args.Limit() - len(short.Edges)
	rest := q
	rest.Args = cursor.Forward(max(room, 1), cursor.Encode(cursor.Position{Seq: uint64(known)}))
	more, err := x.events.ReadUpTo(ctx, db, &rest, horizon)
	if err != nil {
		return nil, contextCause(ctx, err)
	}
	if room == 0 {
		short.PageInfo.HasNextPage = len(more.Edges) > 0
		return short, nil
	}
	short.Edges = append(short.Edges, more.Edges...)
	short.PageInfo.HasNextPage = more.PageInfo.HasNextPage
	if n := len(short.Edges); n > 0 {
		short.PageInfo.StartCursor, short.PageInfo.EndCursor = short.Edges[0].Cursor, short.Edges[n-1].Cursor
	}
	return short, nil
}

// behind reports whether q is a forward read that starts more than a page
// of positions before known, a counter value read earlier (see read).
func (x *Executor) behind(q *evento.Query, known int64) bool {
	if known <= 0 || q.Args.IsBackward() {
		return false
	}
	var after uint64
	if q.Args.After != "" {
		p, err := cursor.Decode(q.Args.After)
		if err != nil {
			return false // the read reports it
		}
		after = p.Seq
	}
	return after < uint64(known) && uint64(known)-after > uint64(q.Args.Limit())
}

// readHorizon reads the position counter: every position up to the value
// it returns is visible to any statement that starts after it returns.
func (x *Executor) readHorizon(ctx context.Context) (int64, error) {
	var h int64
	if err := x.db.QueryRowContext(ctx, x.stmt.horizon).Scan(&h); err != nil {
		return 0, contextCause(ctx, err)
	}
	for {
		known := x.horizon.Load()
		if h <= known || x.horizon.CompareAndSwap(known, h) {
			return h, nil
		}
	}
}
