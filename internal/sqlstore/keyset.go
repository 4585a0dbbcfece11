package sqlstore

import (
	"math"
	"strconv"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// Keyset is how an events table is ordered and paged: the columns of the
// global order, compared as one row value, and an optional bound that every
// row a read returns must meet. [EventReader] uses the simplest keyset, one
// position column; PostgreSQL orders by (tx_id, seq) and bounds reads by its
// visibility horizon.
type Keyset struct {
	// Columns are the columns of the global order, most significant first.
	Columns []string
	// Casts, when set, holds one suffix per column appended to that
	// column's placeholder, e.g. "::xid8", so that the server knows the
	// parameter's type.
	Casts []string
	// Bound, when set, is a condition every returned row meets. It is SQL
	// text built by the executor, never from the query.
	Bound string
	// Values returns the bind values, one per column, of a position that a
	// cursor decoded to. It fails with an error wrapping [cursor.ErrInvalid]
	// for a position this store cannot have produced.
	Values func(cursor.Position) ([]any, error)
	// Table, when set, is the quoted events table, and a read of one
	// aggregate pages by version instead (see byVersion): the table's
	// UNIQUE (aggregate_type, aggregate_id, version) index then serves it,
	// and no index on (aggregate_type, aggregate_id, <global order>) is
	// needed.
	Table string
	// Search, with Table, makes a read of one aggregate from a cursor that
	// is not one of the aggregate's events find its version there by a
	// binary search (see versionSearch) instead of reading every version
	// beyond the cursor. It makes the statement larger, and PostgreSQL
	// sets up the search's plans at every run even when the cursor's own
	// event answers (a read from one of the aggregate's own events, such
	// as a load from a snapshot, measured 20–25% slower): it is for
	// reads whose cursor is often another's, the members of a union, and
	// for SQLite, whose reads from the aggregate's own events compare
	// versions directly (StatementAtVersion).
	Search bool
	// SearchFunc, when set with Table, names a function that does the
	// search of Search on the server instead, called as
	// SearchFunc(aggregate_type, aggregate_id, <the cursor's values, one
	// per column>, backward) and returning the version, or NULL when a
	// version is missing (see versionSearch). The statement runs the call
	// only when the cursor's own event does not answer.
	SearchFunc string
}

// Statement returns the SELECT head + WHERE + ORDER BY + LIMIT that fetches
// the rows of q's page (one more than the page size, so that cursor.Build
// learns whether another page exists) and its arguments. The filters are
// OR-ed; the routing key, the bound and the keyset condition are AND-ed to
// them; only placeholders carry the query's values. It fails with an error
// wrapping [evento.ErrInvalidArgument] or [cursor.ErrInvalidArgs] for a query
// that does not validate, and [cursor.ErrInvalid] for a malformed cursor.
func (k Keyset) Statement(d Dialect, head string, q *evento.Query) (string, []any, error) {
	return k.statement(d, head, q, nil)
}

// StatementAtVersion is Statement for a read of one aggregate (k has a
// Table, q's filters select one aggregate) whose cursor is the position of
// the aggregate's event of version v: the keyset condition compares
// versions with v directly.
func (k Keyset) StatementAtVersion(d Dialect, head string, q *evento.Query, v int64) (string, []any, error) {
	return k.statement(d, head, q, &v)
}

func (k Keyset) statement(d Dialect, head string, q *evento.Query, at *int64) (string, []any, error) {
	s := statement{dialect: d}
	if err := k.write(&s, head, q, at); err != nil {
		return "", nil, err
	}
	return s.sql.String(), s.args, nil
}

// write writes the statement of q to s, whose placeholders number on from
// the arguments it holds already.
func (k Keyset) write(s *statement, head string, q *evento.Query, at *int64) error {
	if err := q.Validate(); err != nil {
		return err
	}
	after, err := k.values(q.Args.After)
	if err != nil {
		return err
	}
	before, err := k.values(q.Args.Before)
	if err != nil {
		return err
	}

	s.where = false
	s.sql.WriteString(head)
	s.filters(q)
	if k.Bound != "" {
		s.and()
		s.sql.WriteString(k.Bound)
	}
	dir := " ASC"
	if q.Args.IsBackward() {
		dir = " DESC"
		after = nil
	} else {
		before = nil
	}
	if k.Table != "" && OneAggregate(q.Filters) {
		k.byVersion(s, q.Filters[0], after, before, at)
		s.sql.WriteString(" ORDER BY version" + dir)
	} else {
		if before != nil {
			k.compare(s, " < ", before)
		} else if after != nil {
			k.compare(s, " > ", after)
		}
		s.sql.WriteString(" ORDER BY ")
		for i, c := range k.Columns {
			if i > 0 {
				s.sql.WriteString(", ")
			}
			s.sql.WriteString(c + dir)
		}
	}
	s.sql.WriteString(" LIMIT ")
	s.arg(int64(q.Args.Limit()) + 1)
	return nil
}

// values decodes a cursor into bind values; nil for the empty cursor.
func (k Keyset) values(v cursor.Value) ([]any, error) {
	if v == "" {
		return nil, nil
	}
	p, err := cursor.Decode(v)
	if err != nil {
		return nil, err
	}
	return k.Values(p)
}

// OneAggregate reports whether filters select events of a single aggregate
// only.
func OneAggregate(filters []evento.Filter) bool {
	if len(filters) == 0 {
		return false
	}
	for _, f := range filters {
		if f.AggregateID == "" || f.AggregateType != filters[0].AggregateType || f.AggregateID != filters[0].AggregateID {
			return false
		}
	}
	return true
}

// byVersion writes the keyset condition of a read of the aggregate of f,
// which the caller orders by version. Within an aggregate, the global order
// is version order (every store appends an aggregate's versions one after
// the other), so "after the position p" is "after the version of the
// aggregate's last event at or before p": the version of the event at p
// itself when p is one of the aggregate's events, as it is for a cursor of
// a read of this aggregate (a primary key lookup), or else the largest
// version at or before p (0 when there is none), read from the version
// index. "Before p" mirrors it: the version at p, or the smallest version
// at or after p, or no bound. When the caller already knows the version at
// p, at holds it.
func (k Keyset) byVersion(s *statement, f evento.Filter, after, before []any, at *int64) {
	switch {
	case (before != nil || after != nil) && at != nil:
		s.and()
		if before != nil {
			s.sql.WriteString("version < ")
		} else {
			s.sql.WriteString("version > ")
		}
		s.arg(*at)
	case before != nil:
		s.and()
		s.sql.WriteString("version < ")
		k.versionAt(s, f, before, true)
	case after != nil:
		s.and()
		s.sql.WriteString("version > ")
		k.versionAt(s, f, after, false)
	}
}

// versionAt writes the expression of byVersion: the version of f's
// aggregate at the position of values; else its largest version at or
// before that position (0 when none is), or for a backward read its
// smallest version at or after it (no bound when none is), searched for
// when k.SearchFunc or k.Search is set (see versionSearch), and else, or
// when the search finds a version missing, found by reading every version
// beyond the position.
func (k Keyset) versionAt(s *statement, f evento.Filter, values []any, backward bool) {
	op, agg, none := " <= ", "MAX", int64(0)
	if backward {
		op, agg, none = " >= ", "MIN", math.MaxInt64
	}
	s.sql.WriteString("COALESCE((SELECT version FROM " + k.Table + " WHERE ")
	for i, c := range k.Columns {
		s.sql.WriteString(c + " = ")
		s.arg(values[i])
		k.cast(s, i)
		s.sql.WriteString(" AND ")
	}
	k.aggregate(s, f)
	switch {
	case k.SearchFunc != "":
		// The type goes in as a subquery's value: with every argument a
		// constant, as in a custom plan (the values written into the
		// statement, or planned for them), the planner would run the call
		// while it plans, to estimate the condition, even for a read whose
		// cursor is the aggregate's own event.
		s.sql.WriteString("), " + k.SearchFunc + "((SELECT CAST(")
		s.arg(f.AggregateType)
		s.sql.WriteString(" AS TEXT)), ")
		s.arg(f.AggregateID)
		for i := range k.Columns {
			s.sql.WriteString(", ")
			s.arg(values[i])
			k.cast(s, i)
		}
		s.sql.WriteString(", " + strings.ToUpper(strconv.FormatBool(backward)))
	case k.Search:
		s.sql.WriteString("), (")
		k.versionSearch(s, f, values, backward)
	}
	s.sql.WriteString("), (SELECT " + agg + "(version) FROM " + k.Table + " WHERE ")
	k.aggregate(s, f)
	s.sql.WriteString(" AND ")
	k.row(s, op, values)
	s.sql.WriteString("), " + strconv.FormatInt(none, 10) + ")")
}

// versionSearch writes a query of the version of f's aggregate at a
// position that is not one of its events: a binary search over the
// aggregate's versions, which are dense (1, 2, ..., last) and whose
// positions ascend with them. It looks up about log2(last) versions by the
// unique (aggregate_type, aggregate_id, version) index, where the query of
// the largest version whose position is at or before the cursor reads
// every version beyond the cursor.
//
// Forward, each row of the search holds lo, a version known to lie at or
// before the position (0 at first), hi, the last version that may (the
// aggregate's last one at first), and c, whether the position of their
// middle version, (lo+hi+1)/2, is at or before the position; the next row
// narrows lo and hi by c and looks up the next middle version, whose number
// it computes from lo, hi and c (a recursive query may name its previous
// row only once). The search ends at lo = hi, the answer. Backward mirrors
// it: hi is known to lie at or after the position (last+1 at first, which
// bounds nothing) and lo is the first that may. A version missing from the
// middle makes c NULL, the search stops without an answer, and the query
// is NULL.
func (k Keyset) versionSearch(s *statement, f evento.Filter, values []any, backward bool) {
	first, last, answer, op := "0", "", "lo", " <= "
	// The middle version, and when c is true or false, the next bounds and
	// the next middle version.
	mid := "(lo + hi + 1) / 2"
	loTrue, loFalse, hiTrue, hiFalse := mid, "lo", "hi", mid+" - 1"
	midTrue, midFalse := "("+mid+" + hi + 1) / 2", "(lo + "+mid+") / 2"
	if backward {
		first, last, answer, op = "1", " + 1", "hi", " >= "
		mid = "(lo + hi) / 2"
		loTrue, loFalse, hiTrue, hiFalse = "lo", mid+" + 1", mid, "hi"
		midTrue, midFalse = "(lo + "+mid+") / 2", "("+mid+" + 1 + hi) / 2"
	}
	choose := func(onTrue, onFalse string) string {
		return "CASE c WHEN TRUE THEN " + onTrue + " WHEN FALSE THEN " + onFalse + " END"
	}
	// c of the version numbered by the expression v.
	lookup := func(v string) {
		s.sql.WriteString("(SELECT ")
		k.row(s, op, values)
		s.sql.WriteString(" FROM " + k.Table + " WHERE ")
		k.aggregate(s, f)
		s.sql.WriteString(" AND version = " + v + ")")
	}
	// The last version is the last entry of the version index, which
	// MAX(version) does not always read directly.
	s.sql.WriteString("WITH RECURSIVE search (lo, hi, c) AS (SELECT lo, hi, ")
	lookup(mid)
	s.sql.WriteString(" FROM (SELECT CAST(" + first + " AS BIGINT) AS lo, COALESCE((SELECT version FROM " + k.Table + " WHERE ")
	k.aggregate(s, f)
	s.sql.WriteString(" ORDER BY version DESC LIMIT 1), 0)" + last + " AS hi) AS start UNION ALL SELECT " +
		choose(loTrue, loFalse) + ", " + choose(hiTrue, hiFalse) + ", ")
	lookup(choose(midTrue, midFalse))
	s.sql.WriteString(" FROM search WHERE lo < hi) SELECT " + answer + " FROM search WHERE lo = hi")
}

func (k Keyset) aggregate(s *statement, f evento.Filter) {
	s.sql.WriteString("aggregate_type = ")
	s.arg(f.AggregateType)
	s.sql.WriteString(" AND aggregate_id = ")
	s.arg(f.AggregateID)
}

// compare writes the keyset condition: col op value for one column, a row
// comparison (a, b) op (x, y) for several.
func (k Keyset) compare(s *statement, op string, values []any) {
	s.and()
	k.row(s, op, values)
}

// row writes col op value, or (a, b) op (x, y) for several columns.
func (k Keyset) row(s *statement, op string, values []any) {
	if len(k.Columns) == 1 {
		s.sql.WriteString(k.Columns[0] + op)
		s.arg(values[0])
		k.cast(s, 0)
		return
	}
	s.sql.WriteString("(" + strings.Join(k.Columns, ", ") + ")" + op + "(")
	for i, v := range values {
		if i > 0 {
			s.sql.WriteString(", ")
		}
		s.arg(v)
		k.cast(s, i)
	}
	s.sql.WriteByte(')')
}

func (k Keyset) cast(s *statement, i int) {
	if i < len(k.Casts) {
		s.sql.WriteString(k.Casts[i])
	}
}

// filters writes q's filters and routing key, and excludes the events of
// the filters in s.exclude.
func (s *statement) filters(q *evento.Query) {
	if len(q.Filters) > 0 {
		s.and()
		s.anyOf(q.Filters)
	}
	if len(s.exclude) > 0 {
		s.and()
		s.sql.WriteString("NOT ")
		s.anyOf(s.exclude)
	}
	if k, ok := q.RoutingKey.Value(); ok {
		s.and()
		s.sql.WriteString("routing_key = ")
		s.arg(k)
	} else if q.RoutingKey.IsNone() {
		s.and()
		if s.dialect.UnestimatedNoKey && len(q.Filters) > 0 {
			s.sql.WriteString("COALESCE(routing_key IS NULL, FALSE)")
		} else {
			s.sql.WriteString("routing_key IS NULL")
		}
	}
}

// anyOf writes the condition that an event matches one of filters.
func (s *statement) anyOf(filters []evento.Filter) {
	s.sql.WriteByte('(')
	for i, f := range filters {
		if i > 0 {
			s.sql.WriteString(" OR ")
		}
		s.sql.WriteString("(aggregate_type = ")
		s.arg(f.AggregateType)
		if f.AggregateID != "" {
			s.sql.WriteString(" AND aggregate_id = ")
			s.arg(f.AggregateID)
		}
		if f.Name != "" {
			s.sql.WriteString(" AND name = ")
			s.arg(f.Name)
		}
		s.sql.WriteByte(')')
	}
	s.sql.WriteByte(')')
}
