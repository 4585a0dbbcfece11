package evento_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/eventogo/evento"
)

func TestMetadataRoundTripKeepsTypes(t *testing.T) {
	in := evento.Metadata{ID: "m1", RequestedBy: "u1", RequestedAs: "admin", CorrelationID: "c1", CausationID: "e0"}.
		Set("attempt", int64(3)).Set("negative", int64(-4)).Set("ip", "10.0.0.1").Set("beta", true).Set("raw", []byte{9})
	_, out := roundTrip(t, in)
	if out.ID != "m1" || out.RequestedBy != "u1" || out.RequestedAs != "admin" || out.CorrelationID != "c1" || out.CausationID != "e0" {
		t.Errorf("fields lost: %+v", out)
	}
	if n, ok := out.Int("attempt"); !ok || n != 3 {
		t.Errorf("attempt = %v %v", n, ok)
	}
	if n, ok := out.Int("negative"); !ok || n != -4 {
		t.Errorf("negative = %v %v", n, ok)
	}
	if s, ok := out.String("ip"); !ok || s != "10.0.0.1" {
		t.Errorf("ip = %v %v", s, ok)
	}
	if v, ok := out.Bool("beta"); !ok || !v {
		t.Errorf("beta = %v %v", v, ok)
	}
	if raw, ok := out.Values["raw"].([]byte); !ok || !bytes.Equal(raw, []byte{9}) {
		t.Errorf("raw = %#v", out.Values["raw"])
	}
}

func TestEmptyMetadataEncodesToNothing(t *testing.T) {
	b, err := evento.Metadata{}.MarshalBinary()
	if err != nil || len(b) != 0 {
		t.Fatalf("empty metadata = %x, %v", b, err)
	}
	var m evento.Metadata
	if err := m.UnmarshalBinary(nil); err != nil || m.ID != "" {
		t.Fatalf("decode empty = %+v, %v", m, err)
	}
}

func FuzzMetadataDecode(f *testing.F) {
	good, _ := evento.Metadata{ID: "x", RequestedBy: "y"}.Set("k", int64(1)).MarshalBinary()
	f.Add(good)
	f.Add([]byte{0xa1, 0x06, 0x9a, 0xff, 0xff, 0xff, 0xff})
	for _, m := range []evento.Metadata{{}, {ID: "01J"}, {ID: "a", RequestedBy: "b", RequestedAs: "c", CorrelationID: "d", CausationID: "é"}} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{0xa2, 0x01, 0x61, 0x61, 0x01, 0x61, 0x62}) // key 1 twice
	f.Add([]byte{0xa1, 0x18, 0x01, 0x61, 0x61})             // key 1 in two bytes
	f.Add([]byte{0xa1, 0x01, 0x79, 0x00, 0x01, 0x61})       // a length in two bytes
	f.Add([]byte{0xa1, 0x01, 0x61, 0xff})                   // not UTF-8
	f.Add([]byte{0xbf, 0x01, 0x61, 0x61, 0xff})             // indefinite map
	f.Add([]byte{0xa1, 0x01, 0x61, 0x61, 0x00})             // trailing byte
	f.Fuzz(func(t *testing.T, b []byte) {
		var m evento.Metadata
		if err := m.UnmarshalBinary(b); err != nil && !errors.Is(err, evento.ErrDecode) {
			t.Fatalf("error %v does not match ErrDecode", err)
		}
		// The fast path for string fields agrees with the general decoder
		// on everything it accepts.
		fast, ok, general, err := evento.DecodeMetadataPaths(b)
		if ok && (err != nil || !reflect.DeepEqual(fast, general)) {
			t.Fatalf("% x: fast path %+v, general decoder %+v, %v", b, fast, general, err)
		}
	})
}

// Decoded metadata shares no memory with its input, which readers reuse
// for the next row (sql.RawBytes, pgtype.DriverBytes): the usual form of
// string fields only, and the general form with values.
func TestMetadataDecodeKeepsNoInput(t *testing.T) {
	for _, in := range []evento.Metadata{
		{ID: "m1", RequestedBy: "user-1", CorrelationID: "c1", CausationID: "e0"},
		evento.Metadata{ID: "m2", RequestedAs: "admin"}.Set("raw", []byte{9, 8}).Set("ip", "10.0.0.1"),
	} {
		b, out := roundTrip(t, in)
		for i := range b {
			b[i] = 0xff
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("after the input was overwritten: %+v, want %+v", out, in)
		}
	}
}

// roundTrip encodes in and decodes the encoding, and returns both.
func roundTrip(t *testing.T, in evento.Metadata) ([]byte, evento.Metadata) {
	t.Helper()
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out evento.Metadata
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return b, out
}
