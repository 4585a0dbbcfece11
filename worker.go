package evento

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// errInterrupted reports a handler retry abandoned because the worker is
// stopping; the event stays unacknowledged and is delivered again later.
var errInterrupted = errors.New("evento: interrupted")

// releaseTimeout bounds the final acknowledgement and the lease release of a
// stopping worker, which run after its context may have been cancelled.
const releaseTimeout = 10 * time.Second

// run is one worker's state: the subscription, the store, and the worker's
// owner id.
type run struct {
	sub   *Subscription
	st    *Store
	owner string
	query Query
	waker Waker
	// skipStored is when a cursor moved over events without a match was
	// last acknowledged (see skipTo).
	skipStored time.Time
	// headRead is when head last read the end of the log for a
	// subscription other than one of the events without a routing key
	// (see head).
	headRead time.Time
}

func (s *Subscription) newRun(st *Store) *run {
	r := &run{
		sub:   s,
		st:    st,
		owner: ulid.Make().String(),
		query: Query{Filters: s.d.filters(), RoutingKey: s.routingKey},
	}
	r.waker, _ = st.exec.(Waker)
	return r
}

// loop is the body of a started worker: stand by until the lease is free,
// hold it while processing, and start over when it is lost or the store
// fails. It returns nil when stopCtx ends, or the *HandlerError that stopped
// processing.
func (r *run) loop(ctx, stopCtx context.Context) error {
	log := r.st.logger.With("subscription", r.sub.key, "owner", r.owner)
	if !sleep(stopCtx, r.sub.delay) {
		return nil
	}
	failures := 0
	for {
		lease, err := acquireLease(stopCtx, r.st.exec, r.st.logger, r.sub.key, r.owner, r.sub.leaseTTL, r.st.exec.AcquireLease)
		if err == nil {
			log.InfoContext(ctx, "evento: subscription lease acquired", "epoch", lease.Epoch)
			err = r.hold(ctx, stopCtx, lease, true)
		}
		var he *HandlerError
		switch {
		case stopCtx.Err() != nil:
			return nil
		case errors.As(err, &he):
			log.ErrorContext(ctx, "evento: subscription stopped on handler failure", "error", err)
			return err
		case err == nil, errors.Is(err, ErrLeaseHeld):
			failures = 0
			if !sleep(stopCtx, r.sub.pollInterval) {
				return nil
			}
		case errors.Is(err, ErrLeaseLost):
			failures = 0
			log.WarnContext(ctx, "evento: subscription lease lost; standing by")
		default:
			failures++
			log.WarnContext(ctx, "evento: subscription store failure; retrying", "error", err, "failures", failures)
			if !sleep(stopCtx, backoff(r.sub.pollInterval, failures-1)) {
				return nil
			}
		}
	}
}

// acquireLease takes the lease on key for owner under ctx with acquire
// (the executor's AcquireLease, or a LeaseBreaker's BreakLease). A store can
// commit an acquisition and still report that ctx ended, when the
// cancellation arrives between the write and its answer; the lease would
// then stay with an owner that has gone until it expires, and keep every
// other worker out that long. So when the acquisition fails for any reason
// but a held lease after ctx ended, acquireLease takes the lease once more
// under a detached, bounded context and releases it at once (the first
// statement can still be in flight on the server and commit after that
// release; the short TTL below bounds that case too). owner must be
// this caller's alone: the second acquisition succeeds when the lease is
// owner's, free or expired, and so never takes a live lease from another
// owner. It asks for a TTL of at most releaseTimeout, so that a release
// that fails leaves the lease for seconds, not for ttl; such a failure is
// logged. It returns the first acquisition's error.
func acquireLease(ctx context.Context, exec Executor, log *slog.Logger, key, owner string, ttl time.Duration,
	acquire func(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error)) (*Lease, error) {
	lease, err := acquire(ctx, key, owner, ttl)
	if err == nil || ctx.Err() == nil || errors.Is(err, ErrLeaseHeld) {
		return lease, err
	}
	cctx, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer done()
	l, aerr := exec.AcquireLease(cctx, key, owner, min(ttl, releaseTimeout))
	if aerr == nil {
		aerr = exec.ReleaseLease(cctx, l)
	}
	if aerr != nil && !errors.Is(aerr, ErrLeaseHeld) {
		log.WarnContext(ctx, "evento: cannot release a lease whose acquisition was interrupted",
			"subscription", key, "owner", owner, "error", aerr)
	}
	return nil, err
}

