package mysql

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
		position  []byte
		updatedAt int64
	)
	err := x.db.QueryRowContext(ctx, x.stmt.loadSnapshot, key.AggregateType, key.Revision, key.AggregateID).
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
// s.UpdatedAt to the time it was saved. The parts of the key are at most
// evento.MaxNameLen bytes each.
func (x *Executor) SaveSnapshot(ctx context.Context, s *evento.Snapshot) error {
	k := s.Key
	if k.AggregateType == "" {
		return fmt.Errorf("%w: snapshot without aggregate type", evento.ErrInvalidArgument)
	}
	// The key columns are VARBINARY(255): a longer part would fail, or be
	// cut short (and collide) on a server without strict sql_mode.
	if len(k.AggregateType) > evento.MaxNameLen || len(k.Revision) > evento.MaxNameLen || len(k.AggregateID) > evento.MaxNameLen {
		return fmt.Errorf("%w: snapshot key part longer than %d bytes", evento.ErrInvalidArgument, evento.MaxNameLen)
	}
	now := time.Now().UnixMicro()
	_, err := x.db.ExecContext(ctx, x.stmt.saveSnapshot, k.AggregateType, k.Revision, k.AggregateID,
		s.Data, s.Version, string(s.Cursor), now)
	if err != nil {
		return fmt.Errorf("evento: save snapshot %s/%s: %w", k.AggregateType, k.AggregateID, err)
	}
	s.UpdatedAt = time.UnixMicro(now).UTC()
	return nil
}
