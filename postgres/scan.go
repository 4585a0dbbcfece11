package postgres

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eventogo/evento"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// rowDecoder decodes the rows of eventColumns from their binary form, the
// one pgx asks for in its default (extended protocol) modes. It reads each
// row's raw values instead of going through rows.Scan, which looks up and
// runs a scan plan per column, and it shares the strings that repeat from
// row to row (aggregate types and event names of a page, the aggregate id
// and routing key of consecutive events of one aggregate) instead of
// allocating each again. The events are the same as scanEvent's. It does
// not consult the pool's type map: codecs a caller registered for these
// types (on a pool passed to New) play no part in reading the store's own
// columns.
type rowDecoder struct {
	// types and names hold the aggregate types and event names met so
	// far, up to maxShared of them.
	types, names map[string]string
	// aggregateID and routingKey are the last row's.
	aggregateID, routingKey string
}

// maxShared bounds the distinct types and names a rowDecoder keeps: a page
// of many names shares only the first ones.
const maxShared = 64

// eventColumnTypes are the types of eventColumns, in order, as the server
// describes them, and whether the decoder needs their binary format (text
// reads the same in both).
var eventColumnTypes = [...]struct {
	oid    uint32
	binary bool
}{
	{pgtype.XID8OID, true},        // tx_id
	{pgtype.Int8OID, true},        // seq
	{pgtype.UUIDOID, true},        // id
	{pgtype.TextOID, false},       // aggregate_type
	{pgtype.TextOID, false},       // aggregate_id
	{pgtype.Int8OID, true},        // version
	{pgtype.TextOID, false},       // name
	{pgtype.TextOID, false},       // routing_key
	{pgtype.ByteaOID, true},       // data
	{pgtype.ByteaOID, true},       // metadata
	{pgtype.TimestamptzOID, true}, // timestamp
}

// decodable reports whether a rowDecoder reads rows of fields: the columns
// of eventColumns, each of its type, in the binary format where the format
// matters. Otherwise (the simple protocol returns text) scanEvent reads
// them.
func decodable(fields []pgconn.FieldDescription) bool {
	if len(fields) != len(eventColumnTypes) {
		return false
	}
	for i, f := range fields {
		want := eventColumnTypes[i]
		if f.DataTypeOID != want.oid || want.binary && f.Format != pgtype.BinaryFormatCode {
			return false
		}
	}
	return true
}

// postgresEpoch is 2000-01-01 00:00:00 UTC in unix seconds: binary
// timestamps count microseconds from it.
const postgresEpoch = 946_684_800

// decode decodes one row's raw values (see decodable).
func (d *rowDecoder) decode(raw [][]byte) (*evento.Event, error) {
	if len(raw) != len(eventColumnTypes) {
		return nil, fmt.Errorf("evento: scan event: %d columns, want %d", len(raw), len(eventColumnTypes))
	}
	tx, ok1 := be64(raw[0])
	seq, ok2 := be64(raw[1])
	version, ok3 := be64(raw[5])
	ts, ok4 := be64(raw[10])
	if !ok1 || !ok2 || !ok3 || !ok4 || len(raw[2]) != 16 || raw[3] == nil || raw[4] == nil || raw[6] == nil {
		return nil, fmt.Errorf("evento: scan event: a NULL or malformed value")
	}
	if int64(ts) == math.MaxInt64 || int64(ts) == math.MinInt64 {
		return nil, fmt.Errorf("evento: scan event: an infinite timestamp")
	}
	e := &evento.Event{Version: int64(version)}
	e.Position.Tx, e.Position.Seq = tx, uint64(int64(seq))
	copy(e.ID[:], raw[2])
	e.AggregateType = shared(&d.types, raw[3])
	if string(raw[4]) != d.aggregateID {
		d.aggregateID = string(raw[4])
	}
	e.AggregateID = d.aggregateID
	e.Name = shared(&d.names, raw[6])
	if raw[7] != nil {
		if string(raw[7]) != d.routingKey {
			d.routingKey = string(raw[7])
		}
		e.RoutingKey = d.routingKey
	}
	if raw[8] != nil {
		e.Data = make([]byte, len(raw[8]))
		copy(e.Data, raw[8])
	}
	// Seconds and microseconds apart: the sum in microseconds overflows
	// for the last years timestamptz holds.
	us := int64(ts)
	e.Timestamp = time.Unix(postgresEpoch+us/1e6, us%1e6*1e3).UTC()
	if err := e.Metadata.UnmarshalBinary(raw[9]); err != nil {
		return nil, fmt.Errorf("event %s at position %s: %w", e.ID, e.Position, err)
	}
	return e, nil
}

// be64 reads an 8-byte big-endian value: int8, xid8 and timestamptz in
// binary form.
func be64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// shared returns b as a string: the one already in *set when there is one,
// else a new one, which *set keeps while it holds fewer than maxShared.
func shared(set *map[string]string, b []byte) string {
	if s, ok := (*set)[string(b)]; ok {
		return s
	}
	s := string(b)
	if *set == nil {
		*set = make(map[string]string)
	}
	if len(*set) < maxShared {
		(*set)[s] = s
	}
	return s
}

// scanEvent reads one row of eventColumns through rows.Scan, whatever the
// format of its values.
func scanEvent(rows pgx.Rows) (*evento.Event, error) {
	var (
		e          evento.Event
		seq        int64
		routingKey *string
		metadata   pgtype.DriverBytes // decoded before the next row, never kept
		timestamp  time.Time
	)
	if err := rows.Scan(&e.Position.Tx, &seq, (*[16]byte)(&e.ID), &e.AggregateType, &e.AggregateID, &e.Version,
		&e.Name, &routingKey, &e.Data, &metadata, &timestamp); err != nil {
		return nil, fmt.Errorf("evento: scan event: %w", err)
	}
	e.Position.Seq = uint64(seq)
	if err := e.Metadata.UnmarshalBinary(metadata); err != nil {
		return nil, fmt.Errorf("event %s at position %s: %w", e.ID, e.Position, err)
	}
	if routingKey != nil {
		e.RoutingKey = *routingKey
	}
	e.Timestamp = timestamp.UTC()
	return &e, nil
}
