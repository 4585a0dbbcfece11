package evento

import (
	"fmt"
	"time"

	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// eventWire is the store-independent encoding of a whole event, used where
// an event is kept outside the log (a parked event, say).
type eventWire struct {
	ID            []byte `cbor:"1,keyasint"`
	AggregateType string `cbor:"2,keyasint"`
	AggregateID   string `cbor:"3,keyasint"`
	Version       int64  `cbor:"4,keyasint"`
	Name          string `cbor:"5,keyasint"`
	RoutingKey    string `cbor:"6,keyasint,omitempty"`
	Data          []byte `cbor:"7,keyasint,omitempty"`
	Metadata      []byte `cbor:"8,keyasint,omitempty"`
	Timestamp     int64  `cbor:"9,keyasint"` // unix µs
	Tx            uint64 `cbor:"10,keyasint,omitempty"`
	Seq           uint64 `cbor:"11,keyasint,omitempty"`
}

// MarshalBinary encodes the whole event (envelope, payload, metadata and
// position) in a store-independent format (CBOR).
func (e *Event) MarshalBinary() ([]byte, error) {
	md, err := e.Metadata.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w := eventWire{
		ID: e.ID[:], AggregateType: e.AggregateType, AggregateID: e.AggregateID, Version: e.Version,
		Name: e.Name, RoutingKey: e.RoutingKey, Data: e.Data, Metadata: md,
		Timestamp: e.Timestamp.UnixMicro(), Tx: e.Position.Tx, Seq: e.Position.Seq,
	}
	b, err := codec.CBOR().Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("evento: encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// UnmarshalBinary decodes an event written by MarshalBinary.
func (e *Event) UnmarshalBinary(b []byte) error {
	var w eventWire
	if err := codec.CBOR().Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: event: %v", ErrDecode, err)
	}
	if len(w.ID) != len(ulid.ULID{}) {
		return fmt.Errorf("%w: event id of %d bytes", ErrDecode, len(w.ID))
	}
	*e = Event{
		AggregateType: w.AggregateType, AggregateID: w.AggregateID, Version: w.Version,
		Name: w.Name, RoutingKey: w.RoutingKey, Data: w.Data,
		Timestamp: time.UnixMicro(w.Timestamp).UTC(),
		Position:  cursor.Position{Tx: w.Tx, Seq: w.Seq},
	}
	copy(e.ID[:], w.ID)
	return e.Metadata.UnmarshalBinary(w.Metadata)
}
