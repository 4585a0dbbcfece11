package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// The administration hooks of package evento: listing subscriptions,
// counting events, breaking a lease and reporting the key layout version.
// They serve tools (the evento command) and scan whole indexes; none of
// them is on an application's path.

var (
	_ evento.SubscriptionLister = (*Executor)(nil)
	_ evento.Statistician       = (*Executor)(nil)
	_ evento.LeaseBreaker       = (*Executor)(nil)
	_ evento.Migrator           = (*Executor)(nil)
)

// Subscriptions returns the stored state of every subscription key, sorted
// by key (the lease table's key order is the keys' byte order).
func (x *Executor) Subscriptions(ctx context.Context) ([]*evento.SubscriptionStatus, error) {
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	table := x.keys.table(tagLease)
	var out []*evento.SubscriptionStatus
	err := x.scanKeys(ctx, table, func(it *pebbledb.Iterator) error {
		key, rest, err := readString(it.Key()[len(table):])
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("%w: lease key %q", errCorrupt, it.Key())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		r, err := decodeLease(v)
		if err != nil {
			return fmt.Errorf("subscription %s: %w", key, err)
		}
		out = append(out, r.status(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evento: list subscriptions: %w", err)
	}
	return out, nil
}

// Stats counts the events per aggregate type and name by scanning the name
// index, and the aggregates per type by visiting the first version key of
// each aggregate. Size is the disk space of the whole Pebble database,
// write-ahead log included (recent writes live only there and in memory),
// whatever key prefixes share it.
func (x *Executor) Stats(ctx context.Context) (*evento.Stats, error) {
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	st := &evento.Stats{}

	// n <type> <name> <pos>: keys of one (type, name) are adjacent, and
	// types come in order, so each new type starts a new entry.
	names := x.keys.table(tagName)
	var group []byte
	err := x.scanKeys(ctx, names, func(it *pebbledb.Iterator) error {
		k := it.Key()
		if len(k) < len(names)+8 {
			return fmt.Errorf("%w: name index key %q", errCorrupt, k)
		}
		if g := k[len(names) : len(k)-8]; !bytes.Equal(g, group) {
			group = append(group[:0], g...)
			typ, rest, err := readString(g)
			if err != nil {
				return err
			}
			name, rest, err := readString(rest)
			if err != nil || len(rest) != 0 {
				return fmt.Errorf("%w: name index key %q", errCorrupt, k)
			}
			if len(st.Types) == 0 || st.Types[len(st.Types)-1].AggregateType != typ {
				st.Types = append(st.Types, evento.TypeStats{AggregateType: typ})
			}
			ts := &st.Types[len(st.Types)-1]
			ts.Names = append(ts.Names, evento.NameStats{Name: name})
		}
		ts := &st.Types[len(st.Types)-1]
		ts.Names[len(ts.Names)-1].Events++
		ts.Events++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}

	// a <type> <id> <version>: skip from each aggregate to the next.
	aggregates := x.keys.table(tagAggregate)
	it, err := x.db.NewIter(&pebbledb.IterOptions{LowerBound: aggregates, UpperBound: prefixEnd(aggregates)})
	if err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}
	defer it.Close()
	i := 0
	for ok := it.First(); ok; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := it.Key()
		if len(k) < len(aggregates)+8 {
			return nil, fmt.Errorf("evento: stats: %w: aggregate key %q", errCorrupt, k)
		}
		agg := k[len(aggregates) : len(k)-8]
		typ, _, err := readString(agg)
		if err != nil {
			return nil, fmt.Errorf("evento: stats: %w", err)
		}
		for i < len(st.Types) && st.Types[i].AggregateType < typ {
			i++
		}
		if i < len(st.Types) && st.Types[i].AggregateType == typ {
			st.Types[i].Aggregates++
		}
		ok = it.SeekGE(prefixEnd(k[:len(k)-8]))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("evento: stats: %w", err)
	}

	st.Size = int64(x.db.Metrics().DiskSpaceUsage())
	return st, nil
}

// CountAfter counts the events after the cursor in global order. Positions
// are dense from 1, so it is the distance to the durable watermark.
func (x *Executor) CountAfter(ctx context.Context, after cursor.Value) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	seq, err := decodeSeq(after)
	if err != nil {
		return 0, err
	}
	if err := x.enter(); err != nil {
		return 0, err
	}
	defer x.leave()
	if last := x.committer.durable.Load(); seq < last {
		return int64(last - seq), nil
	}
	return 0, nil
}

// BreakLease gives owner the lease on key for ttl, whoever holds it, and
// increments its epoch, so that the previous holder's fenced writes change
// nothing. It fails with an error matching evento.ErrNotFound when key has
// no stored state.
func (x *Executor) BreakLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	if key == "" || owner == "" || ttl <= 0 {
		return nil, fmt.Errorf("%w: lease needs a key, an owner and a positive ttl", evento.ErrInvalidArgument)
	}
	var l *evento.Lease
	err := x.updateLease(ctx, key, func(r *leaseRecord, found bool) error {
		if !found {
			return fmt.Errorf("%w: subscription %s", evento.ErrNotFound, key)
		}
		r.owner = owner
		r.epoch++
		r.expiresAt = time.Now().Add(ttl).UnixMicro()
		l = &evento.Lease{Key: key, Owner: owner, Epoch: r.epoch, Cursor: cursor.Value(r.cursor), ExpiresAt: unixMicro(r.expiresAt)}
		return nil
	})
	if err != nil {
		if errors.Is(err, evento.ErrNotFound) {
			return nil, err
		}
		return nil, leaseError("break", key, err)
	}
	return l, nil
}

// SchemaVersion reports the key layout version of the namespace and the
// one this build writes. Open refuses any other layout, so an open
// executor always reports them equal.
func (x *Executor) SchemaVersion(ctx context.Context) (evento.SchemaVersion, error) {
	if err := ctx.Err(); err != nil {
		return evento.SchemaVersion{}, err
	}
	if err := x.enter(); err != nil {
		return evento.SchemaVersion{}, err
	}
	defer x.leave()
	v, closer, err := x.db.Get(x.keys.layout())
	if err != nil {
		return evento.SchemaVersion{}, fmt.Errorf("evento: schema version: %w", err)
	}
	defer closer.Close()
	if len(v) != 1 {
		return evento.SchemaVersion{}, fmt.Errorf("evento: schema version: %w: layout %v", errCorrupt, v)
	}
	return evento.SchemaVersion{Applied: int64(v[0]), Latest: layoutVersion}, nil
}

// scanKeys calls fn for every key that starts with prefix, in order,
// checking ctx now and then.
func (x *Executor) scanKeys(ctx context.Context, prefix []byte, fn func(it *pebbledb.Iterator) error) error {
	it, err := x.db.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return it.Error()
}

// readString decodes a string written by appendString at the start of b,
// and returns it and the bytes after it.
func readString(b []byte) (string, []byte, error) {
	var s []byte
	start := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] != escape {
			continue
		}
		switch b[i+1] {
		case terminator:
			return string(append(s, b[start:i]...)), b[i+2:], nil
		case escapedNul:
			s = append(append(s, b[start:i]...), escape)
			start = i + 2
			i++
		default:
			return "", nil, fmt.Errorf("%w: bad escape in key %q", errCorrupt, b)
		}
	}
	return "", nil, fmt.Errorf("%w: unterminated string in key %q", errCorrupt, b)
}
