package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/cursor"
	"github.com/fxamacker/cbor/v2"
)

// Payload encodings, as the data_encoding field of JSON output names them.
const (
	encodingCBOR   = "cbor"
	encodingJSON   = "json"
	encodingBase64 = "base64"
	encodingNone   = "none"
)

// decodePayload turns payload bytes into a value that encodes as JSON, and
// names the encoding it read them in. The command knows no event type, so
// it decodes generically: CBOR (the default codec) into maps and values,
// else JSON text (codec.JSON), else base64 of the raw bytes.
//
// JSON text of an object or array is taken as JSON before CBOR is tried:
// such text starts with '{' or '[', which CBOR reads as a text string or
// array header that almost never spans exactly the payload, whereas a CBOR
// payload of a struct starts with a map header, which is never JSON.
func decodePayload(data []byte) (any, string) {
	if len(data) == 0 {
		return nil, encodingNone
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return json.RawMessage(t), encodingJSON
	}
	var v any
	err := codec.CBOR().Unmarshal(data, &v)
	if err != nil {
		// The default codec decodes maps with string keys only; payloads
		// of structs with integer keys (`cbor:"1,keyasint"`) need this.
		v = nil
		err = anyKeysCBOR.Unmarshal(data, &v)
	}
	if err == nil {
		// A value JSON cannot write (a CBOR tag holding a NaN, say) is
		// shown as raw bytes rather than failing the whole output.
		if safe, ok := jsonSafe(v, 0); ok {
			if _, err := json.Marshal(safe); err == nil {
				return safe, encodingCBOR
			}
		}
	}
	if json.Valid(data) {
		return json.RawMessage(bytes.TrimSpace(data)), encodingJSON
	}
	return base64.StdEncoding.EncodeToString(data), encodingBase64
}

// anyKeysCBOR decodes CBOR maps of any key type, with the limits of the
// default codec.
var anyKeysCBOR = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  codec.MaxNestedLevels,
		MaxArrayElements: codec.MaxArrayElements,
		MaxMapPairs:      codec.MaxMapPairs,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
	}.DecMode()
	if err != nil {
		panic(err) // constant options; cannot fail
	}
	return dm
}()

// jsonSafe converts a decoded CBOR value into one encoding/json can write:
// maps with non-string keys get their keys printed, NaN and infinities
// become strings, byte strings become base64 (as encoding/json writes
// []byte). It reports false for values too deeply nested to show.
func jsonSafe(v any, depth int) (any, bool) {
	if depth > codec.MaxNestedLevels {
		return nil, false
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			s, ok := jsonSafe(e, depth+1)
			if !ok {
				return nil, false
			}
			x[k] = s
		}
		return x, true
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			s, ok := jsonSafe(e, depth+1)
			if !ok {
				return nil, false
			}
			out[fmt.Sprint(k)] = s
		}
		return out, true
	case []any:
		for i, e := range x {
			s, ok := jsonSafe(e, depth+1)
			if !ok {
				return nil, false
			}
			x[i] = s
		}
		return x, true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x), true
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x), true
		}
	}
	return v, true
}

// eventView is an event as the command prints it in JSON.
type eventView struct {
	Position      string           `json:"position"`
	Cursor        cursor.Value     `json:"cursor"`
	ID            string           `json:"id"`
	AggregateType string           `json:"aggregate_type"`
	AggregateID   string           `json:"aggregate_id"`
	Version       int64            `json:"version"`
	Name          string           `json:"name"`
	RoutingKey    string           `json:"routing_key,omitempty"`
	Timestamp     time.Time        `json:"timestamp"`
	Data          any              `json:"data"`
	DataEncoding  string           `json:"data_encoding"`
	Metadata      *evento.Metadata `json:"metadata,omitempty"`
}

// viewEvent prepares the event of an edge for printing.
func viewEvent(edge cursor.Edge[*evento.Event]) eventView {
	e := edge.Node
	data, enc := decodePayload(e.Data)
	v := eventView{
		Position:      e.Position.String(),
		Cursor:        edge.Cursor,
		ID:            e.ID.String(),
		AggregateType: e.AggregateType,
		AggregateID:   e.AggregateID,
		Version:       e.Version,
		Name:          e.Name,
		RoutingKey:    e.RoutingKey,
		Timestamp:     e.Timestamp,
		Data:          data,
		DataEncoding:  enc,
	}
	if md := e.Metadata; md.ID != "" || md.RequestedBy != "" || md.RequestedAs != "" ||
		md.CorrelationID != "" || md.CausationID != "" || len(md.Values) > 0 {
		if values, ok := jsonSafe(map[string]any(md.Values), 0); ok && md.Values != nil {
			md.Values = values.(map[string]any)
		}
		v.Metadata = &md
	}
	return v
}

// compactJSON renders a view's payload or metadata on one line for a table
// cell.
func compactJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
