package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/jackc/pgx/v5"
)

// LoadSnapshot returns the snapshot stored under key, or an error matching
// evento.ErrNotFound.
func (x *Executor) LoadSnapshot(ctx context.Context, key evento.SnapshotKey) (*evento.Snapshot, error) {
	s := &evento.Snapshot{Key: key}
	var position string
	err := x.pool.QueryRow(ctx, x.stmt.loadSnapshot, key.AggregateType, key.Revision, key.AggregateID).
		Scan(&s.Data, &s.Version, &position, &s.UpdatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("%w: snapshot %s/%s at revision %q", evento.ErrNotFound, key.AggregateType, key.AggregateID, key.Revision)
	case err != nil:
		return nil, fmt.Errorf("evento: load snapshot %s/%s: %w", key.AggregateType, key.AggregateID, err)
	}
	s.Cursor = cursor.Value(position)
	s.UpdatedAt = s.UpdatedAt.UTC()
	return s, nil
}

// SaveSnapshot stores s, replacing the snapshot with the same key, and sets
// s.UpdatedAt to the time it was saved, on the database's clock.
func (x *Executor) SaveSnapshot(ctx context.Context, s *evento.Snapshot) error {
	if s.Key.AggregateType == "" {
		return fmt.Errorf("%w: snapshot without aggregate type", evento.ErrInvalidArgument)
	}
	var updatedAt time.Time
	err := x.pool.QueryRow(ctx, x.stmt.saveSnapshot, s.Key.AggregateType, s.Key.Revision, s.Key.AggregateID,
		s.Data, s.Version, string(s.Cursor)).Scan(&updatedAt)
	if err != nil {
		return fmt.Errorf("evento: save snapshot %s/%s: %w", s.Key.AggregateType, s.Key.AggregateID, err)
	}
	s.UpdatedAt = updatedAt.UTC()
	return nil
}
