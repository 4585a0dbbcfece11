package pebble

import (
	"encoding/binary"
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"
)

// A stream yields the positions of the events one index holds, in the
// direction of a read: ascending for a forward read, descending for a
// backward one. A read combines streams (union for OR-ed filters,
// intersection for AND-ed conditions) and only loads the events whose
// positions come out.
type stream interface {
	// seek moves to the first position at or beyond p in the direction of
	// travel and reports whether there is one. Seek targets of one read
	// never move backward, so a stream already at or beyond p may stay.
	seek(p uint64) bool
	// next moves past the current position and reports whether there is
	// another.
	next() bool
	// pos is the current position, after seek or next returned true.
	pos() uint64
	// err reports a failure that ended the stream early.
	err() error
}

// beyond reports whether a is at or beyond b in the direction of travel.
func beyond(a, b uint64, backward bool) bool {
	if backward {
		return a <= b
	}
	return a >= b
}

// indexStream reads an index whose keys are a prefix followed by a
// big-endian position: the event table itself, and the type, name and
// routing key indexes.
type indexStream struct {
	it       *pebbledb.Iterator
	prefix   []byte
	backward bool
	cur      uint64
	valid    bool
	e        error
}

func newIndexStream(snap *pebbledb.Snapshot, prefix []byte, backward bool) (*indexStream, error) {
	it, err := snap.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	return &indexStream{it: it, prefix: prefix, backward: backward}, nil
}

func (s *indexStream) seek(p uint64) bool {
	if s.valid && beyond(s.cur, p, s.backward) {
		return true
	}
	switch {
	case !s.backward:
		return s.load(s.it.SeekGE(appendUint64(s.prefix[:len(s.prefix):len(s.prefix)], p)))
	case p == ^uint64(0):
		return s.load(s.it.Last())
	default:
		return s.load(s.it.SeekLT(appendUint64(s.prefix[:len(s.prefix):len(s.prefix)], p+1)))
	}
}

func (s *indexStream) next() bool {
	if s.backward {
		return s.load(s.it.Prev())
	}
	return s.load(s.it.Next())
}

func (s *indexStream) load(valid bool) bool {
	s.valid = false
	if !valid {
		s.e = s.it.Error()
		return false
	}
	s.cur, s.e = positionSuffix(s.it.Key(), s.prefix)
	s.valid = s.e == nil
	return s.valid
}

func (s *indexStream) pos() uint64 { return s.cur }
func (s *indexStream) err() error  { return s.e }
func (s *indexStream) close() error {
	return s.it.Close()
}

// aggregateStream reads the version index of one aggregate, whose keys are
// versions and whose values are positions. Positions ascend with versions,
// so seeking a position is a search over versions: a few steps from the
// current version, then a binary search.
type aggregateStream struct {
	it       *pebbledb.Iterator
	prefix   []byte
	backward bool
	last     uint64 // the aggregate's last version; 0 when it has none
	version  uint64 // the current version
	cur      uint64
	valid    bool
	e        error
}

// aggregateSteps is how many versions seek tries one by one before it
// searches.
const aggregateSteps = 4

func newAggregateStream(snap *pebbledb.Snapshot, prefix []byte, backward bool) (*aggregateStream, error) {
	it, err := snap.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	s := &aggregateStream{it: it, prefix: prefix, backward: backward}
	if it.Last() {
		s.last, s.e = s.versionOf(it.Key())
	} else {
		s.e = it.Error()
	}
	return s, nil
}

func (s *aggregateStream) seek(p uint64) bool {
	if s.e != nil || s.last == 0 {
		return false
	}
	for i := 0; s.valid; i++ {
		if beyond(s.cur, p, s.backward) {
			return true
		}
		if i == aggregateSteps {
			break
		}
		if !s.next() {
			return false
		}
	}
	// Find the first version, in the direction of travel, whose position
	// is at or beyond p, among the versions not yet passed.
	lo, hi := uint64(1), s.last
	if s.valid && !s.backward {
		lo = s.version + 1
	} else if s.valid {
		hi = s.version - 1
	}
	if !s.backward {
		// Smallest version in [lo, hi+1) with position >= p.
		end := hi + 1
		for lo < end {
			mid := lo + (end-lo)/2
			pm, ok := s.positionAt(mid)
			if !ok {
				return false
			}
			if pm >= p {
				end = mid
			} else {
				lo = mid + 1
			}
		}
		return s.at(lo)
	}
	// Largest version in [lo-1, hi] with position <= p; lo-1 = 0 means none.
	start := lo - 1
	for start < hi {
		mid := hi - (hi-start)/2
		pm, ok := s.positionAt(mid)
		if !ok {
			return false
		}
		if pm <= p {
			start = mid
		} else {
			hi = mid - 1
		}
	}
	return s.at(start)
}

// at moves to version v; 0 or a version past the last one ends the stream.
func (s *aggregateStream) at(v uint64) bool {
	if v == 0 || v > s.last {
		s.valid = false
		return false
	}
	return s.load(s.it.SeekGE(appendUint64(s.prefix[:len(s.prefix):len(s.prefix)], v)))
}

// positionAt reads the position of version v.
func (s *aggregateStream) positionAt(v uint64) (uint64, bool) {
	if !s.load(s.it.SeekGE(appendUint64(s.prefix[:len(s.prefix):len(s.prefix)], v))) {
		return 0, false
	}
	if s.version != v {
		s.valid = false
		s.e = fmt.Errorf("%w: version %d missing from a dense aggregate", errCorrupt, v)
		return 0, false
	}
	return s.cur, true
}

func (s *aggregateStream) next() bool {
	if s.backward {
		return s.load(s.it.Prev())
	}
	return s.load(s.it.Next())
}

func (s *aggregateStream) load(valid bool) bool {
	s.valid = false
	if !valid {
		s.e = s.it.Error()
		return false
	}
	if s.version, s.e = s.versionOf(s.it.Key()); s.e != nil {
		return false
	}
	v, err := s.it.ValueAndErr()
	if err != nil || len(v) != 8 {
		s.e = fmt.Errorf("%w: version entry %d: %v", errCorrupt, s.version, err)
		return false
	}
	s.cur = binary.BigEndian.Uint64(v)
	s.valid = true
	return true
}

func (s *aggregateStream) versionOf(key []byte) (uint64, error) {
	return positionSuffix(key, s.prefix)
}

func (s *aggregateStream) pos() uint64 { return s.cur }
func (s *aggregateStream) err() error  { return s.e }
func (s *aggregateStream) close() error {
	return s.it.Close()
}
