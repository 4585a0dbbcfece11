package sqlstore

import (
	"context"
	"strconv"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// ReadUpTo returns one page of the events that match q, in global order,
// among the events at or before position upTo only. The executor chooses
// upTo as a horizon below which its engine guarantees that a new statement
// sees every committed event: MySQL and MariaDB read it from their position
// counter in an earlier statement (see the mysql package).
func (r EventReader) ReadUpTo(ctx context.Context, db Querier, q *evento.Query, upTo int64) (*cursor.Page[*evento.Event], error) {
	if key, from, ok := r.denseKey(q); ok {
		return r.readDense(ctx, db, q, key, from, upTo)
	}
	return r.read(ctx, db, q, r.upTo(upTo))
}

// StatementUpTo returns the statement that ReadUpTo runs for q and upTo
// through the filter's index, and its arguments, as Statement does for
// Read: for tests and for EXPLAIN. A reader made with WalkDense may run
// another one, by the primary key (see WalkDense).
func (r EventReader) StatementUpTo(q *evento.Query, upTo int64) (string, []any, error) {
	return r.single(q, r.upTo(upTo))
}

// upTo returns the reader's keyset bounded by the position upTo.
func (r EventReader) upTo(upTo int64) Keyset {
	k := r.keyset
	k.Bound = "position <= " + strconv.FormatInt(upTo, 10)
	return k
}
