// Package groupcommit queues concurrent appends so that a store can write
// several commits in one transaction or one statement (group commit) while
// each commit keeps its own outcome.
//
// An appender adds its commit to a [Queue] and calls [Queue.Wait]. Whoever
// holds one of the store's write turns takes the commits queued at that
// moment ([Queue.Take]), writes them and finishes each request with its own
// result; an appender whose commit another turn took just waits for it.
package groupcommit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

// Request is one queued commit.
type Request struct {
	// Ctx is the appender's context: a request whose context is done
	// before its batch is written should be left out of it.
	Ctx context.Context
	// Commit is the commit to write.
	Commit *evento.Commit

	q    *Queue // the queue it was added to, told of its success
	err  error
	done chan struct{} // closed once err is set
}

// Finished reports whether the request has its outcome.
func (r *Request) Finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Finish records the request's outcome and wakes its appender. A request
// is finished exactly once, and with a nil error only once its commit is
// stored.
func (r *Request) Finish(err error) {
	if err == nil && r.q != nil {
		r.q.remember(r.Commit)
	}
	r.err = err
	close(r.done)
}

// Fail finishes r with err, prefixed by the commit's aggregate.
func (r *Request) Fail(err error) {
	r.Finish(fmt.Errorf("evento: append to %s/%s: %w", r.Commit.AggregateType, r.Commit.AggregateID, err))
}

// Limits bound one batch.
type Limits struct {
	// MaxCommits is the most commits one batch takes (at least one).
	MaxCommits int
	// MaxEvents stops a batch from taking more commits once it holds this
	// many events; a first commit is taken whatever its size.
	MaxEvents int
	// DistinctAggregates keeps a second commit of an aggregate out of a
	// batch that holds one already; it stays queued, in order, for the
	// next batch.
	DistinctAggregates bool
}

// gatherWait is the longest Take waits for the appenders of the previous
// batch to queue their next commits (see Take).
const gatherWait = 200 * time.Microsecond

// Queue holds the commits waiting to be written. The zero Queue is empty
// and ready to use.
type Queue struct {
	mu      sync.Mutex
	waiting []*Request
	// prev holds the aggregates of the previous batch, with the contexts
	// of their appenders (see expected).
	prev []appender
	// added, when not nil, is signalled (without blocking) by the next Add:
	// Take is waiting for commits.
	added chan struct{}
	// wait, when not zero, replaces gatherWait (tests).
	wait time.Duration
	// misses counts the gathers in a row that ended without the commits
	// they waited for; skip is the number of Takes left that do not wait
	// (see gather).
	misses, skip int
	// stored holds the last commit stored to each aggregate through the
	// queue, while it holds at most maxRemembered aggregates (see stale).
	stored map[aggregate]storedCommit
}

// storedCommit is what the queue remembers of a stored commit: the
// versions its events took, its first event's id, and when it was stored.
type storedCommit struct {
	expected, last int64
	first          ulid.ULID
	at             time.Time
}

// maxRemembered bounds the aggregates Queue.stored holds: it is emptied
// when full.
const maxRemembered = 4096

// rememberFor is how long the queue refuses commits on the strength of a
// stored commit (see stale). Appenders that race on an aggregate come
// back within milliseconds; a store that lost the commit afterwards (a
// restore from a backup, a failover to a replica that had not received
// it) is answered by its own table again after this long.
const rememberFor = time.Second

// remember records c, just stored.
func (q *Queue) remember(c *evento.Commit) {
	if len(c.Events) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stored == nil {
		q.stored = make(map[aggregate]storedCommit)
	}
	a := aggregate{c.AggregateType, c.AggregateID}
	if len(q.stored) >= maxRemembered {
		if _, ok := q.stored[a]; !ok {
			clear(q.stored)
		}
	}
	last := c.Events[len(c.Events)-1].Version
	if prev, ok := q.stored[a]; ok && prev.last >= last {
		return // a later commit came first
	}
	q.stored[a] = storedCommit{expected: c.ExpectedVersion, last: last, first: c.Events[0].ID, at: time.Now()}
}

