package sqlstore

import (
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// eventRow receives the rows of [EventColumns] of one statement with
// fewer allocations than scanning into the event's fields: its scan
// destinations are made once for all rows; the text columns a driver sends
// as bytes (MySQL) become one string for all of them, instead of one each,
// while those it sends as strings (SQLite) are kept as they are; the id
// and the metadata are read from the driver's buffer.
type eventRow struct {
	position, version, timestamp int64
	text                         [4]textColumn // type, id, name, routing key
	buf                          []byte
	id                           sql.RawBytes // copied into the event
	data                         []byte
	metadata                     sql.RawBytes // decoded before the next row, never kept
	// dest holds the scan destinations, made once for every row.
	dest []any
}

// textColumn is one text column of an eventRow: a string of the driver's,
// or the range of the row's buffer that holds it.
type textColumn struct {
	s          string
	start, end int
	inBuf      bool
	null       bool
}

// intColumn scans an integer column into *v: drivers send int64
// (SQLite), integers of other sizes, or the number as text.
type intColumn struct{ v *int64 }

// Scan implements sql.Scanner.
func (c intColumn) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.v = v
	case int32:
		*c.v = int64(v)
	case uint32:
		*c.v = int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Errorf("integer column: %d overflows int64", v)
		}
		*c.v = int64(v)
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("integer column: %w", err)
		}
		*c.v = n
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("integer column: %w", err)
		}
		*c.v = n
	default:
		return fmt.Errorf("integer column holds a %T", src)
	}
	return nil
}

// textScanner scans text column i of row.
type textScanner struct {
	row *eventRow
	i   int
}

// Scan implements sql.Scanner.
func (c *textScanner) Scan(src any) error {
	t := &c.row.text[c.i]
	switch v := src.(type) {
	case string:
		*t = textColumn{s: v}
	case []byte:
		start := len(c.row.buf)
		c.row.buf = append(c.row.buf, v...)
		*t = textColumn{start: start, end: len(c.row.buf), inBuf: true}
	case nil:
		*t = textColumn{null: true}
	default:
		return fmt.Errorf("text column holds a %T", src)
	}
	return nil
}

// scan reads the current row of rows into the eventRow and returns its
// event.
func (r *eventRow) scan(rows *sql.Rows) (*evento.Event, error) {
	if r.dest == nil {
		r.dest = []any{intColumn{&r.position}, &r.id, &textScanner{r, 0}, &textScanner{r, 1},
			intColumn{&r.version}, &textScanner{r, 2}, &textScanner{r, 3}, &r.data, &r.metadata,
			intColumn{&r.timestamp}}
	}
	r.buf = r.buf[:0]
	r.data = nil
	if err := rows.Scan(r.dest...); err != nil {
		return nil, fmt.Errorf("evento: scan event: %w", err)
	}
	var e evento.Event
	if err := e.ID.Scan([]byte(r.id)); err != nil {
		return nil, fmt.Errorf("evento: scan event at position %d: %w", r.position, err)
	}
	e.Data = r.data
	for i := range r.text {
		if r.text[i].null && i < 3 {
			return nil, fmt.Errorf("evento: scan event at position %d: NULL in a NOT NULL column", r.position)
		}
	}
	var joined string
	if len(r.buf) > 0 {
		joined = string(r.buf)
	}
	text := func(t textColumn) string {
		if t.inBuf {
			return joined[t.start:t.end]
		}
		return t.s
	}
	e.AggregateType, e.AggregateID, e.Name, e.RoutingKey = text(r.text[0]), text(r.text[1]), text(r.text[2]), text(r.text[3])
	if err := e.Metadata.UnmarshalBinary(r.metadata); err != nil {
		return nil, fmt.Errorf("event %s at position %d: %w", e.ID, r.position, err)
	}
	e.Version = r.version
	e.Position = cursor.Position{Seq: uint64(r.position)}
	e.Timestamp = time.UnixMicro(r.timestamp).UTC()
	return &e, nil
}
