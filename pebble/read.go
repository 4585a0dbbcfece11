package pebble

import (
	"bytes"
	"context"
	"fmt"
	"math"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/filter"
)

// Read returns one page of the events that match q, in global order. It
// reads from one Pebble snapshot, so every index it merges shows the same
// prefix of the log, and it stops at the last durable position. A
// malformed cursor, or a cursor of another kind of store, fails with an
// error matching cursor.ErrInvalid.
func (x *Executor) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start, ok, err := startPosition(q.Args)
	if err != nil {
		return nil, err
	}
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	limit := q.Args.Limit()
	rows := make([]*evento.Event, 0, min(limit+1, 1024))
	// Positions past the durable watermark may already be in the
	// database, but a crash could still take them back: read up to the
	// watermark only, taken before the snapshot so that the snapshot holds
	// every position up to it.
	last := x.committer.durable.Load()
	if q.Args.IsBackward() {
		start = min(start, last)
	}
	if ok && start >= 1 && start <= last {
		if rows, err = x.scan(ctx, &q, start, last, rows); err != nil {
			return nil, err
		}
	}
	return cursor.Build(q.Args, rows, (*evento.Event).Cursor), nil
}

// startPosition returns where a read starts: just after After, or just
// before Before (the last position when Before is empty). It reports false
// when no position can follow the cursor.
func startPosition(args cursor.Args) (uint64, bool, error) {
	if args.IsBackward() {
		if args.Before == "" {
			return math.MaxUint64, true, nil
		}
		before, err := decodeSeq(args.Before)
		return before - 1, err == nil && before > 0, err
	}
	after, err := decodeSeq(args.After)
	return after + 1, err == nil && after < math.MaxUint64, err
}

// decodeSeq decodes a cursor of this store. A cursor with a transaction
// part comes from another kind of store.
func decodeSeq(v cursor.Value) (uint64, error) {
	p, err := cursor.Decode(v)
	if err != nil {
		return 0, err
	}
	if p.Tx != 0 {
		return 0, fmt.Errorf("%w: position %s is not a position of this store", cursor.ErrInvalid, p)
	}
	return p.Seq, nil
}

