package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalid is matched (with errors.Is) by every error that reports a cursor
// that is malformed, truncated, of an unknown format or of the wrong kind.
var ErrInvalid = errors.New("cursor: invalid cursor")

// Value is an opaque, URL-safe cursor. The zero value means "from the start"
// (forward) or "from the end" (backward).
type Value string

// MaxLen bounds the length of a cursor accepted by [Decode] and
// [DecodeVector], so that a hostile client cannot make a store decode an
// arbitrarily large string.
const MaxLen = 4096

// Cursor layout, before base64url (no padding):
//
//	byte 0   format version (1)
//	byte 1   kind: kindPosition or kindVector
//	rest     kindPosition: uvarint Tx, uvarint Seq
//	         kindVector:   uvarint n, n × (uvarint Tx, uvarint Seq), uvarint head+1
const (
	formatV1     = 1
	kindPosition = 1
	kindVector   = 2
	// maxVector bounds the member count of a vector cursor.
	maxVector = 64
)

var enc = base64.RawURLEncoding

// Encode returns the cursor for a single store position.
func Encode(p Position) Value {
	b := make([]byte, 2, 2+2*binary.MaxVarintLen64)
	b[0], b[1] = formatV1, kindPosition
	b = binary.AppendUvarint(b, p.Tx)
	b = binary.AppendUvarint(b, p.Seq)
	return Value(enc.EncodeToString(b))
}

// Decode parses a cursor made by [Encode]. The empty cursor decodes to the
// zero position.
func Decode(v Value) (Position, error) {
	if v == "" {
		return Position{}, nil
	}
	r, err := open(v, kindPosition)
	if err != nil {
		return Position{}, err
	}
	p, err := r.position()
	if err != nil {
		return Position{}, err
	}
	if err := r.end(); err != nil {
		return Position{}, err
	}
	return p, nil
}

// Vector is the cursor of a store composed of several member stores.
type Vector struct {
	// Positions holds, per member, the position of the last event consumed
	// from it; the zero position when none was.
	Positions []Position
	// Head is the member whose event the cursor points at, or -1.
	Head int
}

// EncodeVector returns the cursor for v.
func EncodeVector(v Vector) Value {
	b := make([]byte, 2, 2+2*binary.MaxVarintLen64+len(v.Positions)*2*binary.MaxVarintLen64)
	b[0], b[1] = formatV1, kindVector
	b = binary.AppendUvarint(b, uint64(len(v.Positions)))
	for _, p := range v.Positions {
		b = binary.AppendUvarint(b, p.Tx)
		b = binary.AppendUvarint(b, p.Seq)
	}
	b = binary.AppendUvarint(b, uint64(v.Head+1))
	return Value(enc.EncodeToString(b))
}

// DecodeVector parses a cursor made by [EncodeVector] and checks that it
// holds exactly n positions. The empty cursor decodes to n zero positions
// and no head.
func DecodeVector(v Value, n int) (Vector, error) {
	if v == "" {
		return Vector{Positions: make([]Position, n), Head: -1}, nil
	}
	ps, head, err := decodeVector(v, n)
	if err != nil {
		return Vector{}, err
	}
	return Vector{Positions: ps, Head: head}, nil
}

func decodeVector(v Value, n int) ([]Position, int, error) {
	r, err := open(v, kindVector)
	if err != nil {
		return nil, 0, err
	}
	count, err := r.uvarint()
	if err != nil {
		return nil, 0, err
	}
	if count > maxVector || int(count) != n {
		return nil, 0, fmt.Errorf("%w: holds %d positions, want %d", ErrInvalid, count, n)
	}
	ps := make([]Position, n)
	for i := range ps {
		if ps[i], err = r.position(); err != nil {
			return nil, 0, err
		}
	}
	head, err := r.uvarint()
	if err != nil {
		return nil, 0, err
	}
	if head > uint64(n) {
		return nil, 0, fmt.Errorf("%w: head member %d of %d", ErrInvalid, head, n)
	}
	if err := r.end(); err != nil {
		return nil, 0, err
	}
	return ps, int(head) - 1, nil
}

type reader struct{ b []byte }

func open(v Value, kind byte) (*reader, error) {
	if len(v) > MaxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	}
	b, err := enc.DecodeString(string(v))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	if len(b) < 2 || b[0] != formatV1 {
		return nil, fmt.Errorf("%w: unknown format", ErrInvalid)
	}
	if b[1] != kind {
		return nil, fmt.Errorf("%w: cursor of another kind of store", ErrInvalid)
	}
	return &reader{b: b[2:]}, nil
}

func (r *reader) uvarint() (uint64, error) {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: truncated", ErrInvalid)
	}
	r.b = r.b[n:]
	return x, nil
}

func (r *reader) position() (Position, error) {
	tx, err := r.uvarint()
	if err != nil {
		return Position{}, err
	}
	seq, err := r.uvarint()
	if err != nil {
		return Position{}, err
	}
	return Position{Tx: tx, Seq: seq}, nil
}

func (r *reader) end() error {
	if len(r.b) != 0 {
		return fmt.Errorf("%w: trailing bytes", ErrInvalid)
	}
	return nil
}