// hold processes events under lease and releases the lease when it returns.
// With follow it waits for new events until stopCtx ends; without, it
// returns once the log is drained.
func (r *run) hold(ctx, stopCtx context.Context, lease *Lease, follow bool) error {
	runCtx, cancel := context.WithCancelCause(stopCtx)
	renewed := make(chan struct{})
	go r.renew(runCtx, cancel, *lease, renewed)
	defer func() {
		cancel(nil)
		<-renewed
		rctx, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer done()
		if err := r.st.exec.ReleaseLease(rctx, lease); err != nil {
			r.st.logger.WarnContext(ctx, "evento: cannot release subscription lease",
				"subscription", r.sub.key, "error", err)
		}
	}()
	wait := r.sub.pollInterval
	for {
		var wake <-chan struct{}
		if follow && r.waker != nil {
			wake = r.waker.Wake()
		}
		n, err := r.drain(ctx, runCtx, lease)
		if err != nil {
			return err
		}
		if cause := context.Cause(runCtx); errors.Is(cause, ErrLeaseLost) {
			return cause
		}
		if !follow {
			// Execute: nil after a full drain; the context's error when it
			// ended first, so that a caller never mistakes a partial run for
			// a caught-up one.
			return context.Cause(runCtx)
		}
		if runCtx.Err() != nil {
			return nil
		}
		// Adaptive polling: soon after finding events, backing off to the
		// poll interval while there are none.
		if n > 0 {
			wait = max(r.sub.pollInterval/16, time.Millisecond)
		} else {
			wait = min(2*wait, r.sub.pollInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		case <-runCtx.Done():
		}
		t.Stop()
	}
}

// renew keeps the lease alive while runCtx lasts. When the lease is lost, or
// cannot be renewed before it expires, it cancels runCtx with ErrLeaseLost
// so that this worker stops before a successor can start.
func (r *run) renew(runCtx context.Context, cancel context.CancelCauseFunc, lease Lease, done chan<- struct{}) {
	defer close(done)
	ttl := r.sub.leaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-runCtx.Done():
			return
		case <-t.C:
		}
		err := r.st.exec.RenewLease(runCtx, &lease, ttl)
		switch {
		case err == nil:
		case runCtx.Err() != nil:
			return
		case errors.Is(err, ErrLeaseLost) || time.Until(lease.ExpiresAt) < ttl/3:
			cancel(fmt.Errorf("%w: %v", ErrLeaseLost, err))
			return
		default:
			r.st.logger.WarnContext(runCtx, "evento: cannot renew subscription lease; retrying",
				"subscription", r.sub.key, "error", err)
		}
	}
}

// drain processes the events after lease.Cursor until none are left or
// runCtx ends, and reports how many it read.
func (r *run) drain(ctx, runCtx context.Context, lease *Lease) (int, error) {
	if r.sub.partitions > 1 {
		return r.drainParallel(ctx, runCtx, lease)
	}
	return r.drainSequential(ctx, runCtx, lease)
}

// pending is what a worker has processed but not yet acknowledged: the
// cursor has moved in memory (lease.Cursor) past the events it counts.
type pending struct {
	since   time.Time          // when the first of these events was passed
	last    *Event             // the last event passed, for the lag
	failed  *SubscriptionError // the last failure to record
	park    []*DeadLetter      // events to park
	n       int                // events passed since the last acknowledgement
	skipped bool               // the cursor moved over events without a match
}

func (p *pending) any() bool { return p.last != nil || p.failed != nil || len(p.park) > 0 || p.skipped }

// pass records that the cursor moved past e.
func (p *pending) pass(e *Event) {
	if p.n == 0 {
		p.since = time.Now()
	}
	p.last = e
	p.n++
}

// ackDue reports whether a worker that keeps finding events should
// acknowledge p now: when it holds at least a chunk of events and the
// acknowledgement interval has passed since the first of them, or when a
// failure is waiting to be recorded.
func (r *run) ackDue(p *pending) bool {
	return p.failed != nil || len(p.park) > 0 ||
		p.n >= r.sub.chunkSize && time.Since(p.since) >= r.sub.ackInterval
}

