package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore"
	"github.com/oklog/ulid/v2"
)

// Append writes the events of c atomically and on success sets Position,
// RoutingKey and Timestamp (to the stored microsecond, or to now when it was
// zero) on each of them.
//
// It reads the aggregate's version before it takes the position counter,
// so that a stale commit fails without making other writers wait; the
// UNIQUE(aggregate_type, aggregate_id, version) key catches a writer that
// got there in between. A commit that creates its aggregate (expected
// version 0) skips the read: the key refuses its first event when the
// aggregate has events, and the commit is then written again with the
// read, which tells why. Then, in one transaction, it moves the counter on
// by the number of events (which locks the counter row until COMMIT),
// inserts the events with one multi-row INSERT and commits: three
// statements hold the counter. See the package documentation for why
// positions then follow commit order.
//
// Appends of one executor that arrive while another is being written are
// grouped (group commit): the next transaction checks each queued commit's
// version the same way, then moves the counter once for all of them and
// inserts their events together, so the counter is held once for several
// commits. Each commit keeps its own outcome: a stale one is refused
// alone, and when the shared INSERT hits a duplicate key (another writer
// took a version in between, a retried commit, a reused id) the
// transaction is rolled back and its commits are written one by one.
//
// A commit whose events are already stored, such as a retry after an
// unknown outcome, fails with an error matching evento.ErrAlreadyAppended;
// nothing is stored twice. A context done before the commit's transaction
// starts withdraws it; a transaction shared by several appenders is
// cancelled only when all of them have given up; once COMMIT starts it is
// not interrupted.
func (x *Executor) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return x.queue.Wait(x.queue.Add(ctx, c), x.turns, x.writeBatch, nil)
}

// appendOne writes c in a transaction of its own.
func (x *Executor) appendOne(ctx context.Context, c *evento.Commit) error {
	p, err := x.begin(ctx, c)
	if err != nil {
		return err
	}
	return p.commit(ctx)
}

// pendingAppend is an append whose events are inserted and whose
// transaction is still open: it holds the counter row's lock until commit
// or rollback.
type pendingAppend struct {
	x          *Executor
	conn       *sql.Conn
	c          *evento.Commit
	routingKey string
	first      int64
	timestamps []int64
}

// begin runs an append up to, and not including, its COMMIT.
func (x *Executor) begin(ctx context.Context, c *evento.Commit) (*pendingAppend, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// A commit that creates its aggregate first goes without the version
	// read (see write); when that fails (its INSERT finds a duplicate key,
	// say) it is written again with the read, which answers as always.
	creates := c.ExpectedVersion == 0
	for {
		conn, err := x.db.Conn(ctx)
		if err != nil {
			return nil, appendError(ctx, c, "", err)
		}
		p, err := x.write(ctx, conn, c, creates)
		if err == nil {
			return p, nil
		}
		conn.Close()
		if !creates {
			return nil, err
		}
		creates = false
	}
}

