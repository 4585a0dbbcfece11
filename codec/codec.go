// Package codec turns event payloads and snapshot states into bytes and back.
//
// The default is [CBOR]: compact, schema-free, and decoded with limits on
// nesting depth, array length and map size, so that a corrupt or hostile
// payload cannot exhaust memory. [JSON] trades size for readability.
package codec

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Codec encodes and decodes payloads. Implementations must be safe for
// concurrent use.
type Codec interface {
	// Name identifies the codec in errors and diagnostics, e.g. "cbor".
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// Decode limits of the CBOR codec. They bound the work and memory one payload
// can cost; real event payloads stay far below them.
const (
	MaxNestedLevels  = 32
	MaxArrayElements = 1 << 16
	MaxMapPairs      = 1 << 16
)

type cborCodec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

// CBOR returns the default codec: RFC 8949 CBOR with deterministic (core
// deterministic) encoding and bounded decoding.
func CBOR() Codec { return defaultCBOR }

var defaultCBOR = newCBOR()

func newCBOR() Codec {
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("codec: cbor encoder options: %v", err)) // constant options; cannot fail
	}
	dec, err := cbor.DecOptions{
		MaxNestedLevels:  MaxNestedLevels,
		MaxArrayElements: MaxArrayElements,
		MaxMapPairs:      MaxMapPairs,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		// Decode untyped maps with string keys so they round-trip through JSON.
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
		// Decoded values share no memory with the input (the library copies
		// byte and text strings): the SQL readers decode metadata from the
		// driver's row buffer, which the next row reuses. Options that keep
		// raw input (cbor.RawMessage, registered raw tags) would break them.
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("codec: cbor decoder options: %v", err)) // constant options; cannot fail
	}
	return &cborCodec{enc: enc, dec: dec}
}

func (c *cborCodec) Name() string                       { return "cbor" }
func (c *cborCodec) Marshal(v any) ([]byte, error)      { return c.enc.Marshal(v) }
func (c *cborCodec) Unmarshal(data []byte, v any) error { return c.dec.Unmarshal(data, v) }

type jsonCodec struct{}

// JSON returns a codec that stores payloads as JSON text.
func JSON() Codec { return jsonCodec{} }

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
