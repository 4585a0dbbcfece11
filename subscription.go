package evento

import (
	"context"
	"fmt"
	"time"

	"github.com/eventogo/evento/cursor"
)

// Subscription defaults.
const (
	DefaultChunkSize    = 100
	DefaultLeaseTTL     = 30 * time.Second
	DefaultPollInterval = time.Second
	maxBackoff          = 30 * time.Second
)

// Subscription processes the events its handlers cover, in global order,
// from a cursor stored under its key. Run it to the end of the log with
// Execute, or keep it running with Start.
//
// At most one worker per key runs at a time across all processes: a worker
// holds a lease (owner, expiry, epoch), renews it while it works, releases
// it on shutdown and loses it if it stops renewing. Every cursor write is
// fenced by the lease's epoch, so a worker that lost its lease cannot move
// the cursor. Delivery is at-least-once: after a crash, events processed
// since the last acknowledgement are delivered again.
//
// Configure a Subscription before running it; the configuration methods are
// not safe for concurrent use.
type Subscription struct {
	key           string
	d             dispatch[func(context.Context, *Store, *Event) error]
	routingKey    RoutingKey
	chunkSize     int
	retries       int
	backoff       time.Duration
	delay         time.Duration
	acceptFailure bool
	leaseTTL      time.Duration
	pollInterval  time.Duration
}

// NewSubscription returns a subscription stored under key.
func NewSubscription(key string, handlers ...Handler) *Subscription {
	s := &Subscription{
		key:          key,
		chunkSize:    DefaultChunkSize,
		backoff:      100 * time.Millisecond,
		leaseTTL:     DefaultLeaseTTL,
		pollInterval: DefaultPollInterval,
	}
	for _, h := range handlers {
		s.d.add(h.key, h.handle)
	}
	return s
}

// Handle adds handlers.
func (s *Subscription) Handle(handlers ...Handler) *Subscription {
	for _, h := range handlers {
		s.d.add(h.key, h.handle)
	}
	return s
}

// OnAll calls fn for every event of aggregateType that no typed handler and
// no Skip covers.
func (s *Subscription) OnAll(aggregateType string, fn func(ctx context.Context, e *Event) error) *Subscription {
	s.d.addType(aggregateType, func(ctx context.Context, _ *Store, e *Event) error { return fn(ctx, e) })
	return s
}

// Skip makes the subscription ignore the given events, even in safety mode
// and under OnAll.
func (s *Subscription) Skip(events ...EventData) *Subscription {
	s.d.addSkip(events)
	return s
}

// Safety makes the subscription treat an event of a handled aggregate type
// that no handler covers as a failure, instead of ignoring it.
func (s *Subscription) Safety() *Subscription {
	s.d.safety = true
	return s
}

// RoutingKey restricts the subscription to events with routing key r. The
// default, AnyRoutingKey, sees all events.
func (s *Subscription) RoutingKey(r RoutingKey) *Subscription {
	s.routingKey = r
	return s
}

// ChunkSize sets how many events are read, and acknowledged, at a time.
func (s *Subscription) ChunkSize(n int) *Subscription {
	s.chunkSize = n
	return s
}

// Retry makes a failing handler run up to n more times, waiting base,
// 2×base, 4×base, ... (at most 30 s) between attempts.
func (s *Subscription) Retry(n int, base time.Duration) *Subscription {
	s.retries, s.backoff = n, base
	return s
}

// Delay makes Start wait d before processing.
func (s *Subscription) Delay(d time.Duration) *Subscription {
	s.delay = d
	return s
}

// AcceptFailure makes an event whose handler still fails after its retries
// be logged and passed over. By default the subscription stops on it, and
// the event is delivered again on the next run.
func (s *Subscription) AcceptFailure() *Subscription {
	s.acceptFailure = true
	return s
}

// LeaseTTL sets how long a lease lasts without renewal: how soon a
// successor takes over from a worker that died. Workers renew at a third of
// it.
func (s *Subscription) LeaseTTL(d time.Duration) *Subscription {
	s.leaseTTL = d
	return s
}

// PollInterval sets how often a started subscription checks for new events
// appended by other processes, and how often a standby worker tries to take
// the lease. Appends through the same executor wake it at once.
func (s *Subscription) PollInterval(d time.Duration) *Subscription {
	s.pollInterval = d
	return s
}

// Key returns the subscription's key.
func (s *Subscription) Key() string { return s.key }

func (s *Subscription) validate() error {
	if err := checkName("subscription key", s.key); err != nil {
		return err
	}
	switch {
	case len(s.d.byKey) == 0 && len(s.d.byType) == 0:
		return fmt.Errorf("%w: subscription %q has no handlers", ErrInvalidArgument, s.key)
	case s.chunkSize < 1 || s.chunkSize > cursor.MaxLimit:
		return fmt.Errorf("%w: chunk size %d outside 1..%d", ErrInvalidArgument, s.chunkSize, cursor.MaxLimit)
	case s.retries < 0 || s.backoff < 0 || s.delay < 0:
		return fmt.Errorf("%w: negative retry, backoff or delay", ErrInvalidArgument)
	case s.leaseTTL < 10*time.Millisecond:
		return fmt.Errorf("%w: lease TTL %v below 10ms", ErrInvalidArgument, s.leaseTTL)
	case s.pollInterval <= 0:
		return fmt.Errorf("%w: poll interval must be positive", ErrInvalidArgument)
	}
	return nil
}

// HandlerError reports an event whose handler failed after all retries.
type HandlerError struct {
	// Key is the subscription key.
	Key string
	// Event is the event that failed.
	Event *Event
	// Err is the handler's last error.
	Err error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("evento: subscription %s: %s/%s %s (id %s, version %d): %v",
		e.Key, e.Event.AggregateType, e.Event.AggregateID, e.Event.Name, e.Event.ID, e.Event.Version, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// Execute processes every matching event after the stored cursor and
// returns when the log is drained. It fails with ErrLeaseHeld if another
// worker is running the subscription, and with a *HandlerError if a handler
// failed and AcceptFailure is off; events processed before the failure stay
// acknowledged.
func (s *Subscription) Execute(ctx context.Context, st *Store) error {
	if err := s.validate(); err != nil {
		return err
	}
	r := s.newRun(st)
	lease, err := st.exec.AcquireLease(ctx, s.key, r.owner, s.leaseTTL)
	if err != nil {
		return fmt.Errorf("evento: subscription %s: %w", s.key, err)
	}
	return r.hold(ctx, ctx, lease, false)
}

// Start runs the subscription in the background until Shutdown is called or
// ctx is cancelled: it waits Delay, takes the lease (or stands by until it
// can), processes events as they arrive and gives the lease back when it
// stops. Failures to reach the store are logged and retried.
func (s *Subscription) Start(ctx context.Context, st *Store) (*Worker, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	stopCtx, stop := context.WithCancel(ctx)
	w := &Worker{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = s.newRun(st).loop(ctx, stopCtx)
	}()
	return w, nil
}

// Worker is a started subscription.
type Worker struct {
	stop context.CancelFunc
	done chan struct{}
	err  error
}

// Shutdown asks the worker to stop after the event in hand, acknowledge it
// and release the lease, and waits until it has or ctx is done.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the worker has stopped, after Shutdown or after a
// handler failure it does not accept.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Err returns, once Done is closed, the *HandlerError that stopped the
// worker, or nil if it was shut down.
func (w *Worker) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}
