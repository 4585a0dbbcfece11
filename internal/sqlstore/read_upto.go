package sqlstore

import (
	"context"
	"fmt"
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
	k := positionKeyset
	k.Bound = "position <= " + strconv.FormatInt(upTo, 10)
	query, args, err := k.Statement(r.dialect, r.head, q)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	defer rows.Close()
	events := make([]*evento.Event, 0, min(q.Args.Limit()+1, 1024))
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evento: read events: %w", err)
	}
	return cursor.Build(q.Args, events, (*evento.Event).Cursor), nil
}
