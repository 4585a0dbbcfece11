package sqlstore

import (
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
}

// Statement returns the SELECT head + WHERE + ORDER BY + LIMIT that fetches
// the rows of q's page (one more than the page size, so that cursor.Build
// learns whether another page exists) and its arguments. The filters are
// OR-ed; the routing key, the bound and the keyset condition are AND-ed to
// them; only placeholders carry the query's values. It fails with an error
// wrapping [evento.ErrInvalidArgument] or [cursor.ErrInvalidArgs] for a query
// that does not validate, and [cursor.ErrInvalid] for a malformed cursor.
func (k Keyset) Statement(d Dialect, head string, q *evento.Query) (string, []any, error) {
	if err := q.Validate(); err != nil {
		return "", nil, err
	}
	after, err := k.values(q.Args.After)
	if err != nil {
		return "", nil, err
	}
	before, err := k.values(q.Args.Before)
	if err != nil {
		return "", nil, err
	}

	s := statement{dialect: d}
	s.sql.WriteString(head)
	s.filters(q)
	if k.Bound != "" {
		s.and()
		s.sql.WriteString(k.Bound)
	}
	dir := " ASC"
	if q.Args.IsBackward() {
		dir = " DESC"
		if before != nil {
			k.compare(&s, " < ", before)
		}
	} else if after != nil {
		k.compare(&s, " > ", after)
	}
	s.sql.WriteString(" ORDER BY ")
	for i, c := range k.Columns {
		if i > 0 {
			s.sql.WriteString(", ")
		}
		s.sql.WriteString(c + dir)
	}
	s.sql.WriteString(" LIMIT ")
	s.arg(int64(q.Args.Limit()) + 1)
	return s.sql.String(), s.args, nil
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

// compare writes the keyset condition: col op value for one column, a row
// comparison (a, b) op (x, y) for several.
func (k Keyset) compare(s *statement, op string, values []any) {
	s.and()
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

// filters writes q's filters and routing key.
func (s *statement) filters(q *evento.Query) {
	if len(q.Filters) > 0 {
		s.and()
		s.sql.WriteByte('(')
		for i, f := range q.Filters {
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
	if k, ok := q.RoutingKey.Value(); ok {
		s.and()
		s.sql.WriteString("routing_key = ")
		s.arg(k)
	} else if q.RoutingKey.IsNone() {
		s.and()
		s.sql.WriteString("routing_key IS NULL")
	}
}