// stale returns the outcome of c when a commit the queue saw stored, less
// than rememberFor before now, decides it, and nil when only the store
// can. Stored events are never removed, so an aggregate that reached a
// version stays past it: a commit that expects an earlier version fails
// whenever it is written. It is ErrAlreadyAppended when its first event is
// the one stored at that version, which the queue knows for the first
// event of the commit it remembers, and a version conflict otherwise. The
// caller holds q.mu.
func (q *Queue) stale(c *evento.Commit, now time.Time) error {
	s, ok := q.stored[aggregate{c.AggregateType, c.AggregateID}]
	if !ok || c.ExpectedVersion >= s.last || c.ExpectedVersion != s.expected || now.Sub(s.at) >= rememberFor {
		return nil
	}
	if c.Events[0].ID == s.first {
		return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
			evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, s.first, c.ExpectedVersion+1)
	}
	return fmt.Errorf("%w: %s/%s is at version %d or later, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, s.last, c.ExpectedVersion)
}

// Add queues c for an appender whose context is ctx.
func (q *Queue) Add(ctx context.Context, c *evento.Commit) *Request {
	r := &Request{Ctx: ctx, Commit: c, q: q, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	if q.added != nil {
		select {
		case q.added <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
	return r
}

// gather waits, for gatherWait at most, until as many commits are queued
// as the previous batch wrote to aggregates (of appenders whose context is
// live: see expected). Appenders that write one
// commit after the other (each waits for its commit, then makes the next)
// come back together when their batch is written, a few microseconds
// apart; the first of them to take the turn would otherwise write a batch
// of its own commit alone, and the others the next one: twice the batches,
// each a round trip and a flush. A lone appender, or appenders of a single
// aggregate (whose batch commits one of them at most: waiting for the
// others would only space out the rounds), never wait.
//
// An appender that shared a batch once and then went quiet would make
// every later batch wait for it in vain (a short timer lasts a millisecond
// when nothing else runs): after a wait that ends without the commits,
// the next 1, 3, 7, ... 255 Takes that would wait do not, until a wait
// pays off again.
func (q *Queue) gather() {
	q.mu.Lock()
	if len(q.waiting) == 0 || len(q.waiting) >= q.expected() {
		q.mu.Unlock()
		return
	}
	if q.skip > 0 {
		q.skip--
		q.mu.Unlock()
		return
	}
	if q.added == nil {
		q.added = make(chan struct{}, 1)
	}
	wait := gatherWait
	if q.wait != 0 {
		wait = q.wait
	}
	q.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-q.added:
			q.mu.Lock()
			enough := len(q.waiting) >= q.expected()
			if enough {
				q.misses = 0
			}
			q.mu.Unlock()
			if enough {
				return
			}
		case <-timer.C:
			q.mu.Lock()
			q.misses++
			q.skip = 1<<min(q.misses, maxMisses) - 1
			q.mu.Unlock()
			return
		}
	}
}

// maxMisses caps the back-off of gather: 2^maxMisses - 1 Takes without a
// wait at most.
const maxMisses = 8

// Len is the number of queued commits.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// Withdraw removes r if no batch has taken it yet.
func (q *Queue) Withdraw(r *Request) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.waiting, r)
	if i < 0 {
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return true
}

// Take removes and returns the next batch, oldest first, within l. When
// fewer commits are queued than the previous batch wrote to aggregates, it
// first waits a little for more (see gather).
func (q *Queue) Take(l Limits) []*Request {
	q.gather()
	q.mu.Lock()
	defer q.mu.Unlock()
	var (
		batch  []*Request
		events int
		seen   map[aggregate]bool
	)
	kept := q.waiting[:0]
	now := time.Now()
	for i, r := range q.waiting {
		if len(r.Commit.Events) > 0 && r.Ctx.Err() == nil {
			if err := q.stale(r.Commit, now); err != nil {
				// Refused without a write: appenders racing on one
				// aggregate come back with the version they read before
				// one of them moved it on.
				r.Finish(err)
				continue
			}
		}
		full := len(batch) >= max(l.MaxCommits, 1) ||
			len(batch) > 0 && events+len(r.Commit.Events) > l.MaxEvents
		if full {
			kept = append(kept, q.waiting[i:]...)
			break
		}
		if l.DistinctAggregates {
			a := aggregate{r.Commit.AggregateType, r.Commit.AggregateID}
			if seen[a] {
				kept = append(kept, r)
				continue
			}
			if seen == nil {
				seen = make(map[aggregate]bool)
			}
			seen[a] = true
		}
		batch = append(batch, r)
		events += len(r.Commit.Events)
	}
	clear(q.waiting[len(kept):])
	q.waiting = kept
	// One entry per aggregate: seen already holds the batch's aggregates
	// when they are distinct.
	q.prev = q.prev[:0]
	var again map[aggregate]bool
	if seen == nil && len(batch) > 1 {
		again = make(map[aggregate]bool, len(batch))
	}
	for _, r := range batch {
		a := aggregate{r.Commit.AggregateType, r.Commit.AggregateID}
		if again != nil {
			if again[a] {
				continue
			}
			again[a] = true
		}
		q.prev = append(q.prev, appender{a, r.Ctx})
	}
	return batch
}

