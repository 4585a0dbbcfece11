package evento

import (
	"fmt"

	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/internal/metawire"
)

// Metadata describes the request that produced a commit. Every event of a
// commit carries the same metadata.
type Metadata struct {
	// ID identifies the metadata record itself (a ULID string by default).
	ID string `cbor:"1,keyasint,omitempty" json:"id,omitempty"`
	// RequestedBy names who asked for the change, e.g. a user id.
	RequestedBy string `cbor:"2,keyasint,omitempty" json:"requested_by,omitempty"`
	// RequestedAs names the role the requester acted in, e.g. "admin".
	RequestedAs string `cbor:"3,keyasint,omitempty" json:"requested_as,omitempty"`
	// CorrelationID ties together every event caused by one original request.
	CorrelationID string `cbor:"4,keyasint,omitempty" json:"correlation_id,omitempty"`
	// CausationID is the id of the event or command that caused this one.
	CausationID string `cbor:"5,keyasint,omitempty" json:"causation_id,omitempty"`
	// Values holds arbitrary typed values: strings, integers, floats,
	// booleans and byte slices survive a round trip with their type.
	Values map[string]any `cbor:"6,keyasint,omitempty" json:"values,omitempty"`
}

// metadataWire has Metadata's fields without its methods, so that encoding
// it does not recurse into MarshalBinary.
type metadataWire Metadata

// Set stores a typed value under key and returns m for chaining.
func (m Metadata) Set(key string, value any) Metadata {
	if m.Values == nil {
		m.Values = make(map[string]any)
	}
	m.Values[key] = value
	return m
}

// String returns the string stored under key.
func (m Metadata) String(key string) (string, bool) {
	s, ok := m.Values[key].(string)
	return s, ok
}

// Int returns the integer stored under key. Integers come back from storage
// as int64 or uint64 depending on their sign; both are accepted.
func (m Metadata) Int(key string) (int64, bool) {
	switch v := m.Values[key].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case uint64:
		if v <= 1<<63-1 {
			return int64(v), true
		}
	}
	return 0, false
}

// Bool returns the boolean stored under key.
func (m Metadata) Bool(key string) (bool, bool) {
	b, ok := m.Values[key].(bool)
	return b, ok
}

// MarshalBinary encodes the metadata in the store-independent format every
// executor persists (CBOR, whatever the payload codec is).
func (m Metadata) MarshalBinary() ([]byte, error) {
	if m.ID == "" && m.RequestedBy == "" && m.RequestedAs == "" && m.CorrelationID == "" &&
		m.CausationID == "" && len(m.Values) == 0 {
		return nil, nil
	}
	b, err := codec.CBOR().Marshal(metadataWire(m))
	if err != nil {
		return nil, fmt.Errorf("evento: encode metadata: %w", err)
	}
	return b, nil
}

// UnmarshalBinary decodes metadata written by MarshalBinary.
func (m *Metadata) UnmarshalBinary(b []byte) error {
	*m = Metadata{}
	if len(b) == 0 || decodeMetadataStrings(b, m) {
		return nil
	}
	return decodeMetadataCBOR(b, m)
}

// decodeMetadataCBOR decodes metadata with the general CBOR decoder.
func decodeMetadataCBOR(b []byte, m *Metadata) error {
	if err := codec.CBOR().Unmarshal(b, (*metadataWire)(m)); err != nil {
		return fmt.Errorf("%w: metadata: %v", ErrDecode, err)
	}
	return nil
}

// decodeMetadataStrings decodes the usual form of metadata, which every
// read of an event decodes: a CBOR map of string fields only (see
// metawire.Strings). It reports false, leaving m unchanged, for anything
// else, empty input included, which the general decoder then decodes or
// refuses.
func decodeMetadataStrings(b []byte, m *Metadata) bool {
	f, ok := metawire.Strings(b)
	if !ok || len(b) == 0 {
		return false
	}
	s := f.Copy()
	m.ID, m.RequestedBy, m.RequestedAs, m.CorrelationID, m.CausationID = s[0], s[1], s[2], s[3], s[4]
	return true
}
