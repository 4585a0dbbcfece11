package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"syscall"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/wake"
	"github.com/oklog/ulid/v2"
)

// Executor is the Pebble implementation of evento.Executor and
// evento.Waker. It is safe for concurrent use. At most one Executor may
// use a key prefix of a database at a time: its committer is the only
// writer of the events under that prefix.
type Executor struct {
	db     *pebbledb.DB
	ownsDB bool
	keys   keys
	write  *pebbledb.WriteOptions

	// life guards the database against Close: every call holds it for
	// reading, Close takes it for writing.
	life   sync.RWMutex
	closed bool
	detach func()

	committer *committer
	// leaseMu serialises the read-modify-write of subscription leases.
	leaseMu sync.Mutex
	wake    wake.Signal
}

var (
	_ evento.Executor        = (*Executor)(nil)
	_ evento.Waker           = (*Executor)(nil)
	_ evento.MonotonicReader = (*Executor)(nil)
)

// Open opens (creating it if needed) the Pebble database in dir. Pebble
// locks the directory, so one process at a time owns it. Close closes the
// database.
func Open(dir string, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: pebble.Open needs a directory", evento.ErrInvalidArgument)
	}
	o := &pebbledb.Options{
		FormatMajorVersion: pebbledb.FormatNewest,
		CacheSize:          64 << 20,
		Logger:             quietLogger{pebbledb.DefaultLogger},
	}
	// Bloom filters spare appends a disk read for each event id they
	// check, since almost every id they look up is new.
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebbledb.Open(dir, o)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) {
			// The directory's LOCK file is held (flock answers EAGAIN).
			return nil, fmt.Errorf("evento: open pebble %s: another process has it open: %w", dir, err)
		}
		return nil, fmt.Errorf("evento: open pebble %s: %w", dir, err)
	}
	x, err := newExecutor(db, cfg)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	x.ownsDB = true
	return x, nil
}

// quietLogger drops Pebble's informational messages (it reports every
// log file it recovers at open) and keeps its errors.
type quietLogger struct{ pebbledb.Logger }

func (quietLogger) Infof(string, ...any) {}

// New runs an executor on a database the caller opened. Keys live under
// the key prefix (see [WithKeyPrefix]); a second executor on the same
// database and prefix is refused until the first is closed. Close leaves
// db open; close the executor before db.
func New(db *pebbledb.DB, opts ...Option) (*Executor, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("%w: pebble.New needs a database", evento.ErrInvalidArgument)
	}
	detach, err := attach(db, cfg.prefix)
	if err != nil {
		return nil, err
	}
	x, err := newExecutor(db, cfg)
	if err != nil {
		detach()
		return nil, err
	}
	x.detach = detach
	return x, nil
}

func newExecutor(db *pebbledb.DB, cfg config) (*Executor, error) {
	k := newKeys(cfg.prefix)
	x := &Executor{db: db, keys: k, write: cfg.writeOptions()}
	if err := x.checkLayout(); err != nil {
		return nil, err
	}
	next, err := nextPosition(db, k)
	if err != nil {
		return nil, err
	}
	maxID, err := lastEventID(db, k)
	if err != nil {
		return nil, err
	}
	x.committer = newCommitter(db, k, !cfg.noSync, next, maxID, &x.wake)
	x.committer.start()
	return x, nil
}