// aggregate identifies an aggregate.
type aggregate struct{ typ, id string }

// appender is an aggregate of a batch and the context of the appender
// that wrote to it.
type appender struct {
	aggregate
	ctx context.Context
}

// expected is the number of commits gather waits for: the aggregates of
// the previous batch whose appenders' contexts are still live, since those
// appenders may come back with their next commit (one whose context ended,
// before or while its batch was written, will not). Of several commits to
// one aggregate in a batch, the first one's appender stands for the
// aggregate.
func (q *Queue) expected() int {
	n := 0
	for _, a := range q.prev {
		if a.ctx.Err() == nil {
			n++
		}
	}
	return n
}

// Wait waits for r's outcome, writing batches while it does. turn is the
// store's write-turn semaphore (a buffered channel; sending takes a turn);
// write, called while holding a turn, takes a batch from q, writes it,
// finishes every request of the batch and reports whether the batch held
// any. closed, when not nil, is called under the turn: once it returns a
// non-nil error a request still queued fails with it, instead of being
// written.
//
// A context done before r is taken withdraws r: Wait returns the
// context's error and nothing is written. Once a batch holds r, Wait
// returns the batch's outcome for it.
func (q *Queue) Wait(r *Request, turn chan struct{}, write func() bool, closed func() error) error {
	for {
		select {
		case <-r.done:
			return r.err
		case turn <- struct{}{}:
			if closed != nil {
				if err := closed(); err != nil {
					<-turn
					if q.Withdraw(r) {
						r.Fail(err)
					}
					<-r.done
					return r.err
				}
			}
			wrote := !r.Finished() && write()
			<-turn
			if r.Finished() {
				return r.err
			}
			if !wrote {
				// Nothing was queued: r is in the batch of another turn.
				<-r.done
				return r.err
			}
			// The batch was full before reaching r, or r is in a batch
			// of another turn: go on.
		case <-r.Ctx.Done():
			if q.Withdraw(r) {
				r.Fail(r.Ctx.Err())
			}
			<-r.done // a batch took it: its outcome is the answer
			return r.err
		}
	}
}

// Context returns the context for writing batch, whose statements serve
// every request of it: it keeps the values of the first request's context
// and is cancelled once every request's context is done, so that one
// appender giving up does not fail the others' commits. Call stop when
// the batch is written.
func Context(batch []*Request) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].Ctx))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, r := range batch {
		stops[i] = context.AfterFunc(r.Ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// WriteBatch takes the next batch within l and writes it: the requests
// whose appenders gave up are left out (see Live); a lone request goes to
// one, on its own context; several go to many, on the context of the
// whole batch (see Context). It reports whether the queue held any, and
// serves as the write argument of Wait.
func (q *Queue) WriteBatch(l Limits, one func(*Request), many func(context.Context, []*Request)) bool {
	batch := q.Take(l)
	live := Live(batch)
	switch len(live) {
	case 0:
	case 1:
		one(live[0])
	default:
		ctx, stop := Context(live)
		many(ctx, live)
		stop()
	}
	return len(batch) > 0
}

// Live finishes the requests of batch whose appenders gave up before it
// was written, with their context's error, and returns the others.
func Live(batch []*Request) []*Request {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.Ctx.Err(); err != nil {
			r.Fail(err)
			continue
		}
		live = append(live, r)
	}
	return live
}