// drainSequential processes pages of events one at a time, acknowledging
// once per page.
func (r *run) drainSequential(ctx, runCtx context.Context, lease *Lease) (int, error) {
	// Handlers run on a context that a shutdown does not cancel, so that
	// the event in hand is finished rather than torn.
	hctx := context.WithoutCancel(ctx)
	read := 0
	var p pending
	limit := r.sub.chunkSize
	head := r.head(runCtx)
	for {
		started := time.Now()
		q := r.query
		q.Args = cursor.Forward(limit, lease.Cursor)
		page, err := r.st.exec.Read(runCtx, q)
		if err != nil {
			if runCtx.Err() == nil {
				err = fmt.Errorf("evento: subscription %s: read: %w", r.sub.key, err)
			} else {
				err = nil
			}
			// What was handled before the failed read is still stored.
			if p.any() {
				err = errors.Join(err, r.acknowledge(ctx, lease, &p))
			}
			return read, err
		}
		read += len(page.Edges)
		var failure error
		for _, edge := range page.Edges {
			if runCtx.Err() != nil {
				break
			}
			err := r.handle(hctx, runCtx, lease, edge, &p)
			if errors.Is(err, errInterrupted) {
				break
			}
			if err == nil && lease.Cursor == edge.Cursor {
				continue // a transactional handler stored it with its writes
			}
			if err != nil {
				if failure = r.failed(ctx, &p, edge.Node, err); failure != nil {
					break
				}
			}
			lease.Cursor = edge.Cursor
			p.pass(edge.Node)
		}
		last := failure != nil || runCtx.Err() != nil || !page.PageInfo.HasNextPage
		if last && failure == nil && runCtx.Err() == nil {
			r.skipTo(lease, head, &p)
		}
		if p.any() && (last || r.ackDue(&p)) {
			if err := r.acknowledge(ctx, lease, &p); err != nil {
				return read, err
			}
		}
		if last {
			return read, failure
		}
		limit = r.nextChunk(limit, page.Edges, time.Since(started))
	}
}

// head returns the cursor of the last event of the log, read before the
// drain reads anything, so that the drain can move its cursor there (see
// skipTo); "" for an empty log, after a failed read, and when head does
// not read.
//
// It reads before every drain of a subscription of the events without a
// routing key, and at most once per acknowledgement interval before the
// drains of other subscriptions: an idle worker then walks at most the
// events appended since, and a busy one pays one more read in that time.
// It reads nothing unless the executor says its reads are monotonic
// (MonotonicReader): a Group's cursors are not single positions, and an
// Rw's read store may be several replicas behind one address, where a read
// can see less of the log than the read before it, and the drain could
// miss what the head read saw.
func (r *run) head(ctx context.Context) cursor.Value {
	if m, ok := r.st.exec.(MonotonicReader); !ok || !m.MonotonicReads() {
		return ""
	}
	if !r.query.RoutingKey.IsNone() {
		if time.Since(r.headRead) < r.sub.ackInterval {
			return ""
		}
		r.headRead = time.Now()
	}
	page, err := r.st.exec.Read(ctx, Query{Args: cursor.Backward(1, "")})
	if err != nil || len(page.Edges) == 0 {
		return ""
	}
	return page.Edges[0].Cursor
}

// skipTo moves lease.Cursor forward to head, when it lies further, once a
// drain has read every matching event after the cursor. A read from the
// cursor may walk every event after it that it does not return: SQLite,
// PostgreSQL and Pebble keep no index of the events without a routing
// key; SQLite walks a routing key's index for a read of a type and a key;
// PostgreSQL walks the primary key for a filter of few events once its
// statistics say so. A drain that finds none to handle would walk them
// all again at every poll, and a subscription of rare events on a busy log
// would cost in proportion to the log at every wake. head was read
// before the drain's first page, a store never gives a later event a
// position at or before one it has returned, and its later reads see at
// least what its earlier ones saw, so the drain's reads saw every event up
// to head: none is left to handle there. The move is kept
// in memory, and acknowledged at most once per acknowledgement interval;
// a worker that stops first leaves the stored cursor where it was, which
// costs its successor one walk.
func (r *run) skipTo(lease *Lease, head cursor.Value, p *pending) {
	if head == "" {
		return
	}
	to, err := cursor.Decode(head)
	if err != nil {
		return
	}
	at, err := cursor.Decode(lease.Cursor)
	if err != nil || !at.Less(to) {
		return
	}
	lease.Cursor = head
	if time.Since(r.skipStored) >= r.sub.ackInterval {
		p.skipped = true
		r.skipStored = time.Now()
	}
}

