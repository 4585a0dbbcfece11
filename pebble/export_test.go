package pebble

import (
	"context"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
)

// Test hooks into the key layout, for the key encoding tests of package
// pebble_test.
var (
	AppendString = appendString
	AppendUint64 = appendUint64
	PrefixEnd    = prefixEnd
)

// EventKey returns the key of the event at pos under prefix.
func EventKey(prefix string, pos uint64) []byte { return newKeys(prefix).event(pos) }

// TypeIndexKey returns the type index prefix of typ under prefix.
func TypeIndexKey(prefix, typ string) []byte { return newKeys(prefix).typeIndex(typ) }

// AppendGroup queues every commit at once, so that the committer decides
// them in one group, in order, and returns each one's outcome.
func AppendGroup(x *Executor, commits []*evento.Commit) []error {
	reqs := make([]*request, len(commits))
	for i, c := range commits {
		if err := c.Validate(); err != nil {
			panic(err)
		}
		r, err := newRequest(c)
		if err != nil {
			panic(err)
		}
		reqs[i] = r
	}
	q := x.committer.requests
	q.mu.Lock()
	q.items = append(q.items, reqs...)
	q.mu.Unlock()
	q.signal()
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// DecodeRecords runs every record decoder on b, for the fuzz test.
func DecodeRecords(b []byte) {
	decodeEvent(1, b)
	decodeEventPlace(b)
	decodeRoutingKey(b)
	decodeLease(b)
	decodeParkedAt(b)
	decodeDeadLetter(b, &evento.DeadLetter{})
}

// LeaseKey returns the key of the lease record of a subscription key
// under prefix.
func LeaseKey(prefix, key string) []byte { return newKeys(prefix).lease(key) }

// EncodeEventRecord returns the record the committer stores for e.
func EncodeEventRecord(e *evento.Event) []byte {
	metadata, err := e.Metadata.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return appendEventRecord(nil, e.Timestamp.UnixMicro(), e.RoutingKey, appendEventBody(nil, e, metadata))
}

// DecodeEventRecord decodes a record made by EncodeEventRecord.
func DecodeEventRecord(pos uint64, b []byte) (*evento.Event, error) { return decodeEvent(pos, b) }

// DeleteEventRecord removes the record of the event at pos and nothing
// else, leaving the indexes naming it: a damaged store, for tests.
func DeleteEventRecord(x *Executor, pos uint64) error {
	return x.db.Delete(x.keys.event(pos), pebbledb.Sync)
}

// PlanPositions returns every position the plan of a read of q yields,
// from the start of the log in q's direction, loading each one from the
// event table as a read through the plan's indexes does, whether or not
// the event matches q.
func PlanPositions(x *Executor, q evento.Query) ([]uint64, error) {
	r, s, done, err := x.planned(&q)
	defer done()
	if err != nil {
		return nil, err
	}
	var load func(pos uint64) (*evento.Event, error)
	if t, ok := r.tableOf(s); ok {
		load = func(pos uint64) (*evento.Event, error) { return decodeAt(t.it, pos) }
	} else {
		events, err := r.events()
		if err != nil {
			return nil, err
		}
		load = events.load
	}
	start := uint64(1)
	if r.backward {
		start = ^uint64(0)
	}
	var out []uint64
	for ok := s.seek(start); ok; ok = s.next() {
		if _, err := load(s.pos()); err != nil {
			return nil, err
		}
		out = append(out, s.pos())
	}
	return out, s.err()
}

// TableSteps reads one page of q as Read does, up to position last (the
// durable watermark when 0), and returns the page and how many records the
// read reached by walking the event table rather than through q's indexes.
func TableSteps(x *Executor, q evento.Query, last uint64) ([]*evento.Event, int, error) {
	r, s, done, err := x.planned(&q)
	defer done()
	if err != nil {
		return nil, 0, err
	}
	events, err := r.events()
	if err != nil {
		return nil, 0, err
	}
	start, _, err := startPosition(q.Args)
	if err != nil {
		return nil, 0, err
	}
	if last == 0 {
		last = x.committer.durable.Load()
	}
	rows, err := scanIndexed(context.Background(), &q, s, events, min(start, last), last, nil)
	return rows, events.steps, err
}

// Settle flushes x's memtables and compacts its whole key space, so that a
// benchmark that runs next does not share the machine with the
// compactions its setup started.
func Settle(x *Executor) error {
	if err := x.db.Flush(); err != nil {
		return err
	}
	return x.db.Compact(context.Background(), []byte{0}, []byte{0xff, 0xff, 0xff, 0xff}, true)
}

// RoutingIndexKey returns the routing index prefix of a routing key under
// prefix ("" gives the entries layout 1 wrote for unkeyed events).
func RoutingIndexKey(prefix, routingKey string) []byte {
	return newKeys(prefix).routingIndex(routingKey)
}

// LayoutKey returns the key of the layout version under prefix.
func LayoutKey(prefix string) []byte { return newKeys(prefix).layout() }

// ErrCorrupt is wrapped by the errors of keys and records the executor
// cannot have written.
var ErrCorrupt = errCorrupt
