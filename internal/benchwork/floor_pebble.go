package benchwork

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// PebbleFloor is the floor on Pebble: each Insert is one raw batch
// committed with Sync, holding an event key (position → row) and the two
// unique index keys (aggregate and version → position, id → position). A
// mutex serialises the version check and the commit, the simplest way to
// keep the aggregate index unique with no library in between.
type PebbleFloor struct {
	db   *pebbledb.DB
	mu   sync.Mutex
	next int64
}

// OpenPebbleFloor opens a new Pebble database in dir.
func OpenPebbleFloor(dir string) (*PebbleFloor, error) {
	// The executor's options: newest format, 64 MiB cache, bloom filters.
	o := &pebbledb.Options{
		FormatMajorVersion: pebbledb.FormatNewest,
		CacheSize:          64 << 20,
		Logger:             quiet{pebbledb.DefaultLogger},
	}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebbledb.Open(dir, o)
	if err != nil {
		return nil, err
	}
	return &PebbleFloor{db: db}, nil
}

// quiet drops Pebble's informational messages, as the executor does.
type quiet struct{ pebbledb.Logger }

func (quiet) Infof(string, ...any) {}

func eventKey(p int64) []byte { return binary.BigEndian.AppendUint64([]byte{'e'}, uint64(p)) }

func aggPrefix(id string) []byte {
	k := append([]byte{'a'}, AggregateType...)
	k = append(k, 0)
	k = append(k, id...)
	return append(k, 0)
}

func aggKey(id string, v int64) []byte {
	return binary.BigEndian.AppendUint64(aggPrefix(id), uint64(v))
}

// encodeRow lays a row out as length-prefixed fields.
func encodeRow(r Row) []byte {
	b := make([]byte, 0, 64+len(r.Data)+len(r.Metadata))
	b = append(b, r.ID[:]...)
	for _, s := range [][]byte{[]byte(AggregateType), []byte(r.AggregateID), []byte("Happened"), r.Data, r.Metadata} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, r.Version)
	return binary.AppendVarint(b, r.Timestamp.UnixMicro())
}

// decodeRow walks the fields, copying them as a reader would.
func decodeRow(b []byte) (version int64, err error) {
	if len(b) < 16 {
		return 0, errors.New("short row")
	}
	id := bytes.Clone(b[:16])
	_ = id
	b = b[16:]
	for range 5 {
		n, k := binary.Uvarint(b)
		if k <= 0 || int(n) > len(b)-k {
			return 0, errors.New("bad row")
		}
		_ = bytes.Clone(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	version, k := binary.Varint(b)
	if k <= 0 {
		return 0, errors.New("bad row")
	}
	return version, nil
}

// Insert implements Floor.
func (f *PebbleFloor) Insert(ctx context.Context, rows []Row) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.db.NewBatch()
	defer b.Close()
	for i, r := range rows {
		k := aggKey(r.AggregateID, r.Version)
		if _, c, err := f.db.Get(k); err == nil {
			c.Close()
			return ErrConflict
		} else if !errors.Is(err, pebbledb.ErrNotFound) {
			return err
		}
		p := f.next + int64(i) + 1
		pk := eventKey(p)
		if err := b.Set(pk, encodeRow(r), nil); err != nil {
			return err
		}
		if err := b.Set(k, pk[1:], nil); err != nil {
			return err
		}
		if err := b.Set(append([]byte{'i'}, r.ID[:]...), pk[1:], nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebbledb.Sync); err != nil {
		return err
	}
	f.next += int64(len(rows))
	return nil
}

// LastVersion implements Floor.
func (f *PebbleFloor) LastVersion(ctx context.Context, id string) (int64, error) {
	prefix := aggPrefix(id)
	it, err := f.db.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: append(bytes.Clone(prefix), 0xff)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return int64(binary.BigEndian.Uint64(it.Key()[len(prefix):])), nil
}

// ReadAll implements Floor.
func (f *PebbleFloor) ReadAll(ctx context.Context, after int64, limit int) (int, int64, error) {
	it, err := f.db.NewIter(&pebbledb.IterOptions{LowerBound: eventKey(after + 1), UpperBound: []byte{'f'}})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	n, last := 0, after
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		if _, err := decodeRow(it.Value()); err != nil {
			return 0, 0, err
		}
		last = int64(binary.BigEndian.Uint64(it.Key()[1:]))
		n++
	}
	return n, last, it.Error()
}

// ReadAggregate implements Floor: an index range, then a point read per
// event.
func (f *PebbleFloor) ReadAggregate(ctx context.Context, id string, after int64, limit int) (int, int64, error) {
	prefix := aggPrefix(id)
	it, err := f.db.NewIter(&pebbledb.IterOptions{LowerBound: aggKey(id, after+1), UpperBound: append(bytes.Clone(prefix), 0xff)})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	n, last := 0, after
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		v, c, err := f.db.Get(append([]byte{'e'}, it.Value()...))
		if err != nil {
			return 0, 0, err
		}
		last, err = decodeRow(v)
		c.Close()
		if err != nil {
			return 0, 0, err
		}
		n++
	}
	return n, last, it.Error()
}

// Close implements Floor.
func (f *PebbleFloor) Close() error { return f.db.Close() }
