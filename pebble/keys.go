package pebble

import (
	"encoding/binary"
	"fmt"
	"regexp"

	"github.com/eventogo/evento"
)

// Key layout. Every key starts with the executor's namespace (the key
// prefix followed by a 0x00 byte, which no prefix contains, so that no
// namespace is a prefix of another), then a one-byte table tag, then the
// table's columns in order-preserving encodings: strings escaped and
// terminated (see appendString), integers as 8 big-endian bytes. Within an
// index, keys of one string value therefore sort by position, and a range
// scan of that value returns events in global order.
const (
	// tagEvent: e <pos> -> event record. Each event is stored once.
	tagEvent byte = 'e'
	// tagType: t <type> <pos> -> empty.
	tagType byte = 't'
	// tagAggregate: a <type> <id> <version> -> pos. Versions of one
	// aggregate are dense and their positions ascend with them, so the last
	// key of an aggregate gives its current version.
	tagAggregate byte = 'a'
	// tagName: n <type> <name> <pos> -> empty.
	tagName byte = 'n'
	// tagRouting: r <routing key> <pos> -> empty. Only the events that have
	// a routing key are indexed (since layout 2; layout 1 also indexed the
	// others, under the empty string, which no routing key can be).
	tagRouting byte = 'r'
	// tagEventID: i <ulid> -> pos. Makes event ids unique.
	tagEventID byte = 'i'
	// tagSnapshot: s <type> <revision> <id> -> snapshot record.
	tagSnapshot byte = 's'
	// tagLease: l <subscription key> -> lease record.
	tagLease byte = 'l'
	// tagDeadLetter: d <subscription key> <parked at> <event id> -> dead
	// letter record. Parked at is signed unix µs (see appendInt64), so the
	// dead letters of a key sort oldest first, then by event id.
	tagDeadLetter byte = 'd'
	// tagParked: D <subscription key> <event id> -> parked at (record).
	// Finds the d key of a parked event; a key parks an event once.
	tagParked byte = 'D'
	// tagMeta: m <name> -> value; holds the layout version.
	tagMeta byte = 'm'
)

// layoutVersion is stored under m "layout". Layout 2 stopped indexing the
// events without a routing key: an executor opening a namespace of layout
// 1 deletes those index entries and records layout 2 (see upgradeLayout).
// A namespace of any other layout is refused, and so is one of layout 2 by
// a build that knows layout 1 only.
const layoutVersion = 2

// DefaultKeyPrefix is the namespace of the executor's keys unless
// [WithKeyPrefix] says otherwise.
const DefaultKeyPrefix = "evento"

var prefixPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// validatePrefix checks a key prefix against the same strict pattern as
// the SQL executors' table prefixes.
func validatePrefix(p string) error {
	if !prefixPattern.MatchString(p) {
		return fmt.Errorf("%w: key prefix %q does not match %s", evento.ErrInvalidArgument, p, prefixPattern)
	}
	return nil
}

// keys builds the keys of one namespace.
type keys struct {
	ns []byte // prefix + 0x00
}

func newKeys(prefix string) keys {
	return keys{ns: append([]byte(prefix), 0)}
}

// table returns the first bytes of every key of a table: namespace and tag.
func (k keys) table(tag byte) []byte {
	b := make([]byte, len(k.ns)+1, len(k.ns)+64)
	copy(b, k.ns)
	b[len(k.ns)] = tag
	return b
}

func (k keys) event(pos uint64) []byte { return appendUint64(k.table(tagEvent), pos) }

// typeIndex is the prefix of the type index entries of an aggregate type.
func (k keys) typeIndex(typ string) []byte { return appendString(k.table(tagType), typ) }

// aggregate is the prefix of the version entries of one aggregate.
func (k keys) aggregate(typ, id string) []byte {
	return appendString(appendString(k.table(tagAggregate), typ), id)
}

// nameIndex is the prefix of the name index entries of a type and a name.
func (k keys) nameIndex(typ, name string) []byte {
	return appendString(appendString(k.table(tagName), typ), name)
}

// routingIndex is the prefix of the routing index entries of a routing
// key; "" gives the entries layout 1 wrote for the events without one.
func (k keys) routingIndex(routingKey string) []byte {
	return appendString(k.table(tagRouting), routingKey)
}

func (k keys) eventID(id [16]byte) []byte { return append(k.table(tagEventID), id[:]...) }

func (k keys) snapshot(key evento.SnapshotKey) []byte {
	return appendString(appendString(appendString(k.table(tagSnapshot), key.AggregateType), key.Revision), key.AggregateID)
}

func (k keys) lease(key string) []byte { return appendString(k.table(tagLease), key) }

// deadLetters is the prefix of the dead letters of a subscription key.
func (k keys) deadLetters(key string) []byte { return appendString(k.table(tagDeadLetter), key) }

func (k keys) deadLetter(key string, parkedAt int64, eventID string) []byte {
	return appendString(appendInt64(k.deadLetters(key), parkedAt), eventID)
}

func (k keys) parked(key, eventID string) []byte {
	return appendString(appendString(k.table(tagParked), key), eventID)
}

func (k keys) layout() []byte { return append(k.table(tagMeta), "layout"...) }

// Escaped string encoding: 0x00 becomes 0x00 0xFF and the string ends with
// 0x00 0x01. It preserves byte order (a < b exactly when enc(a) < enc(b))
// and no encoded string is a prefix of another, so a string column can be
// followed by more columns.
const (
	escape     byte = 0x00
	escapedNul byte = 0xFF
	terminator byte = 0x01
)

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == escape {
			b = append(b, escape, escapedNul)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, escape, terminator)
}

func appendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendInt64 writes v in 8 big-endian bytes with the sign bit flipped, so
// that negative values sort before positive ones.
func appendInt64(b []byte, v int64) []byte { return appendUint64(b, uint64(v)^signBit) }

// readInt64 decodes the first 8 bytes of b, written by appendInt64.
func readInt64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ signBit) }

const signBit = 1 << 63

// positionSuffix reads the big-endian position that ends an index key of
// which prefix is the value part.
func positionSuffix(key, prefix []byte) (uint64, error) {
	if len(key) != len(prefix)+8 {
		return 0, fmt.Errorf("%w: index key of %d bytes under a %d-byte prefix", errCorrupt, len(key), len(prefix))
	}
	return binary.BigEndian.Uint64(key[len(prefix):]), nil
}

// prefixEnd returns the smallest key after every key that starts with p.
// Every prefix the executor scans ends with a terminator or a tag, never
// 0xFF, so incrementing the last byte is enough.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
