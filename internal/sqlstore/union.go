package sqlstore

import (
	"strings"

	"github.com/eventogo/evento"
)

// Union describes an events table to [Keyset.UnionStatement].
type Union struct {
	// Columns are the event columns the read returns, comma-separated,
	// unqualified, in the order the executor scans them.
	Columns string
	// Table is the quoted events table.
	Table string
	// Index, when set, returns the text that follows the table in the read
	// of one filter, f, with q's routing key (an index hint).
	Index func(f evento.Filter, q *evento.Query) string
	// ByVersion pages the read of a filter of one aggregate by version,
	// through the UNIQUE (aggregate_type, aggregate_id, version) index (see
	// Keyset.Table).
	ByVersion bool
	// Merge, for an engine that merges ordered inputs under a limit
	// (PostgreSQL's Merge Append), makes each filter's read select whole
	// rows and leave out the events of the filters before it that it may
	// share, and the union a UNION ALL of them, ordered and limited: the
	// engine then reads one page of rows in all, without a sort or a join.
	Merge bool
}

// UnionStatement returns the statement of a read of several filters, and
// its arguments, as a union of the reads of each filter:
//
//	SELECT e.<columns> FROM (
//	  SELECT <order> FROM ((<read of filter 1>) UNION (<read of filter 2>) ...) AS u
//	  ORDER BY <order> LIMIT <page + 1>
//	) AS k JOIN <table> AS e ON <order of e = order of k> ORDER BY <order of e>
//
// Each filter's read is the keyset statement of that filter alone (with
// q's routing key, bound, cursor and direction) that selects the global
// order's columns only: a range of the filter's index, one page at most.
// The union then keeps the first page of their positions, without
// duplicates (filters may overlap), and the join reads those events by
// primary key. With u.Merge it is instead
//
//	SELECT <columns> FROM ((<read of filter 1>) UNION ALL (<read of filter 2, not 1>) ...) AS u
//	ORDER BY <order> LIMIT <page + 1>
//
// where each read selects the whole rows, and leaves out the events of
// the filters before it that may match them too.
//
// The statement of several filters OR-ed is left to the engine's planner,
// which, depending on its estimates, reads every row from the cursor on
// until it has a page of matches, or every match after the cursor and
// sorts them (a page then costs in proportion to the rest of the log, and
// a catch-up in its square); the union costs a page of each filter, and a
// sort of their positions, whatever the estimates.
func (k Keyset) UnionStatement(d Dialect, u Union, q *evento.Query) (string, []any, error) {
	if err := q.Validate(); err != nil {
		return "", nil, err
	}
	dir := " ASC"
	if q.Args.IsBackward() {
		dir = " DESC"
	}
	var (
		joined, outer, inner []string
		byVersion            = k
	)
	if u.ByVersion {
		byVersion.Table, byVersion.Search = u.Table, true
	}
	for _, c := range k.Columns {
		joined = append(joined, "e."+c+" = k."+c)
		outer = append(outer, "e."+c+dir)
		inner = append(inner, c+dir)
	}
	order := strings.Join(k.Columns, ", ")
	selected, union := order, " UNION "
	s := statement{dialect: d}
	if u.Merge {
		selected, union = u.Columns, " UNION ALL "
		s.sql.WriteString("SELECT " + u.Columns + " FROM (")
	} else {
		columns := strings.Split(u.Columns, ", ")
		for i, c := range columns {
			columns[i] = "e." + c
		}
		s.sql.WriteString("SELECT " + strings.Join(columns, ", ") + " FROM (SELECT " + order + " FROM (")
	}
	for i, f := range q.Filters {
		if i > 0 {
			s.sql.WriteString(union)
		}
		one := *q
		one.Filters = []evento.Filter{f}
		head := "SELECT " + selected + " FROM " + u.Table
		if u.Index != nil {
			head += u.Index(f, q)
		}
		s.exclude = nil
		if u.Merge {
			for _, g := range q.Filters[:i] {
				if overlap(f, g) {
					s.exclude = append(s.exclude, g)
				}
			}
		}
		open := "("
		if d.WrapCompoundMembers {
			open = "SELECT * FROM ("
		}
		s.sql.WriteString(open)
		if err := byVersion.write(&s, head, &one, nil); err != nil {
			return "", nil, err
		}
		s.sql.WriteByte(')')
	}
	s.exclude = nil
	s.sql.WriteString(") AS u ORDER BY " + strings.Join(inner, ", ") + " LIMIT ")
	s.arg(int64(q.Args.Limit()) + 1)
	if !u.Merge {
		s.sql.WriteString(") AS k JOIN " + u.Table + " AS e ON " + strings.Join(joined, " AND ") +
			" ORDER BY " + strings.Join(outer, ", "))
	}
	return s.sql.String(), s.args, nil
}

// overlap reports whether an event may match both f and g: same type, and
// neither two different aggregate ids nor two different names.
func overlap(f, g evento.Filter) bool {
	return f.AggregateType == g.AggregateType &&
		(f.AggregateID == "" || g.AggregateID == "" || f.AggregateID == g.AggregateID) &&
		(f.Name == "" || g.Name == "" || f.Name == g.Name)
}