// scan appends to rows, from start in the read's direction and up to the
// position last, the events that match q, up to one more than the page
// size.
func (x *Executor) scan(ctx context.Context, q *evento.Query, start, last uint64, rows []*evento.Event) ([]*evento.Event, error) {
	r, s, done, err := x.planned(q)
	defer done()
	if err == nil {
		if t, ok := r.tableOf(s); ok {
			rows, err = scanTable(ctx, q, t, start, last, rows)
		} else {
			var events *eventLoader
			if events, err = r.events(); err == nil {
				rows, err = scanIndexed(ctx, q, s, events, start, last, rows)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	return rows, nil
}

// planned opens a snapshot and a reader on it, and plans q there. It
// returns the function that closes them, to call whatever the error.
func (x *Executor) planned(q *evento.Query) (*reader, stream, func(), error) {
	snap := x.db.NewSnapshot()
	r := &reader{snap: snap, keys: x.keys, backward: q.Args.IsBackward()}
	done := func() {
		r.close()
		snap.Close()
	}
	s, err := r.plan(q)
	return r, s, done, err
}

// scanTable is scan over the event table itself: a read without filters
// or routing key, or of the events without a routing key, which no index
// holds (q.Match skips the keyed ones).
func scanTable(ctx context.Context, q *evento.Query, t *indexStream, start, last uint64, rows []*evento.Event) ([]*evento.Event, error) {
	limit := q.Args.Limit()
	for ok, n := t.seek(start), 0; ok && t.pos() <= last && len(rows) <= limit; ok, n = t.next(), n+1 {
		if n%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e, err := decodeAt(t.it, t.pos())
		if err != nil {
			return nil, err
		}
		if q.Match(e) {
			rows = append(rows, e)
		}
	}
	return rows, t.err()
}

// A read through indexes walks the event table instead while the events
// it selects lie next to each other (a subscription of the one type that
// most of the log holds, say): stepping the table to the next record and
// checking q.Match there costs less than stepping the index as well. It
// starts doing so once denseRun+1 positions in a row from the index follow
// each other, and goes back to the index as soon as the
// events that did not match cost more than the index steps saved (an event
// decoded for nothing costs about missCost index steps; the savings count
// up to maxCredit, so that a walk gives up soon once the events grow
// sparse); each such return doubles the run it takes to start again, up to
// maxDenseRun, until a walk pays off with denseProof matches.
const (
	denseRun    = 8
	maxDenseRun = 1024
	missCost    = 3
	maxCredit   = 16
	denseProof  = 64
)

// scanIndexed is scan over the plan s, loading the events it names with
// events, or walking events' table while they lie together (see
// denseRun). The index and the table walk select the same events: both
// keep only those that q.Match accepts, and every such event is in the
// plan's indexes, which the committer writes in the event's own batch.
// While it walks the table, a read does not notice an index entry whose
// event record is missing, as loading through the index does.
func scanIndexed(ctx context.Context, q *evento.Query, s stream, events *eventLoader, start, last uint64, rows []*evento.Event) ([]*evento.Event, error) {
	limit := q.Args.Limit()
	backward := q.Args.IsBackward()
	var (
		dense   bool
		need    = denseRun // adjacent positions in a row that start a table walk
		run     int        // adjacent positions in a row the index yielded
		credit  int        // a table walk's matches, less missCost per miss
		matched int        // a table walk's matches
		prev    uint64     // the position examined last
		ok      = s.seek(start)
	)
	for n := 0; len(rows) <= limit; n++ {
		if n%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var (
			pos uint64
			e   *evento.Event
			err error
		)
		if dense {
			if pos, ok, err = events.step(backward); err != nil {
				return nil, err
			}
			if !ok || pos > last {
				return rows, nil
			}
			e, err = decodeAt(events.it, pos)
		} else {
			if !ok || s.pos() > last {
				break
			}
			pos = s.pos()
			e, err = events.load(pos)
		}
		if err != nil {
			return nil, err
		}
		match := q.Match(e)
		if match {
			rows = append(rows, e)
		}
		switch {
		case dense && match:
			credit, matched = min(credit+1, maxCredit), matched+1
			if matched == denseProof {
				need = denseRun
			}
		case dense:
			if credit -= missCost; credit < 0 {
				// Back to the index, from the position after this one.
				dense, run = false, 0
				if matched < denseProof {
					need = min(2*need, maxDenseRun)
				}
				next := after(pos, backward)
				ok = next != 0 && s.seek(next)
			}
		default:
			if n > 0 && pos == after(prev, backward) {
				run++
			} else {
				run = 0
			}
			if run >= need {
				dense, credit, matched = true, 0, 0
			} else {
				ok = s.next()
			}
		}
		prev = pos
	}
	return rows, s.err()
}

// reader builds the streams of one read on one snapshot and closes them.
type reader struct {
	snap     *pebbledb.Snapshot
	keys     keys
	backward bool
	closers  []interface{ close() error }
}

func (r *reader) close() {
	for _, c := range r.closers {
		c.close()
	}
}

// plan returns the stream of the positions that match q: the union of a
// stream per filter (the event table when there is none), intersected with
// the routing key index when q names a key. A read of the events without a
// key walks the filters' streams, or the event table, and the scan skips
// the keyed events it loads (q.Match): the routing key index holds only
// keyed events.
func (r *reader) plan(q *evento.Query) (stream, error) {
	var s stream
	if filters := filter.Simplify(q.Filters); len(filters) > 0 {
		streams := make([]stream, len(filters))
		for i, f := range filters {
			var err error
			if streams[i], err = r.filter(f); err != nil {
				return nil, err
			}
		}
		s = streams[0]
		if len(streams) > 1 {
			s = newUnion(streams, r.backward)
		}
	}
	if routing, ok := q.RoutingKey.Value(); ok {
		rs, err := r.index(r.keys.routingIndex(routing))
		if err != nil {
			return nil, err
		}
		if s == nil {
			return rs, nil
		}
		return &intersection{a: s, b: rs}, nil
	}
	if s == nil {
		return r.index(r.keys.table(tagEvent))
	}
	return s, nil
}

// tableOf returns s as the stream of the event table itself, when it is.
func (r *reader) tableOf(s stream) (*indexStream, bool) {
	t, ok := s.(*indexStream)
	return t, ok && string(t.prefix) == string(r.keys.table(tagEvent))
}

// filter returns the stream of one filter's index.
func (r *reader) filter(f evento.Filter) (stream, error) {
	switch {
	case f.AggregateID == "" && f.Name == "":
		return r.index(r.keys.typeIndex(f.AggregateType))
	case f.AggregateID == "":
		return r.index(r.keys.nameIndex(f.AggregateType, f.Name))
	}
	a, err := newAggregateStream(r.snap, r.keys.aggregate(f.AggregateType, f.AggregateID), r.backward)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, a)
	if f.Name == "" {
		return a, nil
	}
	n, err := r.index(r.keys.nameIndex(f.AggregateType, f.Name))
	if err != nil {
		return nil, err
	}
	return &intersection{a: a, b: n}, nil
}

func (r *reader) index(prefix []byte) (stream, error) {
	s, err := newIndexStream(r.snap, prefix, r.backward)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, s)
	return s, nil
}

// events returns the loader of event records.
func (r *reader) events() (*eventLoader, error) {
	table := r.keys.table(tagEvent)
	it, err := r.snap.NewIter(&pebbledb.IterOptions{LowerBound: table, UpperBound: prefixEnd(table)})
	if err != nil {
		return nil, err
	}
	l := &eventLoader{it: it, key: append(make([]byte, 0, len(table)+8), table...), prefix: len(table)}
	r.closers = append(r.closers, l)
	return l, nil
}

// eventLoader reads event records by position. It moves one iterator, so
// that the records of a page, which lie close together, are read from
// blocks already at hand; when the position wanted is a few positions from
// the last one loaded (a read of events of one type, say, that follow each
// other or lie a few apart) it steps the iterator to it instead of seeking
// it (steps that stop on another key find the record missing, as a seek
// would).
type eventLoader struct {
	it     *pebbledb.Iterator
	key    []byte // the key last looked for, reused
	prefix int    // the length of the table's prefix in key
	at     uint64 // the position the iterator is at, when ok is true
	ok     bool
	steps  int // records reached by step, for tests
}

// loaderSteps is how far ahead, in positions, the loader steps its
// iterator rather than seek it: a seek costs about as much as fifteen
// steps.
const loaderSteps = 16

func (l *eventLoader) load(pos uint64) (*evento.Event, error) {
	key := appendUint64(l.key[:l.prefix], pos)
	l.key = key
	var valid bool
	switch {
	case l.ok && pos > l.at && pos-l.at <= loaderSteps:
		valid = l.it.Next()
		for valid && bytes.Compare(l.it.Key(), key) < 0 {
			valid = l.it.Next()
		}
	case l.ok && pos < l.at && l.at-pos <= loaderSteps:
		valid = l.it.Prev()
		for valid && bytes.Compare(l.it.Key(), key) > 0 {
			valid = l.it.Prev()
		}
	default:
		valid = l.it.SeekGE(key)
	}
	l.ok = false
	if !valid || string(l.it.Key()) != string(key) {
		if err := l.it.Error(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: an index names position %d, which holds no event", errCorrupt, pos)
	}
	l.at, l.ok = pos, true
	return decodeAt(l.it, pos)
}

// after returns the position that follows pos in a read's direction.
func after(pos uint64, backward bool) uint64 {
	if backward {
		return pos - 1
	}
	return pos + 1
}

// step moves from the record loaded last to the next one in the read's
// direction and returns its position; it reports false at the end of the
// table, or when no record was loaded yet.
func (l *eventLoader) step(backward bool) (uint64, bool, error) {
	if !l.ok {
		return 0, false, nil
	}
	l.ok = false
	var valid bool
	if backward {
		valid = l.it.Prev()
	} else {
		valid = l.it.Next()
	}
	if !valid {
		return 0, false, l.it.Error()
	}
	pos, err := positionSuffix(l.it.Key(), l.key[:l.prefix])
	if err != nil {
		return 0, false, err
	}
	l.at, l.ok = pos, true
	l.steps++
	return pos, true, nil
}

// decodeAt decodes the event record under it, the record of position pos.
func decodeAt(it *pebbledb.Iterator, pos uint64) (*evento.Event, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	e, err := decodeEvent(pos, v)
	if err != nil {
		return nil, fmt.Errorf("event at position %d: %w", pos, err)
	}
	return e, nil
}

func (l *eventLoader) close() error { return l.it.Close() }
