package codec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eventogo/evento/codec"
)

type payload struct {
	Owner   string
	Amount  int64
	Tags    []string
	Limits  map[string]int64
	Private []byte
}

func TestRoundTrip(t *testing.T) {
	in := payload{Owner: "Alice", Amount: -42, Tags: []string{"a", "b"}, Limits: map[string]int64{"daily": 500}, Private: []byte{1, 2}}
	for _, c := range []codec.Codec{codec.CBOR(), codec.JSON()} {
		b, err := c.Marshal(in)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		var out payload
		if err := c.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		if out.Owner != in.Owner || out.Amount != in.Amount || len(out.Tags) != 2 || out.Limits["daily"] != 500 || !bytes.Equal(out.Private, in.Private) {
			t.Errorf("%s: round trip gave %+v", c.Name(), out)
		}
	}
}

func TestCBORIsCompactAndDeterministic(t *testing.T) {
	in := map[string]int64{"b": 2, "a": 1, "c": 3}
	a, _ := codec.CBOR().Marshal(in)
	b, _ := codec.CBOR().Marshal(map[string]int64{"c": 3, "a": 1, "b": 2})
	j, _ := codec.JSON().Marshal(in)
	if !bytes.Equal(a, b) {
		t.Error("CBOR encoding depends on map order")
	}
	if len(a) >= len(j) {
		t.Errorf("CBOR (%d bytes) not smaller than JSON (%d bytes)", len(a), len(j))
	}
}

func TestCBORDecodeLimits(t *testing.T) {
	// 40 nested arrays: beyond MaxNestedLevels.
	deep := append(bytes.Repeat([]byte{0x81}, 40), 0x01)
	var v any
	if err := codec.CBOR().Unmarshal(deep, &v); err == nil {
		t.Error("deeply nested payload decoded without error")
	}
	// An array header that claims 2^32 elements must fail fast, not allocate.
	huge := []byte{0x9a, 0xff, 0xff, 0xff, 0xff}
	if err := codec.CBOR().Unmarshal(huge, &v); err == nil {
		t.Error("array header of 2^32 elements decoded without error")
	}
	if err := codec.CBOR().Unmarshal([]byte(strings.Repeat("\xff", 3)), &v); err == nil {
		t.Error("garbage decoded without error")
	}
}

func FuzzCBORDecode(f *testing.F) {
	good, _ := codec.CBOR().Marshal(payload{Owner: "Bob", Amount: 7, Tags: []string{"x"}, Limits: map[string]int64{"a": 1}})
	f.Add(good)
	f.Add([]byte{0x9a, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload
		_ = codec.CBOR().Unmarshal(b, &p)
		var v any
		if err := codec.CBOR().Unmarshal(b, &v); err == nil {
			if _, err := codec.CBOR().Marshal(v); err != nil {
				t.Fatalf("decoded value does not re-encode: %v", err)
			}
		}
	})
}