// Bounds of the reads of a sequential worker that is catching up.
const (
	catchUpMaxChunk = 1000    // events
	catchUpMaxBytes = 1 << 20 // of event data, estimated by eventSize
)

// nextChunk returns how many events a sequential worker reads next, after
// a full page of edges read with the limit limit, which took the duration
// took to read and handle. A worker catching up on a long log of quick
// events spends most of its time on queries, one per page: while pages
// come back full and take less than the acknowledgement interval, each
// read asks for twice as many events as the last, up to catchUpMaxChunk
// events and about catchUpMaxBytes of them (judged by the page just read).
// A page that took longer sends it back to the subscription's chunk size,
// and so does running out of events (every drain starts there): live, a
// worker reads few events at a time, and a slow handler never sees longer
// pages.
func (r *run) nextChunk(limit int, edges []cursor.Edge[*Event], took time.Duration) int {
	chunk := r.sub.chunkSize
	if took >= r.sub.ackInterval || len(edges) == 0 {
		return chunk
	}
	size := 0
	for _, e := range edges {
		size += eventSize(e.Node)
	}
	fit := catchUpMaxBytes / max(size/len(edges), 1)
	return max(chunk, min(2*limit, catchUpMaxChunk, fit))
}

// eventSize estimates the memory a decoded event holds.
func eventSize(e *Event) int {
	const fixed = 256 // the Event itself and its metadata's usual fields
	return fixed + len(e.Data) + len(e.AggregateType) + len(e.AggregateID) + len(e.Name) + len(e.RoutingKey)
}

// failed applies the failure policy to the error err that handling e
// returned. It returns err when processing must stop: a store failure, or a
// handler failure the subscription does not pass over; otherwise it records
// the failure in p and returns nil.
func (r *run) failed(ctx context.Context, p *pending, e *Event, err error) error {
	var he *HandlerError
	if !errors.As(err, &he) {
		return err
	}
	rec := &SubscriptionError{EventID: e.ID.String(), Message: failureMessage(he), At: time.Now(), Fatal: r.sub.onFailure == failStop}
	p.failed = rec
	switch r.sub.onFailure {
	case failAccept:
		r.st.logger.ErrorContext(ctx, "evento: subscription handler failed; event passed over",
			"subscription", r.sub.key, "event_id", rec.EventID, "error", err)
		return nil
	case failPark:
		b, merr := e.MarshalBinary()
		if merr != nil {
			return errors.Join(err, merr)
		}
		p.park = append(p.park, &DeadLetter{Key: r.sub.key, EventID: rec.EventID, Event: b, Error: rec.Message})
		r.st.logger.ErrorContext(ctx, "evento: subscription handler failed; event parked",
			"subscription", r.sub.key, "event_id", rec.EventID, "error", err)
		return nil
	}
	return err
}

// failureMessage is what a subscription records of a handler failure, at
// most MaxErrorLen bytes: the handler's error first, so that a listing cut
// to a few words shows the cause, then the event's aggregate, name and
// version (the record holds its id); a long error is cut, not the event.
// fmt formats the error, as HandlerError.Error does, so that a nil error or
// a panicking Error method is written out rather than raised.
func failureMessage(he *HandlerError) string {
	e := he.Event
	event := fmt.Sprintf(" (%s/%s %s, version %d)", e.AggregateType, e.AggregateID, e.Name, e.Version)
	if len(event) > MaxErrorLen {
		return truncate(fmt.Sprint(he.Err)+event, MaxErrorLen)
	}
	return truncate(fmt.Sprint(he.Err), MaxErrorLen-len(event)) + event
}

// MaxErrorLen bounds the handler error messages a subscription records.
const MaxErrorLen = 4096

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// acknowledge stores lease.Cursor, which points past p.last, with the lag
// behind p.last and p's failure and parked events. It runs on a context
// that a shutdown does not cancel, so that a stopping worker still records
// what it finished.
func (r *run) acknowledge(ctx context.Context, lease *Lease, p *pending) error {
	ack := Ack{Cursor: lease.Cursor, Error: p.failed, Park: p.park}
	if p.last != nil {
		ack.Lag = max(time.Since(p.last.Timestamp), 0)
	}
	actx, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	err := r.st.exec.Acknowledge(actx, lease, ack)
	done()
	if err != nil {
		return fmt.Errorf("evento: subscription %s: acknowledge: %w", r.sub.key, err)
	}
	r.st.tel.recordLag(ctx, r.sub.key, ack.Lag)
	if r.st.logger.Enabled(ctx, slog.LevelDebug) && p.last != nil {
		r.st.logger.DebugContext(ctx, "evento: subscription acknowledged",
			"subscription", r.sub.key, "position", p.last.Position.String(), "lag", ack.Lag)
	}
	*p = pending{}
	return nil
}

