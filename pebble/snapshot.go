package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// A snapshot record, the value under s <type> <revision> <id>, holds
//
//	format byte, version (uvarint), cursor, updated at (unix µs, varint), data

// LoadSnapshot returns the snapshot stored under key, or an error matching
// evento.ErrNotFound.
func (x *Executor) LoadSnapshot(ctx context.Context, key evento.SnapshotKey) (*evento.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	v, closer, err := x.db.Get(x.keys.snapshot(key))
	switch {
	case errors.Is(err, pebbledb.ErrNotFound):
		return nil, fmt.Errorf("%w: snapshot %s/%s at revision %q", evento.ErrNotFound, key.AggregateType, key.AggregateID, key.Revision)
	case err != nil:
		return nil, fmt.Errorf("evento: load snapshot %s/%s: %w", key.AggregateType, key.AggregateID, err)
	}
	defer closer.Close()
	d := newDecoder("snapshot", v)
	s := &evento.Snapshot{Key: key}
	s.Version = d.int64()
	s.Cursor = cursor.Value(d.string())
	s.UpdatedAt = unixMicro(d.varint())
	s.Data = d.bytesCopy()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("evento: load snapshot %s/%s: %w", key.AggregateType, key.AggregateID, err)
	}
	return s, nil
}

// SaveSnapshot stores s, replacing the snapshot with the same key, and sets
// s.UpdatedAt to the time it was saved.
func (x *Executor) SaveSnapshot(ctx context.Context, s *evento.Snapshot) error {
	if s.Key.AggregateType == "" {
		return fmt.Errorf("%w: snapshot without aggregate type", evento.ErrInvalidArgument)
	}
	if s.Version < 0 {
		return fmt.Errorf("%w: snapshot with negative version %d", evento.ErrInvalidArgument, s.Version)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	now := time.Now().UnixMicro()
	v := []byte{recordFormat}
	v = binary.AppendUvarint(v, uint64(s.Version))
	v = appendStr(v, string(s.Cursor))
	v = binary.AppendVarint(v, now)
	v = appendBytes(v, s.Data)
	if err := x.db.Set(x.keys.snapshot(s.Key), v, x.write); err != nil {
		return fmt.Errorf("evento: save snapshot %s/%s: %w", s.Key.AggregateType, s.Key.AggregateID, err)
	}
	s.UpdatedAt = unixMicro(now)
	return nil
}
