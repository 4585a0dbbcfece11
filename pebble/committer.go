package pebble

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento/internal/wake"
	"github.com/oklog/ulid/v2"
)

// maxGroupBytes is where the committer stops adding queued commits to a
// group; a larger single commit forms a group of its own.
const maxGroupBytes = 64 << 20

// committer is the single write path of the events, in two stages that
// overlap:
//
//  1. One goroutine takes every commit queued since its last turn (a
//     group), checks each against the aggregate versions in the database
//     and in the group so far, numbers the admitted events from next, and
//     applies them all in one Pebble batch, without waiting for a sync.
//     Batches enter Pebble's write-ahead log one at a time, in position
//     order.
//  2. Another goroutine (the syncer) takes every applied group, syncs the
//     log once for all of them, raises the durable watermark to their last
//     position, and answers their appenders.
//
// While the log syncs, the next group is built and applied, so the more
// writers there are, the more commits share each sync. Readers see only
// positions up to the durable watermark: Pebble makes a batch visible
// before its sync, and a reader must never see an event that a crash could
// take back. Because a sync covers everything the log holds before it (and
// Pebble syncs a log file before it starts the next), every group up to
// the watermark is durable, and the log always ends on a whole group.
type committer struct {
	db   *pebbledb.DB
	keys keys
	wake *wake.Signal
	// sync is false with WithoutSync: groups are answered once applied.
	sync bool

	// durable is the last position readers may see.
	durable atomic.Uint64

	// next is the position of the next event. Only the committer goroutine
	// uses it, and known.
	next uint64
	// known caches the last version and routing key of recently written
	// aggregates, so that most commits skip the reverse seek of the
	// version index. Only the committer writes events under its prefix, so
	// an entry stays true until the committer itself changes the
	// aggregate; it updates entries once their batch is applied, and a
	// failed batch empties the cache.
	known map[aggregateRef]aggregateState
	// maxID is at least the greatest event id stored (in byte order): an id
	// above it is not stored, and the committer admits it without a
	// lookup. Ids are ULIDs, which grow with time, so a new event's id
	// usually is above it. Only the committer goroutine uses it; it rises
	// when a batch is written, so a failed batch can only leave it too
	// high, which costs lookups and never admits a stored id.
	maxID ulid.ULID

	// failure, once set, fails every later append: a write whose outcome
	// is unknown left the committer unable to tell where the log ends.
	failure atomic.Pointer[error]

	requests *queue[*request]
	rounds   *queue[*round]
	done     chan struct{}
}

// round is an applied group on its way to the syncer.
type round struct {
	requests []*request
	verdicts []verdict
	// last is the last position assigned so far: the group is durable
	// once the log is synced after it.
	last uint64
}

func newCommitter(db *pebbledb.DB, k keys, sync bool, next uint64, maxID ulid.ULID, w *wake.Signal) *committer {
	c := &committer{
		db: db, keys: k, wake: w, sync: sync, next: next, maxID: maxID,
		known:    make(map[aggregateRef]aggregateState),
		requests: newQueue[*request](),
		rounds:   newQueue[*round](),
		done:     make(chan struct{}),
	}
	c.durable.Store(next - 1)
	return c
}

// start runs the committer's goroutines.
func (c *committer) start() {
	syncerDone := make(chan struct{})
	go func() {
		defer close(syncerDone)
		c.runSyncer()
	}()
	go func() {
		defer close(c.done)
		c.run()
		c.rounds.close()
		<-syncerDone
	}()
}

// push queues r; its outcome arrives on r.done.
func (c *committer) push(r *request) error {
	if !c.requests.push(r) {
		return ErrClosed
	}
	return nil
}

// close stops the committer once everything queued is answered.
func (c *committer) close() {
	c.requests.close()
	<-c.done
}

func (c *committer) run() {
	for {
		group, ok := c.requests.take(groupSize)
		if !ok {
			return
		}
		c.commit(group)
	}
}

// groupSize counts the oldest queued commits that fit in maxGroupBytes.
func groupSize(pending []*request) int {
	n, size := 0, 0
	for n < len(pending) && size+pending[n].size <= maxGroupBytes {
		size += pending[n].size
		n++
	}
	return n
}

// commit decides and applies one group, and passes it on to be answered.
func (c *committer) commit(group []*request) {
	if err := c.failed(); err != nil {
		for _, r := range group {
			r.done <- err
		}
		return
	}
	g := c.newGroup()
	defer g.close()

	verdicts := make([]verdict, len(group))
	admitted := 0
	now := time.Now().UnixMicro()
	for i, r := range group {
		verdicts[i] = g.admit(r)
		if verdicts[i].err != nil {
			continue
		}
		if err := g.write(r, c.next, now); err != nil {
			c.fail(group, verdicts, err)
			return
		}
		c.next += uint64(len(r.commit.Events))
		admitted++
	}
	if admitted > 0 {
		if err := g.batch.Commit(pebbledb.NoSync); err != nil {
			c.fail(group, verdicts, err)
			return
		}
	}
	g.remember()
	rd := &round{requests: group, verdicts: verdicts, last: c.next - 1}
	if !c.sync {
		c.answer([]*round{rd})
		return
	}
	c.rounds.push(rd)
}

// runSyncer makes applied rounds durable, one log sync for all the rounds
// queued since the last, and answers them.
func (c *committer) runSyncer() {
	for {
		rounds, ok := c.rounds.take(nil)
		if !ok {
			return
		}
		err := c.failed()
		if last := rounds[len(rounds)-1].last; err == nil && last > c.durable.Load() {
			if serr := c.db.LogData(nil, pebbledb.Sync); serr != nil {
				// After a failed sync, not even a later successful one
				// proves the log intact.
				err = c.breakWith(fmt.Errorf("evento: pebble: sync write-ahead log, the commit may or may not be stored: %w", serr))
			}
		}
		if err != nil {
			for _, rd := range rounds {
				for _, r := range rd.requests {
					r.done <- err
				}
			}
			continue
		}
		c.answer(rounds)
	}
}

// answer raises the durable watermark past rounds and answers their
// appenders.
func (c *committer) answer(rounds []*round) {
	c.durable.Store(rounds[len(rounds)-1].last)
	for _, rd := range rounds {
		for i, r := range rd.requests {
			if rd.verdicts[i].err == nil {
				r.apply()
			}
			r.done <- rd.verdicts[i].err
		}
	}
	c.wake.Fire()
}

// fail answers a group whose batch could not be applied. The admitted
// commits failed with it, and so did the rejected ones whose verdict
// rested on them. The log's end is read back from the database, since the
// numbers handed out were not all used.
func (c *committer) fail(group []*request, verdicts []verdict, err error) {
	for i, r := range group {
		v := verdicts[i]
		if v.err == nil || v.dependsOnGroup {
			cm := r.commit
			r.done <- fmt.Errorf("evento: append to %s/%s: write batch: %w", cm.AggregateType, cm.AggregateID, err)
			continue
		}
		r.done <- v.err
	}
	clear(c.known)
	next, rerr := nextPosition(c.db, c.keys)
	if rerr != nil {
		c.breakWith(errors.Join(fmt.Errorf("evento: pebble: log end unknown after a failed write: %w", err), rerr))
		return
	}
	c.next = next
}

// breakWith records the failure that stops every later append, and returns
// the one recorded first.
func (c *committer) breakWith(err error) error {
	c.failure.CompareAndSwap(nil, &err)
	return *c.failure.Load()
}

func (c *committer) failed() error {
	if p := c.failure.Load(); p != nil {
		return *p
	}
	return nil
}