// handle runs the handler for the event of edge with retries. It returns a
// *HandlerError when the handler still fails after them, errInterrupted
// when the worker stops while waiting to retry, and for a transactional
// subscription the store's error when a transaction could not commit.
// A transactional subscription's successful handler leaves lease.Cursor
// stored past the event.
func (r *run) handle(hctx, runCtx context.Context, lease *Lease, edge cursor.Edge[*Event], p *pending) error {
	e := edge.Node
	fn, ok, err := r.sub.d.lookup(e)
	if err != nil {
		return &HandlerError{Key: r.sub.key, Event: e, Err: err}
	}
	if !ok {
		return nil
	}
	try := func(ctx context.Context) error { return handlerCall(ctx, r.st, e, fn) }
	if r.sub.transactional {
		try = func(ctx context.Context) error { return r.inTx(ctx, lease, edge, p, fn) }
	}
	hctx, op := r.st.tel.startHandle(hctx, r.sub.key, e)
	err = r.attempts(hctx, runCtx, e, try, &op)
	op.end(err)
	return err
}

// handlerFailed marks the handler's own error in an attempt, to tell it
// from the store's (in a transactional attempt).
type handlerFailed struct{ err error }

func (h handlerFailed) Error() string { return h.err.Error() }

// handlerCall calls the handler and marks its error as the handler's.
func handlerCall(ctx context.Context, st *Store, e *Event, fn func(context.Context, *Store, *Event) error) error {
	if err := call(ctx, st, e, fn); err != nil {
		return handlerFailed{err}
	}
	return nil
}

// inTx runs fn for edge's event in a transaction that also acknowledges
// the cursor past it, with what p holds, and empties p when it commits. A
// handler error comes back as handlerFailed.
func (r *run) inTx(ctx context.Context, lease *Lease, edge cursor.Edge[*Event], p *pending, fn func(context.Context, *Store, *Event) error) error {
	ack := Ack{Cursor: edge.Cursor, Lag: max(time.Since(edge.Node.Timestamp), 0), Error: p.failed, Park: p.park}
	err := acknowledgeTx(ctx, r.st.exec, lease, ack, func(txCtx context.Context) error {
		return handlerCall(txCtx, r.st, edge.Node, fn)
	})
	if err == nil {
		*p = pending{}
	}
	return err
}

// attempts runs try until it succeeds or the handler's retries run out,
// recording each call on op. try marks the handler's errors with
// handlerFailed; any other error is the store's (in a transactional
// attempt) and ends the attempts at once.
func (r *run) attempts(hctx, runCtx context.Context, e *Event, try func(context.Context) error, op *handleOp) error {
	for attempt := 0; ; attempt++ {
		began := op.attempt()
		err := try(hctx)
		op.called(hctx, began, err)
		if err == nil {
			return nil
		}
		var hf handlerFailed
		if !errors.As(err, &hf) {
			return fmt.Errorf("evento: subscription %s: store: %w", r.sub.key, err)
		}
		err = hf.err
		if attempt >= r.sub.retries {
			return &HandlerError{Key: r.sub.key, Event: e, Err: err}
		}
		r.st.logger.WarnContext(hctx, "evento: subscription handler failed; retrying",
			"subscription", r.sub.key, "event_id", e.ID, "attempt", attempt+1, "error", err)
		if !sleep(runCtx, backoff(r.sub.backoff, attempt)) {
			return errInterrupted
		}
	}
}

// call runs a handler and turns a panic into an error, so that one bad event
// cannot take the process down.
func call(ctx context.Context, st *Store, e *Event, fn func(context.Context, *Store, *Event) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return fn(ctx, st, e)
}

// backoff returns base × 2^attempt, capped at maxBackoff.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for range attempt {
		if d >= maxBackoff/2 {
			return maxBackoff
		}
		d *= 2
	}
	return min(d, maxBackoff)
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