// write checks the aggregate's version, then opens the transaction that
// reserves the positions and inserts the events.
//
// A commit that creates its aggregate (expected version 0) may skip the
// check (creates): versions are dense from 1, so its first event's version
// is free exactly when the aggregate has no event, and the unique version
// key checks that as the INSERT runs. When write then fails (a duplicate
// key, a commit too large, ...), begin writes the commit again with the
// check, which answers as always: a conflict or a retry when the aggregate
// exists, else the failure itself.
func (x *Executor) write(ctx context.Context, conn *sql.Conn, c *evento.Commit, creates bool) (*pendingAppend, error) {
	routingKey := sql.NullString{String: c.RoutingKey, Valid: c.RoutingKey != ""}
	if !creates {
		// In autocommit mode, so that the transaction below makes no
		// consistent read: its first statement is the counter's locking
		// UPDATE. (A consistent read first would open a read view, and
		// under MariaDB's innodb_snapshot_isolation the UPDATE would then
		// fail with "record has changed since last read" whenever it had
		// to wait.)
		current, key, err := x.aggregateState(ctx, conn, c)
		if err != nil {
			return nil, appendError(ctx, c, "read version", err)
		}
		if current != c.ExpectedVersion {
			return nil, x.versionConflict(ctx, conn, c, current)
		}
		if current != 0 {
			routingKey = key
		}
	}
	rows, err := x.encode(c, routingKey)
	if err != nil {
		return nil, err
	}

	if _, err := conn.ExecContext(ctx, "START TRANSACTION"); err != nil {
		sqlstore.Rollback(ctx, conn)
		return nil, appendError(ctx, c, "begin", err)
	}
	first, err := x.reservePositions(ctx, conn, len(c.Events))
	if err != nil {
		sqlstore.Rollback(ctx, conn)
		return nil, appendError(ctx, c, "reserve positions", err)
	}
	if err := x.insert(ctx, conn, rows, first); err != nil {
		// Roll back first: the counter stays locked until then.
		sqlstore.Rollback(ctx, conn)
		switch {
		case creates:
			return nil, err // written again with the read: see begin
		case isDuplicateKey(err):
			// On the pool: the rollback may have discarded conn.
			return nil, x.duplicate(ctx, x.db, c, first)
		case isPacketTooLarge(err):
			return nil, fmt.Errorf("%w: append to %s/%s: %v", evento.ErrPayloadTooLarge, c.AggregateType, c.AggregateID, err)
		}
		return nil, appendError(ctx, c, "insert", err)
	}
	return &pendingAppend{
		x:          x,
		conn:       conn,
		c:          c,
		routingKey: routingKey.String,
		first:      first,
		timestamps: rows.timestamps,
	}, nil
}

// commit commits the append, releasing the counter, and completes the
// commit's events.
func (p *pendingAppend) commit(ctx context.Context) error {
	defer p.conn.Close()
	if _, err := p.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		sqlstore.Rollback(ctx, p.conn)
		return commitError(p.c, err)
	}
	for i, e := range p.c.Events {
		e.Position = cursor.Position{Seq: uint64(p.first + int64(i))}
		e.RoutingKey = p.routingKey
		e.Timestamp = time.UnixMicro(p.timestamps[i]).UTC()
	}
	p.x.wake.Fire()
	return nil
}

// commitError reports a failed COMMIT of c, whose outcome is unknown.
func commitError(c *evento.Commit, err error) error {
	return fmt.Errorf("evento: append to %s/%s: commit: %w (when the server did not answer, the commit may be stored:"+
		" appending it again reports evento.ErrAlreadyAppended if so)", c.AggregateType, c.AggregateID, err)
}

// rollback abandons the append, releasing the counter.
func (p *pendingAppend) rollback(ctx context.Context) {
	sqlstore.Rollback(ctx, p.conn)
	p.conn.Close()
}

// appendError wraps err with the commit's aggregate and the failed step.
func appendError(ctx context.Context, c *evento.Commit, step string, err error) error {
	err = contextCause(ctx, err)
	if step == "" {
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	}
	return fmt.Errorf("evento: append to %s/%s: %s: %w", c.AggregateType, c.AggregateID, step, err)
}

// querier runs the reads of an append outside its transaction: *sql.Conn
// and *sql.DB do.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// aggregateState reads the aggregate's current version (0 when it has no
// events) and routing key.
func (x *Executor) aggregateState(ctx context.Context, db querier, c *evento.Commit) (int64, sql.NullString, error) {
	var (
		current    int64
		routingKey sql.NullString
	)
	err := db.QueryRowContext(ctx, x.stmt.aggregateState, c.AggregateType, c.AggregateID).Scan(&current, &routingKey)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, sql.NullString{}, nil
	}
	return current, routingKey, err
}

// reservePositions moves the counter on by n inside the open transaction
// and returns the first of the n positions it reserved. The counter row
// stays locked until the transaction ends, so the next writer's positions
// come after these and it cannot commit before this transaction does; a
// rollback restores the counter, so no position is skipped.
func (x *Executor) reservePositions(ctx context.Context, conn *sql.Conn, n int) (int64, error) {
	// n is a count of at most evento.MaxCommitEvents, formatted by
	// strconv: a bind parameter would cost a prepare while the counter is
	// locked, when the DSN does not interpolate parameters.
	res, err := conn.ExecContext(ctx, x.stmt.reservePositions+strconv.Itoa(n)+") WHERE id = 1")
	if err != nil {
		return 0, err
	}
	changed, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if changed != 1 {
		return 0, errors.New("the position counter row is missing")
	}
	last, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return last - int64(n) + 1, nil
}