// checkLayout refuses a namespace written with another key layout,
// upgrades one of layout 1, and records the layout in a new one.
func (x *Executor) checkLayout() error {
	v, closer, err := x.db.Get(x.keys.layout())
	switch {
	case errors.Is(err, pebbledb.ErrNotFound):
		if err := x.db.Set(x.keys.layout(), []byte{layoutVersion}, pebbledb.Sync); err != nil {
			return fmt.Errorf("evento: pebble: record layout: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("evento: pebble: read layout: %w", err)
	}
	defer closer.Close()
	switch {
	case len(v) == 1 && v[0] == 1:
		return x.upgradeLayout()
	case len(v) != 1 || v[0] != layoutVersion:
		return fmt.Errorf("%w: key layout %v, this executor knows %d", errCorrupt, v, layoutVersion)
	}
	return nil
}

// upgradeLayout takes a namespace from layout 1 to layout 2: one synced
// batch deletes the routing index entries of the events without a routing
// key (a single range deletion, whatever their number) and records the
// new layout, so that a crash leaves either layout whole. It runs before
// the committer starts, so no append races it.
func (x *Executor) upgradeLayout() error {
	unkeyed := x.keys.routingIndex("")
	b := x.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(unkeyed, prefixEnd(unkeyed), nil); err != nil {
		return fmt.Errorf("evento: pebble: upgrade layout: %w", err)
	}
	if err := b.Set(x.keys.layout(), []byte{layoutVersion}, nil); err != nil {
		return fmt.Errorf("evento: pebble: upgrade layout: %w", err)
	}
	if err := b.Commit(pebbledb.Sync); err != nil {
		return fmt.Errorf("evento: pebble: upgrade layout: %w", err)
	}
	return nil
}

// nextPosition returns the position after the last stored event: positions
// are dense from 1, so the store needs no counter of its own.
func nextPosition(db *pebbledb.DB, k keys) (uint64, error) {
	table := k.table(tagEvent)
	key, err := lastKey(db, table)
	if err != nil || key == nil {
		return 1, err
	}
	last, err := positionSuffix(key, table)
	if err != nil {
		return 0, err
	}
	return last + 1, nil
}

// lastEventID returns the greatest event id stored: the last key of the id
// table (the zero id when there is none).
func lastEventID(db *pebbledb.DB, k keys) (ulid.ULID, error) {
	table := k.table(tagEventID)
	var id ulid.ULID
	key, err := lastKey(db, table)
	if err != nil || key == nil {
		return id, err
	}
	if len(key) != len(table)+len(id) {
		return id, fmt.Errorf("%w: event id key %x", errCorrupt, key)
	}
	copy(id[:], key[len(table):])
	return id, nil
}

// lastKey returns a copy of the last key under table, or nil when there
// is none.
func lastKey(db *pebbledb.DB, table []byte) ([]byte, error) {
	it, err := db.NewIter(&pebbledb.IterOptions{LowerBound: table, UpperBound: prefixEnd(table)})
	if err != nil {
		return nil, fmt.Errorf("evento: pebble: find the last key of table %q: %w", table[len(table)-1], err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("evento: pebble: find the last key of table %q: %w", table[len(table)-1], err)
		}
		return nil, nil
	}
	return bytes.Clone(it.Key()), nil
}

// Close stops the executor, after the appends in flight are answered, and
// closes the database if [Open] opened it; a database passed to [New] stays
// open. Calls after Close fail with ErrClosed.
func (x *Executor) Close() error {
	x.life.Lock()
	defer x.life.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	x.committer.close()
	if x.detach != nil {
		x.detach()
	}
	if x.ownsDB {
		return x.db.Close()
	}
	return nil
}

// MonotonicReads reports true: every read runs on the one database this
// process holds open, up to its durable events, which only grow.
func (x *Executor) MonotonicReads() bool { return true }

// Wake returns a channel that is closed after the next successful append
// through this executor.
func (x *Executor) Wake() <-chan struct{} { return x.wake.C() }

// enter admits a call unless the executor is closed; leave ends it.
func (x *Executor) enter() error {
	x.life.RLock()
	if x.closed {
		x.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (x *Executor) leave() { x.life.RUnlock() }

// attached records which (database, prefix) pairs an executor of this
// process is using.
var attached = struct {
	sync.Mutex
	m map[attachment]bool
}{m: make(map[attachment]bool)}

type attachment struct {
	db     *pebbledb.DB
	prefix string
}

// attach claims prefix of db for one executor and returns the function
// that gives it back.
func attach(db *pebbledb.DB, prefix string) (func(), error) {
	a := attachment{db, prefix}
	attached.Lock()
	defer attached.Unlock()
	if attached.m[a] {
		return nil, fmt.Errorf("%w: another executor already uses key prefix %q of this database", evento.ErrInvalidArgument, prefix)
	}
	attached.m[a] = true
	return func() {
		attached.Lock()
		defer attached.Unlock()
		delete(attached.m, a)
	}, nil
}
