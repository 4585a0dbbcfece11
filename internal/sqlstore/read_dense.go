package sqlstore

import (
	"context"
	"strconv"
	"sync"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// WalkDense returns r, which must name its indexes (see ForceIndexes),
// with forward reads of one aggregate type (and name) from a cursor
// walking the primary key instead of the type's index while the type's
// events lie close together in the log, as when one type makes up most of
// it.
//
// InnoDB keeps the rows in the primary key: a read through a secondary
// index looks up every row it returns in the primary key, where a walk of
// the primary key reads the rows in order. A walk also reads the rows of
// other types between the matches, so it pays only while most rows
// match: reading pages of 1,000 events of a type that made up all of a
// 100,000-event log took 1.32 µs per event by the primary key and 2.03 µs
// through the type's index (MariaDB, docs/benchmarks.md), which puts the
// break-even at about two matches in three rows.
//
// Each such read records the share of its filter's events in the range of
// positions it covered (the density), and the next read of the same filter
// walks the primary key when the last one measured at least [denseShare].
// A walk is bounded to a range of positions in which the page would fit
// twice at that density, so that a change of density costs a bounded
// scan: when the walk ends there with the page not full, the rest of the
// page comes from the index.
func (r EventReader) WalkDense() EventReader {
	r.dense = &densities{m: make(map[string]float64)}
	return r
}

// denseShare is the least share of matching rows, in the range the last
// read of a filter covered, at which the next read of it walks the primary
// key.
const denseShare = 0.75

// maxDensities bounds the filters whose density a reader remembers: the
// memory is emptied when full.
const maxDensities = 1024

// densities holds the density each filter's last read measured.
type densities struct {
	mu sync.Mutex
	m  map[string]float64
}

func (d *densities) get(key string) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[key]
}

func (d *densities) set(key string, v float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.m[key]; !ok && len(d.m) >= maxDensities {
		clear(d.m)
	}
	d.m[key] = v
}

// denseKey returns the key under which the density of q's reads is kept,
// the position q reads after, and whether q is a read that may walk the
// primary key: forward from a cursor, one filter of a type (and name) and
// no aggregate, on a reader made with WalkDense.
func (r EventReader) denseKey(q *evento.Query) (string, int64, bool) {
	if r.dense == nil || r.forced == nil || q.Args.IsBackward() || q.Args.After == "" ||
		len(q.Filters) != 1 || q.Filters[0].AggregateID != "" || q.Validate() != nil {
		return "", 0, false
	}
	p, err := cursor.Decode(q.Args.After)
	if err != nil {
		return "", 0, false
	}
	from, err := seqOf(p)
	if err != nil {
		return "", 0, false
	}
	f := q.Filters[0]
	key := strconv.Quote(f.AggregateType) + strconv.Quote(f.Name)
	switch v, ok := q.RoutingKey.Value(); {
	case ok:
		key += "=" + strconv.Quote(v)
	case q.RoutingKey.IsNone():
		key += "-"
	}
	return key, from, true
}

// readDense reads the page of q, a read that denseKey accepted, after
// position from and up to position upTo: by the primary key when the last
// read of the filter found it dense, else through its index; and records
// the density of this page.
func (r EventReader) readDense(ctx context.Context, db Querier, q *evento.Query, key string, from, upTo int64) (*cursor.Page[*evento.Event], error) {
	limit := q.Args.Limit()
	var events []*evento.Event
	if d := r.dense.get(key); d >= denseShare && from < upTo {
		// Twice the rows the page needs at the density last measured.
		bound := upTo
		if span := int64(float64(2*(limit+1)) / d); span < upTo-from {
			bound = from + span
		}
		query, args, err := r.upTo(bound).Statement(r.dialect, r.head+r.forced.primary, q)
		if err != nil {
			return nil, err
		}
		if events, err = r.rows(ctx, db, query, args, limit); err != nil {
			return nil, err
		}
		if len(events) <= limit && bound < upTo {
			// The walk reached its bound before the page was full: the
			// rest of the page, or the row that tells whether another
			// page follows, lies after the bound.
			rest := *q
			rest.Args = cursor.Forward(max(limit-len(events), 1), cursor.Encode(cursor.Position{Seq: uint64(bound)}))
			query, args, err := r.single(&rest, r.upTo(upTo))
			if err != nil {
				return nil, err
			}
			more, err := r.rows(ctx, db, query, args, limit)
			if err != nil {
				return nil, err
			}
			events = append(events, more...)
		}
	} else {
		query, args, err := r.single(q, r.upTo(upTo))
		if err != nil {
			return nil, err
		}
		if events, err = r.rows(ctx, db, query, args, limit); err != nil {
			return nil, err
		}
	}
	// The range the page covered: to its last event when another page
	// follows, else to the end of what the read could see. A short range
	// (a read at the end of the log) tells little, and is not recorded.
	covered := upTo - from
	if len(events) > limit {
		covered = int64(events[limit-1].Position.Seq) - from
	}
	if covered >= minCovered {
		r.dense.set(key, float64(min(len(events), limit))/float64(covered))
	}
	return cursor.Build(q.Args, events, (*evento.Event).Cursor), nil
}

// minCovered is the shortest range of positions whose density a read
// records.
const minCovered = 32
