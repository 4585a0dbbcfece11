package pebble

import (
	"encoding/binary"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/metawire"
	"github.com/oklog/ulid/v2"
)

// An event record, the value under e <pos>, holds
//
//	format byte, timestamp (unix µs, varint), routing key,
//	id (16 bytes), aggregate type, aggregate id, version, name,
//	metadata (Metadata.MarshalBinary), data
//
// The position is the key. The fields from the id on form the body, which
// the appending goroutine encodes before its commit is queued; the
// committer only prepends the header it decides: the timestamp and the
// aggregate's routing key.

// appendEventBody encodes the part of e's record that does not depend on
// the store's state.
func appendEventBody(b []byte, e *evento.Event, metadata []byte) []byte {
	b = append(b, e.ID[:]...)
	b = appendStr(b, e.AggregateType)
	b = appendStr(b, e.AggregateID)
	b = binary.AppendUvarint(b, uint64(e.Version))
	b = appendStr(b, e.Name)
	b = appendBytes(b, metadata)
	return appendBytes(b, e.Data)
}

// appendEventRecord encodes a whole record from its header fields and a
// body made by appendEventBody.
func appendEventRecord(b []byte, timestamp int64, routingKey string, body []byte) []byte {
	b = append(b, recordFormat)
	b = binary.AppendVarint(b, timestamp)
	b = appendStr(b, routingKey)
	return append(b, body...)
}

// decodeEvent decodes the record of the event at pos. The event shares no
// memory with v. Its strings (and its metadata's, in the usual form) share
// one allocation of their own and its data another, so that keeping one
// of them keeps neither the payload nor the event alive: three
// allocations per event with the Event.
func decodeEvent(pos uint64, v []byte) (*evento.Event, error) {
	d := newDecoder("event", v)
	timestamp := d.varint()
	routingKey := d.bytes()
	id := d.fixed(len(ulid.ULID{}))
	aggregateType, aggregateID := d.bytes(), d.bytes()
	version := d.int64()
	name := d.bytes()
	metadata := d.bytes()
	data := d.bytes()
	if err := d.end(); err != nil {
		return nil, err
	}
	e := &evento.Event{Position: cursor.Position{Seq: pos}}
	if len(data) > 0 {
		e.Data = make([]byte, len(data))
		copy(e.Data, data)
	}
	e.Timestamp = unixMicro(timestamp)
	copy(e.ID[:], id)
	e.Version = version
	// Metadata of string fields only, its usual form, shares the strings'
	// allocation; any other form goes through the general decoder.
	m, plain := metawire.Strings(metadata)
	n := len(routingKey) + len(aggregateType) + len(aggregateID) + len(name)
	if plain {
		n += m.Len()
	}
	strs := make([]byte, 0, n)
	e.RoutingKey, strs = view(strs, routingKey)
	e.AggregateType, strs = view(strs, aggregateType)
	e.AggregateID, strs = view(strs, aggregateID)
	e.Name, strs = view(strs, name)
	if !plain {
		if err := e.Metadata.UnmarshalBinary(metadata); err != nil {
			return nil, err
		}
		return e, nil
	}
	md := &e.Metadata
	md.ID, strs = view(strs, m[0])
	md.RequestedBy, strs = view(strs, m[1])
	md.RequestedAs, strs = view(strs, m[2])
	md.CorrelationID, strs = view(strs, m[3])
	md.CausationID, _ = view(strs, m[4])
	return e, nil
}

// eventPlace is where a stored event sits: its aggregate and version.
type eventPlace struct {
	aggregateType string
	aggregateID   string
	version       int64
}

// is reports whether the place is e's: same aggregate, same version.
func (p eventPlace) is(e *evento.Event) bool {
	return p.aggregateType == e.AggregateType && p.aggregateID == e.AggregateID && p.version == e.Version
}

// decodeEventPlace reads the aggregate and version of an event record.
func decodeEventPlace(v []byte) (eventPlace, error) {
	d := newDecoder("event", v)
	d.varint()
	d.bytes()
	d.fixed(len(ulid.ULID{}))
	p := eventPlace{aggregateType: d.string(), aggregateID: d.string(), version: d.int64()}
	return p, d.err
}

// decodeRoutingKey reads the routing key of an event record.
func decodeRoutingKey(v []byte) (string, error) {
	d := newDecoder("event", v)
	d.varint()
	k := d.string()
	return k, d.err
}

// unixMicro converts a stored time.
func unixMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }
