package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// EventColumns lists the event columns every SQL executor stores, in the
// order [EventReader] selects and scans them.
const EventColumns = "position, id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp"

// Querier runs a query: *sql.DB, *sql.Conn and *sql.Tx all do.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// EventReader answers [evento.Query] values from one events table whose
// global order is a single integer column, position. It suits every engine
// whose positions carry no transaction part (cursor.Position.Tx is zero).
type EventReader struct {
	dialect Dialect
	head    string
}

// NewEventReader returns a reader of the events table named table, which
// must already be quoted.
func NewEventReader(d Dialect, table string) EventReader {
	return EventReader{dialect: d, head: "SELECT " + EventColumns + " FROM " + table}
}

// Read returns one page of the events that match q, in global order.
func (r EventReader) Read(ctx context.Context, db Querier, q *evento.Query) (*cursor.Page[*evento.Event], error) {
	query, args, err := r.Statement(q)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	defer rows.Close()
	events := make([]*evento.Event, 0, min(q.Args.Limit()+1, 1024))
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	return cursor.Build(q.Args, events, (*evento.Event).Cursor), nil
}

// Statement returns the SELECT that fetches the rows of q's page (one more
// than the page size, so that cursor.Build learns whether another page
// exists) and its arguments. The filters are OR-ed, the routing key and the
// keyset condition on position are AND-ed to them; only placeholders carry
// the query's values. It fails with an error wrapping
// [evento.ErrInvalidArgument] or [cursor.ErrInvalidArgs] for a query that
// does not validate, and [cursor.ErrInvalid] for a malformed cursor.
func (r EventReader) Statement(q *evento.Query) (string, []any, error) {
	return positionKeyset.Statement(r.dialect, r.head, q)
}

// positionKeyset orders by the single position column.
var positionKeyset = Keyset{
	Columns: []string{"position"},
	Values: func(p cursor.Position) ([]any, error) {
		seq, err := seqOf(p)
		if err != nil {
			return nil, err
		}
		return []any{seq}, nil
	},
}

// statement accumulates SQL text and its arguments.
type statement struct {
	dialect Dialect
	sql     strings.Builder
	args    []any
	where   bool
}

// and starts the next condition of the WHERE clause.
func (s *statement) and() {
	if s.where {
		s.sql.WriteString(" AND ")
		return
	}
	s.sql.WriteString(" WHERE ")
	s.where = true
}

// arg binds v and writes its placeholder.
func (s *statement) arg(v any) {
	s.args = append(s.args, v)
	s.sql.WriteString(s.dialect.Placeholder(len(s.args)))
}

// seqOf returns the position of a single-counter store. A position with a
// transaction part, or a sequence beyond what an SQL integer holds, comes
// from another kind of store.
func seqOf(p cursor.Position) (int64, error) {
	if p.Tx != 0 || p.Seq > math.MaxInt64 {
		return 0, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	return int64(p.Seq), nil
}

// scanEvent reads one row of [EventColumns].
func scanEvent(rows *sql.Rows) (*evento.Event, error) {
	var (
		e          evento.Event
		position   int64
		routingKey sql.NullString
		metadata   []byte
		timestamp  int64
	)
	if err := rows.Scan(&position, &e.ID, &e.AggregateType, &e.AggregateID, &e.Version, &e.Name,
		&routingKey, &e.Data, &metadata, &timestamp); err != nil {
		return nil, fmt.Errorf("evento: scan event: %w", err)
	}
	if err := e.Metadata.UnmarshalBinary(metadata); err != nil {
		return nil, fmt.Errorf("event %s at position %d: %w", e.ID, position, err)
	}
	e.Position = cursor.Position{Seq: uint64(position)}
	e.RoutingKey = routingKey.String
	e.Timestamp = time.UnixMicro(timestamp).UTC()
	return &e, nil
}