// eventRows holds the INSERT arguments of a commit's events, encoded before
// the counter is locked: only the positions are filled in under the lock.
type eventRows struct {
	// args holds eventInsertColumns arguments per event; the first of
	// each row is its position.
	args       []any
	timestamps []int64
	// ends holds, for each INSERT statement, the index of the event after
	// its last, and sizes its size in bytes (as rowSize bounds it).
	ends  []int
	sizes []int
}

// maxRowsPerInsert bounds the rows of one INSERT so that its placeholders
// stay below the 65,535 a server-side prepared statement allows.
const maxRowsPerInsert = 6000

// encode prepares the INSERT arguments of c's events and splits them into
// statements that each stay below max_allowed_packet. An ordinary commit
// is one statement.
func (x *Executor) encode(c *evento.Commit, routingKey sql.NullString) (eventRows, error) {
	rows := eventRows{
		args:       make([]any, 0, len(c.Events)*eventInsertColumns),
		timestamps: make([]int64, len(c.Events)),
	}
	now := time.Now().UnixMicro()
	size, count := 0, 0
	for i, e := range c.Events {
		metadata, err := e.Metadata.MarshalBinary()
		if err != nil {
			return eventRows{}, err
		}
		rows.timestamps[i] = now
		if !e.Timestamp.IsZero() {
			rows.timestamps[i] = e.Timestamp.UnixMicro()
		}
		row := rowSize(c, e, routingKey.String, metadata)
		if row > x.maxStatement {
			return eventRows{}, fmt.Errorf("%w: event %d of %s/%s takes %d bytes in an INSERT; the server's max_allowed_packet admits %d",
				evento.ErrPayloadTooLarge, i, c.AggregateType, c.AggregateID, row, x.maxStatement)
		}
		if count > 0 && (size+row > x.maxStatement || count == maxRowsPerInsert) {
			rows.ends = append(rows.ends, i)
			rows.sizes = append(rows.sizes, size)
			size, count = 0, 0
		}
		size += row
		count++
		rows.args = append(rows.args, nil, e.ID[:], c.AggregateType, c.AggregateID, e.Version, e.Name,
			routingKey, e.Data, metadata, rows.timestamps[i])
	}
	rows.ends = append(rows.ends, len(c.Events))
	rows.sizes = append(rows.sizes, size)
	return rows, nil
}

// mergeRows joins the rows of several commits, in order, into as few
// INSERT statements as the limits of encode allow.
func mergeRows(parts []eventRows, maxStatement int) eventRows {
	var (
		m           eventRows
		base        int // events of the parts before this one
		count, size int // of the statement being filled
	)
	for _, p := range parts {
		m.args = append(m.args, p.args...)
		m.timestamps = append(m.timestamps, p.timestamps...)
		start := 0
		for k, end := range p.ends {
			n := end - start
			if count > 0 && (size+p.sizes[k] > maxStatement || count+n > maxRowsPerInsert) {
				m.ends = append(m.ends, base+start)
				m.sizes = append(m.sizes, size)
				count, size = 0, 0
			}
			count += n
			size += p.sizes[k]
			start = end
		}
		base += len(p.timestamps)
	}
	if count > 0 {
		m.ends = append(m.ends, base)
		m.sizes = append(m.sizes, size)
	}
	return m
}

// rowSize bounds the bytes one event row takes in an INSERT whose
// parameters the driver interpolates: quoted and escaped values, numbers,
// separators. Without interpolation (server-side prepared statements) rows
// take less.
func rowSize(c *evento.Commit, e *evento.Event, routingKey string, metadata []byte) int {
	const numbersAndPunctuation = 128
	names := len(c.AggregateType) + len(c.AggregateID) + len(e.Name) + len(routingKey)
	return numbersAndPunctuation + 2*(len(e.ID)+names) + escapedLen(e.Data) + escapedLen(metadata)
}

