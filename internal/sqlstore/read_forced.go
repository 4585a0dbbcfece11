package sqlstore

import (
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/filter"
)

// Indexes names an events table's read indexes, each of which ends with
// the position column, for [EventReader.ForceIndexes].
type Indexes struct {
	// Type is the index on (aggregate_type, position).
	Type string
	// TypeName is the index on (aggregate_type, name, position).
	TypeName string
	// Aggregate is the index on (aggregate_type, aggregate_id, position).
	Aggregate string
	// RoutingKey is the index on (routing_key, position).
	RoutingKey string
}

// forcedIndexes holds the FORCE INDEX clause of each index of [Indexes].
// primary names the primary key (see WalkDense).
type forcedIndexes struct{ typ, typeName, aggregate, routingKey, primary string }

// ForceIndexes returns r with every read through an index naming that
// index (FORCE INDEX: MySQL's syntax, for a dialect of question-mark
// placeholders):
//
//   - a read of one filter, or of several of one aggregate, reads the index
//     of its shape: of the aggregate when it has an aggregate id, of the
//     type and name when it has a name, else of the type;
//   - a read of a routing key and no filter reads the routing key's;
//   - a read of several filters is a union of the reads of each filter,
//     each through its index (see Keyset.UnionStatement), once the filters
//     that others cover are dropped;
//   - a read of no filter and any routing key is left to the planner,
//     which reads the primary key.
//
// MariaDB otherwise answers "aggregate_type = ? AND position > ?" with a
// lookup of the type alone (ref access) whenever it estimates the position
// condition to select many rows, as for every page in the first half of a
// type's events: the read then walks the type's entries from the first
// one and skips those at or before the cursor, so that a page costs in
// proportion to the events before it, and a catch-up in the square of the
// log's size; the same holds for the other indexes. With the index named
// it reads the range (type, cursor) to (type, bound) instead. Several
// filters, left to the planner, read either the primary key (every row
// from the cursor on until a page of matches) or the ranges of each filter
// and then sort every match after the cursor, and naming the type's index
// for several filters of a type would read all of the type's events to
// find a few aggregates' ones; the union reads at most a page of each
// filter.
//
// A read of one index from either end of the log (no cursor) names no
// index: the planner's lookup of the filter's prefix starts where the read
// does, and in a table that holds little else it may rightly walk the
// primary key instead (a load of the one aggregate of a table took 1.3 ms
// that way, 1.8 ms through the aggregate's index). A read of one aggregate
// through a keyset that pages by version (see ByVersion) names no index
// either: the version key serves it.
func (r EventReader) ForceIndexes(ix Indexes) EventReader {
	force := func(name string) string { return " FORCE INDEX (" + r.dialect.Quote(name) + ")" }
	r.forced = &forcedIndexes{typ: force(ix.Type), typeName: force(ix.TypeName),
		aggregate: force(ix.Aggregate), routingKey: force(ix.RoutingKey), primary: " FORCE INDEX (PRIMARY)"}
	return r
}

// single returns q's statement on keyset k in one statement: the plain
// one, the union of the reads of each filter when the reader unites them
// or forces indexes, or, when it forces indexes, the one that names q's
// index.
func (r EventReader) single(q *evento.Query, k Keyset) (string, []any, error) {
	if r.forced == nil && !r.unite || k.Table != "" && OneAggregate(q.Filters) {
		return k.Statement(r.dialect, r.head, q)
	}
	q, err := Simplified(q)
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(q.Filters) > 1 && !OneAggregate(q.Filters) && (r.forced != nil || len(q.Filters) <= maxUnited):
		// k pages the reads of one aggregate by version when the reader
		// does (see ByVersion), members of the union included.
		u := Union{Columns: EventColumns, Table: r.table}
		if r.forced != nil {
			u.Index = r.forced.index
		}
		return k.UnionStatement(r.dialect, u, q)
	case r.forced == nil:
		return k.Statement(r.dialect, r.head, q)
	case q.Args.After == "" && q.Args.Before == "":
		// From either end, the planner's lookup of the filter's prefix
		// reads from the right place; and in a table that holds little
		// else it may rightly walk the primary key instead.
		return k.Statement(r.dialect, r.head, q)
	}
	return k.Statement(r.dialect, r.head+r.forced.clause(q), q)
}

// Simplified validates q and returns it without the filters that others
// of its filters cover (filter.Simplify): the same events, fewer reads to
// unite.
func Simplified(q *evento.Query) (*evento.Query, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	simple := *q
	simple.Filters = filter.Simplify(q.Filters)
	return &simple, nil
}

// index returns the FORCE INDEX clause of the read of filter f alone.
func (f *forcedIndexes) index(filter evento.Filter, q *evento.Query) string {
	one := evento.Query{Filters: []evento.Filter{filter}, RoutingKey: q.RoutingKey}
	return f.clause(&one)
}

// clause returns the FORCE INDEX clause of a read of q's filters (none,
// one, or several of one aggregate) and q's routing key; empty for a read
// of everything.
func (f *forcedIndexes) clause(q *evento.Query) string {
	switch {
	case len(q.Filters) == 0:
		if q.RoutingKey.IsAny() {
			return ""
		}
		return f.routingKey
	case OneAggregate(q.Filters):
		return f.aggregate
	case q.Filters[0].AggregateID != "":
		return f.aggregate
	case q.Filters[0].Name != "":
		return f.typeName
	}
	return f.typ
}
