package sqlstore

import (
	"math"
	"testing"
)

func TestIntColumn(t *testing.T) {
	for _, tc := range []struct {
		src  any
		want int64
		ok   bool
	}{
		{int64(-7), -7, true},
		{int32(12), 12, true},
		{uint32(13), 13, true},
		{uint64(math.MaxInt64), math.MaxInt64, true},
		{uint64(math.MaxInt64) + 1, 0, false},
		{[]byte("1234567890123"), 1234567890123, true},
		{"-42", -42, true},
		{[]byte("12x"), 0, false},
		{nil, 0, false},
		{1.5, 0, false},
	} {
		var v int64
		err := intColumn{&v}.Scan(tc.src)
		if (err == nil) != tc.ok || tc.ok && v != tc.want {
			t.Errorf("Scan(%#v) = %d, %v; want %d (ok %v)", tc.src, v, err, tc.want, tc.ok)
		}
	}
}

// Text a driver sends as bytes is copied out of its buffer, which the
// driver reuses; strings are kept; NULL is marked.
func TestTextScanner(t *testing.T) {
	var r eventRow
	src := []byte("Order")
	if err := (&textScanner{&r, 0}).Scan(src); err != nil {
		t.Fatal(err)
	}
	copy(src, "XXXXX") // the driver reuses its buffer
	if err := (&textScanner{&r, 1}).Scan("o-1"); err != nil {
		t.Fatal(err)
	}
	if err := (&textScanner{&r, 2}).Scan([]byte("Placed")); err != nil {
		t.Fatal(err)
	}
	if err := (&textScanner{&r, 3}).Scan(nil); err != nil {
		t.Fatal(err)
	}
	if string(r.buf[r.text[0].start:r.text[0].end]) != "Order" || r.text[1].s != "o-1" ||
		string(r.buf[r.text[2].start:r.text[2].end]) != "Placed" || !r.text[3].null {
		t.Errorf("scanned %+v, buffer %q", r.text, r.buf)
	}
	if err := (&textScanner{&r, 0}).Scan(3); err == nil {
		t.Error("an integer scanned as text")
	}
}
