package evento

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/eventogo/evento/codec"
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
	*m = Metadata{}
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
// read of an event decodes: a CBOR map of at most the five string fields,
// keyed 1 to 5, each once, with UTF-8 text values, all of definite length.
// It reports false, leaving m partly set, for anything else (values, an
// unknown key, a duplicate, a tag, trailing bytes, ...), which the general
// decoder then decodes or refuses; for what it accepts, it gives the
// general decoder's result (FuzzMetadataDecode compares the two).
func decodeMetadataStrings(b []byte, m *Metadata) bool {
	n, b, ok := cborHead(b, 5)
	if !ok || n > 5 {
		return false
	}
	var seen uint8
	for range n {
		var key, size uint64
		if key, b, ok = cborHead(b, 0); !ok || key < 1 || key > 5 || seen&(1<<key) != 0 {
			return false
		}
		seen |= 1 << key
		if size, b, ok = cborHead(b, 3); !ok || size > uint64(len(b)) || !utf8.Valid(b[:size]) {
			return false
		}
		v := string(b[:size])
		b = b[size:]
		switch key {
		case 1:
			m.ID = v
		case 2:
			m.RequestedBy = v
		case 3:
			m.RequestedAs = v
		case 4:
			m.CorrelationID = v
		case 5:
			m.CausationID = v
		}
	}
	return len(b) == 0
}

// cborHead reads the head of a CBOR data item of the given major type and
// returns its argument (a count, a length or an unsigned value) and the
// bytes after the head. It reports false for another major type and for
// indefinite lengths.
func cborHead(b []byte, major byte) (uint64, []byte, bool) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, nil, false
	}
	info, b := b[0]&0x1f, b[1:]
	switch {
	case info < 24:
		return uint64(info), b, true
	case info == 24 && len(b) >= 1:
		return uint64(b[0]), b[1:], true
	case info == 25 && len(b) >= 2:
		return uint64(binary.BigEndian.Uint16(b)), b[2:], true
	case info == 26 && len(b) >= 4:
		return uint64(binary.BigEndian.Uint32(b)), b[4:], true
	case info == 27 && len(b) >= 8:
		return binary.BigEndian.Uint64(b), b[8:], true
	}
	return 0, nil, false
}