// escapedLen is the length of b once the driver quotes it into a
// statement: with backslash escaping (the server default), NUL, newline,
// carriage return, backslash, both quotes and Ctrl-Z take two bytes; with
// NO_BACKSLASH_ESCAPES only the single quote does.
func escapedLen(b []byte) int {
	n := len(b)
	for _, c := range []byte{0, '\n', '\r', '\\', '\'', '"', 0x1a} {
		n += bytes.Count(b, []byte{c})
	}
	return n
}

// insert fills in the positions from first on and runs the INSERT
// statements, inside the open transaction.
func (x *Executor) insert(ctx context.Context, conn *sql.Conn, rows eventRows, first int64) error {
	for i := range rows.timestamps {
		rows.args[i*eventInsertColumns] = first + int64(i)
	}
	start := 0
	for _, end := range rows.ends {
		n := end - start
		query := x.stmt.insertEvents + strings.Repeat(insertEventRow+", ", n-1) + insertEventRow
		if _, err := conn.ExecContext(ctx, query, rows.args[start*eventInsertColumns:end*eventInsertColumns]...); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// versionConflict explains why the aggregate is not at the commit's
// expected version: this very commit was stored before (a retry), or
// another writer moved the aggregate on.
func (x *Executor) versionConflict(ctx context.Context, db querier, c *evento.Commit, current int64) error {
	first := c.Events[0]
	owners, err := x.eventOwners(ctx, db, c.Events[:1])
	if err != nil {
		return appendError(ctx, c, "", err)
	}
	if o, ok := owners[first.ID]; ok && o.is(first) {
		return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
			evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, first.ID, first.Version)
	}
	return fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
}

// duplicate explains the duplicate key that the INSERT hit, once the
// transaction is rolled back. The server names the key only in its message
// text, so duplicate reads the stored rows instead: the commit is already
// stored (a retry), one of its ids is taken, or another writer took its
// versions after the version check. The primary key, position, can only
// collide when the counter was set back behind the events table.
func (x *Executor) duplicate(ctx context.Context, db querier, c *evento.Commit, first int64) error {
	owners, err := x.eventOwners(ctx, db, c.Events)
	if err != nil {
		return appendError(ctx, c, "", err)
	}
	if e := c.Events[0]; owners[e.ID].is(e) {
		return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
			evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, e.ID, e.Version)
	}
	for _, e := range c.Events {
		if o, ok := owners[e.ID]; ok {
			return fmt.Errorf("%w: event id %s of %s/%s version %d is already used by %s/%s version %d",
				evento.ErrInvalidArgument, e.ID, c.AggregateType, c.AggregateID, e.Version,
				o.aggregateType, o.aggregateID, o.version)
		}
	}
	current, _, err := x.aggregateState(ctx, db, c)
	if err != nil {
		return appendError(ctx, c, "read version", err)
	}
	if current != c.ExpectedVersion {
		return fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
			evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
	}
	return fmt.Errorf("evento: append to %s/%s: positions from %d on are already taken: the position counter is behind the events table",
		c.AggregateType, c.AggregateID, first)
}

// eventOwner is where a stored event id sits.
type eventOwner struct {
	aggregateType string
	aggregateID   string
	version       int64
}

// is reports whether the stored event is e's place: same aggregate, same
// version.
func (o eventOwner) is(e *evento.Event) bool {
	return o.aggregateType == e.AggregateType && o.aggregateID == e.AggregateID && o.version == e.Version
}

// eventOwners returns where the events' ids are stored, for those that are.
func (x *Executor) eventOwners(ctx context.Context, db querier, events []*evento.Event) (map[ulid.ULID]eventOwner, error) {
	ids := make([]any, len(events))
	for i, e := range events {
		ids[i] = e.ID[:]
	}
	rows, err := db.QueryContext(ctx, x.stmt.eventOwners+placeholders(len(ids)), ids...)
	if err != nil {
		return nil, fmt.Errorf("read event ids: %w", err)
	}
	defer rows.Close()
	owners := make(map[ulid.ULID]eventOwner)
	for rows.Next() {
		var (
			id ulid.ULID
			o  eventOwner
		)
		if err := rows.Scan(&id, &o.aggregateType, &o.aggregateID, &o.version); err != nil {
			return nil, fmt.Errorf("read event ids: %w", err)
		}
		owners[id] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event ids: %w", err)
	}
	return owners, nil
}
