package sqlstore

import (
	"context"
	"database/sql"

	"github.com/eventogo/evento"
)

// CountEvents counts the events of table events per aggregate type and
// name, and the aggregates per type, into a Stats whose Size is -1 (the
// caller measures its engine's size).
func CountEvents(ctx context.Context, db *sql.DB, events string) (*evento.Stats, error) {
	st := &evento.Stats{Size: -1}
	err := scanRows(ctx, db, "SELECT aggregate_type, name, COUNT(*) FROM "+events+
		" GROUP BY aggregate_type, name ORDER BY aggregate_type, name", func(rows *sql.Rows) error {
		var (
			typ, name string
			n         int64
		)
		if err := rows.Scan(&typ, &name, &n); err != nil {
			return err
		}
		st.AddName(typ, name, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scanRows(ctx, db, "SELECT aggregate_type, COUNT(DISTINCT aggregate_id) FROM "+events+
		" GROUP BY aggregate_type", func(rows *sql.Rows) error {
		var (
			typ string
			n   int64
		)
		if err := rows.Scan(&typ, &n); err != nil {
			return err
		}
		st.SetAggregates(typ, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// scanRows runs query and calls scan for each row.
func scanRows(ctx context.Context, db *sql.DB, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
