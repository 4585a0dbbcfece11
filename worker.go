package evento

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
		lease, err := r.st.exec.AcquireLease(stopCtx, r.sub.key, r.owner, r.sub.leaseTTL)
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
	for {
		var wake <-chan struct{}
		if follow && r.waker != nil {
			wake = r.waker.Wake()
		}
		if err := r.drain(ctx, runCtx, lease); err != nil {
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
		t := time.NewTimer(r.sub.pollInterval)
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

// drain processes pages of events after lease.Cursor until none are left or
// runCtx ends, acknowledging once per page.
func (r *run) drain(ctx, runCtx context.Context, lease *Lease) error {
	// Handlers run on a context that a shutdown does not cancel, so that
	// the event in hand is finished rather than torn.
	hctx := context.WithoutCancel(ctx)
	for {
		q := r.query
		q.Args = cursor.Forward(r.sub.chunkSize, lease.Cursor)
		page, err := r.st.exec.Read(runCtx, q)
		if err != nil {
			if runCtx.Err() != nil {
				return nil
			}
			return fmt.Errorf("evento: subscription %s: read: %w", r.sub.key, err)
		}
		var last *Event
		var failure error
		for _, edge := range page.Edges {
			if runCtx.Err() != nil {
				break
			}
			err := r.handle(hctx, runCtx, edge.Node)
			if errors.Is(err, errInterrupted) {
				break
			}
			if err != nil {
				if !r.sub.acceptFailure {
					failure = err
					break
				}
				r.st.logger.ErrorContext(ctx, "evento: subscription handler failed; event passed over",
					"subscription", r.sub.key, "error", err)
			}
			lease.Cursor = edge.Cursor
			last = edge.Node
		}
		if last != nil {
			if err := r.acknowledge(ctx, lease, last); err != nil {
				return err
			}
		}
		if failure != nil {
			return failure
		}
		if runCtx.Err() != nil || !page.PageInfo.HasNextPage {
			return nil
		}
	}
}

// acknowledge stores lease.Cursor, which points at last, and the lag
// behind last. It runs on a context that a shutdown does not cancel, so
// that a stopping worker still records what it finished.
func (r *run) acknowledge(ctx context.Context, lease *Lease, last *Event) error {
	lag := max(time.Since(last.Timestamp), 0)
	actx, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	err := r.st.exec.Acknowledge(actx, lease, Ack{Cursor: lease.Cursor, Lag: lag})
	done()
	if err != nil {
		return fmt.Errorf("evento: subscription %s: acknowledge: %w", r.sub.key, err)
	}
	r.st.tel.recordLag(ctx, r.sub.key, lag)
	if r.st.logger.Enabled(ctx, slog.LevelDebug) {
		r.st.logger.DebugContext(ctx, "evento: subscription acknowledged",
			"subscription", r.sub.key, "position", last.Position.String(), "lag", lag)
	}
	return nil
}

// handle runs the handler for e with retries. It returns a *HandlerError when
// the handler still fails after them, and errInterrupted when the worker
// stops while waiting to retry.
func (r *run) handle(hctx, runCtx context.Context, e *Event) error {
	fn, ok, err := r.sub.d.lookup(e)
	if err != nil {
		return &HandlerError{Key: r.sub.key, Event: e, Err: err}
	}
	if !ok {
		return nil
	}
	hctx, op := r.st.tel.startHandle(hctx, r.sub.key, e)
	err = r.attempts(hctx, runCtx, e, fn, &op)
	op.end(err)
	return err
}

// attempts calls the handler for e until it succeeds or its retries run
// out, recording each call on op.
func (r *run) attempts(hctx, runCtx context.Context, e *Event, fn func(context.Context, *Store, *Event) error, op *handleOp) error {
	for attempt := 0; ; attempt++ {
		began := op.attempt()
		err := call(hctx, r.st, e, fn)
		op.called(hctx, began, err)
		if err == nil {
			return nil
		}
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
