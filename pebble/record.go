package pebble

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Records are the values of the event, snapshot and lease tables. Each
// starts with a format byte and continues with fields in a fixed order:
// unsigned integers as uvarints, signed ones as varints, strings and byte
// slices as a uvarint length and the bytes. Decoding checks every length
// against what is left, so a damaged record is an error, never a panic.
const recordFormat = 1

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the fields of a record. The first error sticks; later
// reads return zero values, and err reports it.
type decoder struct {
	b   []byte
	err error
}

// newDecoder checks the format byte of a record.
func newDecoder(what string, b []byte) decoder {
	d := decoder{b: b}
	if len(b) == 0 || b[0] != recordFormat {
		d.fail(what + " record of unknown format")
		return d
	}
	d.b = b[1:]
	return d
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, msg)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int64 reads a uvarint that must fit an int64.
func (d *decoder) int64() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail("integer out of range")
		return 0
	}
	return int64(v)
}

// fixed returns the next n bytes, without copying.
func (d *decoder) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated field")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// bytes returns a length-prefixed field, without copying.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("field longer than its record")
		return nil
	}
	return d.fixed(int(n))
}

// bytesCopy returns a copy of a length-prefixed field, or nil when it is
// empty.
func (d *decoder) bytesCopy() []byte {
	v := d.bytes()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) string() string { return string(d.bytes()) }

// view appends b to buf, whose capacity must hold it, and returns it as a
// string that shares buf's memory, with buf: buf's bytes are never
// written again once viewed.
func view(buf, b []byte) (string, []byte) {
	if len(b) == 0 {
		return "", buf
	}
	n := len(buf)
	buf = append(buf, b...)
	return unsafe.String(&buf[n], len(b)), buf
}

// more reports whether fields are left to read: optional fields at the
// end of a record are decoded only when present.
func (d *decoder) more() bool { return d.err == nil && len(d.b) != 0 }

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
