// Package metawire reads the usual stored form of evento.Metadata without
// allocating, for the root package and for stores that decode metadata on
// every event they read.
package metawire

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// Fields are the string fields of metadata in key order: ID, RequestedBy,
// RequestedAs, CorrelationID, CausationID. A field that is absent or empty
// is nil.
type Fields [5][]byte

// Strings parses the usual form of stored metadata: a CBOR map of at most
// the five string fields, keyed 1 to 5, each once, with UTF-8 text values,
// all of definite length. The fields are views of b. It reports false for
// anything else (values, an unknown key, a duplicate, a tag, trailing
// bytes, ...), which the general CBOR decoder then decodes or refuses; for
// what it accepts, it gives that decoder's result (the root package's
// FuzzMetadataDecode compares the two). Empty input, which stands for no
// metadata, is accepted with no fields.
func Strings(b []byte) (f Fields, ok bool) {
	if len(b) == 0 {
		return f, true
	}
	n, b, ok := head(b, 5)
	if !ok || n > 5 {
		return f, false
	}
	var seen uint8
	for range n {
		var key, size uint64
		if key, b, ok = head(b, 0); !ok || key < 1 || key > 5 || seen&(1<<key) != 0 {
			return f, false
		}
		seen |= 1 << key
		if size, b, ok = head(b, 3); !ok || size > uint64(len(b)) || !utf8.Valid(b[:size]) {
			return f, false
		}
		if size > 0 {
			f[key-1] = b[:size:size]
		}
		b = b[size:]
	}
	return f, len(b) == 0
}

// Len is the total length of the fields.
func (f *Fields) Len() int {
	n := 0
	for _, v := range f {
		n += len(v)
	}
	return n
}

// Copy returns the fields as strings, in the order of Fields, that share
// one allocation: none of them refers to the bytes Strings parsed, and
// decoding a record's metadata costs one allocation instead of one per
// field.
func (f *Fields) Copy() [5]string {
	var out [5]string
	n := f.Len()
	if n == 0 {
		return out
	}
	buf := make([]byte, 0, n)
	for i, v := range f {
		if len(v) == 0 {
			continue
		}
		at := len(buf)
		buf = append(buf, v...)
		out[i] = unsafe.String(&buf[at], len(v))
	}
	return out
}

// head reads the head of a CBOR data item of the given major type and
// returns its argument (a count, a length or an unsigned value) and the
// bytes after the head. It reports false for another major type and for
// indefinite lengths.
func head(b []byte, major byte) (uint64, []byte, bool) {
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
