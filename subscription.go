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
	DefaultAckInterval  = 250 * time.Millisecond
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
	onFailure     failurePolicy
	transactional bool
	partitions    int
	partitionKey  PartitionKey
	leaseTTL      time.Duration
	pollInterval  time.Duration
	ackInterval   time.Duration
}

// failurePolicy says what a subscription does with an event whose handler
// still fails after its retries.
type failurePolicy uint8

const (
	failStop   failurePolicy = iota // stop, and deliver the event again on the next run
	failAccept                      // log it and pass over the event
	failPark                        // park the event as a dead letter and go on
)

// PartitionKey maps an event to the partition it is handled in: events with
// the same key are handled one at a time, in global order. See
// [Subscription.Parallel].
type PartitionKey func(*Event) string

// ByAggregate partitions events by aggregate (type and id): each aggregate's
// events are handled in order, different aggregates in parallel.
func ByAggregate(e *Event) string { return e.AggregateType + "\x00" + e.AggregateID }

// ByRoutingKey partitions events by routing key: events with the same key
// (or no key) are handled in order.
func ByRoutingKey(e *Event) string { return e.RoutingKey }

// NewSubscription returns a subscription stored under key.
func NewSubscription(key string, handlers ...Handler) *Subscription {
	s := &Subscription{
		key:          key,
		chunkSize:    DefaultChunkSize,
		backoff:      100 * time.Millisecond,
		leaseTTL:     DefaultLeaseTTL,
		pollInterval: DefaultPollInterval,
		ackInterval:  DefaultAckInterval,
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
//
// On a single store (a MonotonicReader), a worker that has read every event
// after its cursor moves the cursor on to the log's last event, past the
// events it did not handle, so that its next poll does not read them again:
// with NoRoutingKey before every drain (SQLite, PostgreSQL and Pebble keep
// no index of the events without a key), for other subscriptions at most
// once per AckInterval. So a handler added later to a subscription does
// not see the events of its type committed before the cursor moved: give
// the subscription a new key, or reset it, to have them handled.
func (s *Subscription) RoutingKey(r RoutingKey) *Subscription {
	s.routingKey = r
	return s
}

// ChunkSize sets how many events a worker reads at a time (default 100),
// and so how many decoded events it holds (a parallel worker reads up to
// four chunks ahead). A sequential worker catching up on a long log reads
// more at a time while pages come back full and quick: twice as many each
// time, up to 1,000 events and about 1 MiB of event data, back to n once a
// page takes the acknowledgement interval or longer, and at every drain's
// start (docs/subscriptions.md, "Catch-up speed").
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
// be logged, recorded as the subscription's last error, and passed over. By
// default the subscription stops on it: the failure is recorded as fatal
// (see [SubscriptionStatus.Stopped]) and the event is delivered again on the
// next run. AcceptFailure and Park replace each other.
func (s *Subscription) AcceptFailure() *Subscription {
	s.onFailure = failAccept
	return s
}

// Park makes an event whose handler still fails after its retries be set
// aside as a dead letter, with the error, in the same write that moves the
// cursor past it; processing goes on. List parked events with
// [DeadLetters] and run them again with [Subscription.Replay]. Park needs
// an executor that implements DeadLetterStore; Start and Execute fail with
// ErrUnsupported otherwise. AcceptFailure and Park replace each other.
func (s *Subscription) Park() *Subscription {
	s.onFailure = failPark
	return s
}

// Transactional makes the subscription effectively-once on a SQL store:
// each event's handler runs inside a database transaction that also stores
// the subscription's cursor past that event, so the handler's writes and
// the acknowledgement commit together or not at all. Reach the transaction
// with [TxFrom] (a *sql.Tx on sqlite and mysql, a pgx.Tx on postgres) and
// write the read model through it; writes made any other way are still
// at-least-once. A worker that lost its lease cannot commit: its
// transaction rolls back.
//
// Each event costs one transaction (one commit, so one fsync on a durable
// store), and the lease row stays locked while the handler runs. It needs
// an executor that implements TxAcknowledger, and cannot be combined with
// Parallel: Start and Execute fail otherwise.
func (s *Subscription) Transactional() *Subscription {
	s.transactional = true
	return s
}

// Parallel makes the subscription handle events on n goroutines, events
// with the same partition key (by default [ByAggregate]) one at a time and
// in global order, events of different partitions concurrently. The stored
// cursor only moves over a gap-free prefix of finished events, so after a
// crash no unfinished event is skipped; finished events after the first
// unfinished one are delivered again. A handler failure that stops the
// subscription also stops its partition at once; the other partitions
// finish the event in hand. n of 1 is sequential processing; by nil means
// ByAggregate.
func (s *Subscription) Parallel(n int, by PartitionKey) *Subscription {
	if by == nil {
		by = ByAggregate
	}
	s.partitions, s.partitionKey = n, by
	return s
}

// LeaseTTL sets how long a lease lasts without renewal: how soon a
// successor takes over from a worker that died. Workers renew at a third of
// it.
func (s *Subscription) LeaseTTL(d time.Duration) *Subscription {
	s.leaseTTL = d
	return s
}

// PollInterval sets the longest a started subscription waits before it
// checks again for events appended by other processes, and how often a
// standby worker tries to take the lease. Polling adapts: after a check
// that found events the next one comes after a sixteenth of d, and the wait
// doubles with every check that finds none, up to d. Appends through the
// same executor wake it at once, and so do appends from anywhere on an
// executor that pushes notifications (PostgreSQL's LISTEN/NOTIFY).
func (s *Subscription) PollInterval(d time.Duration) *Subscription {
	s.pollInterval = d
	return s
}

// AckInterval sets how often a worker that keeps finding events stores its
// cursor: it acknowledges after the chunk in which d has passed since the
// first unacknowledged event, and always when it runs out of events, when
// it stops, and when a handler failure is to be recorded. A shorter
// interval means fewer events handled again after a crash, a longer one
// fewer writes while catching up; 0 acknowledges after every chunk, and
// keeps a sequential worker's reads at the chunk size.
func (s *Subscription) AckInterval(d time.Duration) *Subscription {
	s.ackInterval = d
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
	case s.retries < 0 || s.backoff < 0 || s.delay < 0 || s.ackInterval < 0:
		return fmt.Errorf("%w: negative retry, backoff, delay or acknowledgement interval", ErrInvalidArgument)
	case s.leaseTTL < 10*time.Millisecond:
		return fmt.Errorf("%w: lease TTL %v below 10ms", ErrInvalidArgument, s.leaseTTL)
	case s.pollInterval <= 0:
		return fmt.Errorf("%w: poll interval must be positive", ErrInvalidArgument)
	case s.partitions < 0 || s.partitions > MaxPartitions:
		return fmt.Errorf("%w: %d partitions outside 1..%d", ErrInvalidArgument, s.partitions, MaxPartitions)
	case s.transactional && s.partitions > 1:
		return fmt.Errorf("%w: a transactional subscription cannot run in parallel", ErrInvalidArgument)
	}
	return nil
}

// MaxPartitions bounds Parallel.
const MaxPartitions = 256

// check validates s and that the executor offers what s needs.
func (s *Subscription) check(exec Executor) error {
	if err := s.validate(); err != nil {
		return err
	}
	base := innermost(exec)
	if _, ok := base.(DeadLetterStore); s.onFailure == failPark && !ok {
		return fmt.Errorf("%w: subscription %s parks failed events, and %T keeps no dead letters", ErrUnsupported, s.key, base)
	}
	if _, ok := base.(TxAcknowledger); s.transactional && !ok {
		return fmt.Errorf("%w: subscription %s is transactional, and %T has no transactions", ErrUnsupported, s.key, base)
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
	if err := s.check(st.exec); err != nil {
		return err
	}
	r := s.newRun(st)
	lease, err := acquireLease(ctx, st.exec, st.logger, s.key, r.owner, s.leaseTTL, st.exec.AcquireLease)
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
	if err := s.check(st.exec); err != nil {
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
