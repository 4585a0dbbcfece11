package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
)

// Dead letters live in two tables. The record of a parked event, under
// d <subscription key> <parked at> <event id>, holds
//
//	format byte, error, event (the encoded event)
//
// so the dead letters of a key are stored in the order DeadLetters returns
// them, and listing n of them reads n records. The entry under
// D <subscription key> <event id> holds
//
//	format byte, parked at (unix µs, varint)
//
// and finds the record of an event when it is parked again or deleted.
// Every write of both tables holds the lease mutex, so the two always agree.

var _ evento.DeadLetterStore = (*Executor)(nil)

// maxDeadLetters is the largest limit DeadLetters accepts.
const maxDeadLetters = 10_000

// checkDeadLetter rejects a dead letter that cannot be stored.
func checkDeadLetter(dl *evento.DeadLetter) error {
	switch {
	case dl == nil:
		return fmt.Errorf("%w: nil dead letter", evento.ErrInvalidArgument)
	case dl.EventID == "":
		return fmt.Errorf("%w: dead letter without event id", evento.ErrInvalidArgument)
	case dl.Event == nil:
		return fmt.Errorf("%w: dead letter %s without event", evento.ErrInvalidArgument, dl.EventID)
	}
	return nil
}

// park adds to b the dead letters of parks under key, parked at
// parkedAt, and the removal of any letter they replace. The caller holds
// the lease mutex and has checked every letter.
func (x *Executor) park(b *pebbledb.Batch, key string, parkedAt int64, parks []*evento.DeadLetter) error {
	if len(parks) == 0 {
		return nil
	}
	// One acknowledgement parks an event once: the last letter for an
	// event id wins.
	last := make(map[string]*evento.DeadLetter, len(parks))
	for _, dl := range parks {
		last[dl.EventID] = dl
	}
	at := binary.AppendVarint([]byte{recordFormat}, parkedAt)
	for id, dl := range last {
		parked := x.keys.parked(key, id)
		old, found, err := x.parkedAt(parked)
		if err != nil {
			return fmt.Errorf("dead letter %s: %w", id, err)
		}
		// The old record goes first: when it was parked in the same
		// microsecond its key is the new one, and the later set wins.
		if found {
			if err := b.Delete(x.keys.deadLetter(key, old, id), nil); err != nil {
				return err
			}
		}
		v := appendStr([]byte{recordFormat}, dl.Error)
		v = appendBytes(v, dl.Event)
		if err := b.Set(x.keys.deadLetter(key, parkedAt, id), v, nil); err != nil {
			return err
		}
		if err := b.Set(parked, at, nil); err != nil {
			return err
		}
	}
	return nil
}

// parkedAt reads the D entry under k: when its event was parked.
func (x *Executor) parkedAt(k []byte) (int64, bool, error) {
	v, closer, err := x.db.Get(k)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	at, err := decodeParkedAt(v)
	return at, err == nil, err
}

func decodeParkedAt(v []byte) (int64, error) {
	d := newDecoder("parked", v)
	at := d.varint()
	return at, d.end()
}

// decodeDeadLetter reads the value of a d key into dl.
func decodeDeadLetter(v []byte, dl *evento.DeadLetter) error {
	d := newDecoder("dead letter", v)
	dl.Error = d.string()
	dl.Event = append([]byte{}, d.bytes()...) // never nil, as parked
	return d.end()
}

// DeadLetters returns up to limit events parked under key, oldest first
// (by ParkedAt, then EventID), from one consistent view of the store. It
// fails with an error matching evento.ErrInvalidArgument unless limit is
// between 1 and 10000.
func (x *Executor) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	if limit < 1 || limit > maxDeadLetters {
		return nil, fmt.Errorf("%w: dead letter limit %d not in 1..%d", evento.ErrInvalidArgument, limit, maxDeadLetters)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	prefix := x.keys.deadLetters(key)
	it, err := x.db.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("evento: dead letters %s: %w", key, err)
	}
	defer it.Close()
	out := make([]*evento.DeadLetter, 0, min(limit, 64))
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()[len(prefix):]
		if len(k) < 8 {
			return nil, fmt.Errorf("evento: dead letters %s: %w: key %q", key, errCorrupt, it.Key())
		}
		id, rest, err := readString(k[8:])
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("evento: dead letters %s: %w: key %q", key, errCorrupt, it.Key())
		}
		dl := &evento.DeadLetter{Key: key, EventID: id, ParkedAt: unixMicro(readInt64(k))}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("evento: dead letters %s: %w", key, err)
		}
		if err := decodeDeadLetter(v, dl); err != nil {
			return nil, fmt.Errorf("evento: dead letter %s of %s: %w", id, key, err)
		}
		out = append(out, dl)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("evento: dead letters %s: %w", key, err)
	}
	return out, nil
}

// DeleteDeadLetter removes the event eventID parked under key. It fails
// with an error matching evento.ErrNotFound when key has no such event.
func (x *Executor) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	x.leaseMu.Lock()
	defer x.leaseMu.Unlock()
	parked := x.keys.parked(key, eventID)
	at, found, err := x.parkedAt(parked)
	switch {
	case err != nil:
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	case !found:
		return fmt.Errorf("%w: dead letter %s of subscription %s", evento.ErrNotFound, eventID, key)
	}
	b := x.db.NewBatch()
	defer b.Close()
	if err := b.Delete(x.keys.deadLetter(key, at, eventID), nil); err != nil {
		return err
	}
	if err := b.Delete(parked, nil); err != nil {
		return err
	}
	if err := b.Commit(x.write); err != nil {
		return fmt.Errorf("evento: delete dead letter %s of %s: %w", eventID, key, err)
	}
	return nil
}
