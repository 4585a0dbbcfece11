package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// LoadSnapshot returns the snapshot stored under key, or an error matching
// evento.ErrNotFound.
func (x *Executor) LoadSnapshot(ctx context.Context, key evento.SnapshotKey) (*evento.Snapshot, error) {
	s := &evento.Snapshot{Key: key}
	var (
		position  string
		updatedAt int64
	)
	err := x.reads.QueryRowContext(ctx, x.stmt.loadSnapshot, key.AggregateType, key.Revision, key.AggregateID).
		Scan(&s.Data, &s.Version, &position, &updatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: snapshot %s/%s at revision %q", evento.ErrNotFound, key.AggregateType, key.AggregateID, key.Revision)
	case err != nil:
		return nil, fmt.Errorf("evento: load snapshot %s/%s: %w", key.AggregateType, key.AggregateID, err)
	}
	s.Cursor = cursor.Value(position)
	s.UpdatedAt = time.UnixMicro(updatedAt).UTC()
	return s, nil
}

// SaveSnapshot stores s, replacing the snapshot with the same key, and sets
// s.UpdatedAt to the time it was saved.
func (x *Executor) SaveSnapshot(ctx context.Context, s *evento.Snapshot) error {
	if s.Key.AggregateType == "" {
		return fmt.Errorf("%w: snapshot without aggregate type", evento.ErrInvalidArgument)
	}
	now := time.Now().UnixMicro()
	err := x.writeOne(ctx, func() error {
		_, err := x.db.ExecContext(ctx, x.stmt.saveSnapshot, s.Key.AggregateType, s.Key.Revision, s.Key.AggregateID,
			s.Data, s.Version, string(s.Cursor), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("evento: save snapshot %s/%s: %w", s.Key.AggregateType, s.Key.AggregateID, err)
	}
	s.UpdatedAt = time.UnixMicro(now).UTC()
	return nil
}

// writeOne runs a single-statement write in this process's write turn.
func (x *Executor) writeOne(ctx context.Context, f func() error) error {
	if err := x.lockWriter(ctx); err != nil {
		return err
	}
	defer x.unlockWriter()
	return f()
}
