//go:build linux

package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventogo/evento"
	driver "github.com/go-sql-driver/mysql"
)

// Environment of a worker process: the test binary re-executed in child
// mode (see TestMain).
const (
	envChild    = "EVENTO_FAULTTEST_CHILD" // "1" selects child mode
	envKind     = "EVENTO_FAULTTEST_KIND"
	envDSN      = "EVENTO_FAULTTEST_DSN"
	envKey      = "EVENTO_FAULTTEST_KEY"
	envMode     = "EVENTO_FAULTTEST_MODE"
	envTTL      = "EVENTO_FAULTTEST_TTL"
	envWork     = "EVENTO_FAULTTEST_WORK"     // time a handler spends per event
	envPauseAt  = "EVENTO_FAULTTEST_PAUSE_AT" // events to commit before the gate; 0 for none
	envLifetime = "EVENTO_FAULTTEST_LIFETIME" // the worker exits after it, whatever happens
)

// Delivery modes of a worker.
const (
	// atLeastOnce records each event through a connection of its own
	// after the handler's work, outside the subscription's transaction.
	atLeastOnce = "atLeastOnce"
	// effectivelyOnce runs a transactional subscription and records each
	// event through the transaction that also stores the cursor.
	effectivelyOnce = "effectivelyOnce"
)

// Subscription settings of the workers.
const (
	pollInterval = 50 * time.Millisecond
	chunkSize    = 20
)

// Lines a worker writes on its standard output, for the test to follow:
//
//	ACQUIRED <owner> <epoch> <expires unix µs>   took the lease
//	GATE                                          stopped before a commit, waiting for SIGCONT
//	TXLOST <epoch>                                a commit was refused: the lease moved on
//	STOPPED                                       shut down on SIGTERM
const (
	lineAcquired = "ACQUIRED"
	lineGate     = "GATE"
	lineTxLost   = "TXLOST"
	lineStopped  = "STOPPED"
)

func TestMain(m *testing.M) {
	// The MySQL driver logs every connection the tests cut; the errors
	// reach the code that uses the connections anyway.
	driver.SetLogger(log.New(io.Discard, "", 0))
	if os.Getenv(envChild) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childConfig is what a worker process runs.
type childConfig struct {
	target
	Key     string
	Mode    string
	TTL     time.Duration
	Work    time.Duration
	PauseAt int
}

func (c childConfig) env() []string {
	return []string{
		envChild + "=1",
		envKind + "=" + c.Kind,
		envDSN + "=" + c.DSN,
		envKey + "=" + c.Key,
		envMode + "=" + c.Mode,
		envTTL + "=" + c.TTL.String(),
		envWork + "=" + c.Work.String(),
		envPauseAt + "=" + strconv.Itoa(c.PauseAt),
		envLifetime + "=2m",
		// The race detector otherwise sleeps a second before exiting.
		"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
	}
}

// out writes protocol lines, one write each.
var out sync.Mutex

func report(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// childMain runs a worker until SIGTERM (a clean shutdown, exit 0),
// SIGKILL, or its lifetime's end (exit 3). Diagnostics go to stderr.
func childMain() int {
	cfg, lifetime, err := childConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	time.AfterFunc(lifetime, func() {
		fmt.Fprintln(os.Stderr, "child: lifetime over")
		os.Exit(3)
	})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	logger = logger.With("pid", os.Getpid())
	ctx := context.Background()

	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	x, closeX, err := openExecutor(octx, cfg.target)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open store:", err)
		return 2
	}
	defer closeX()

	o := &observed{Executor: x}
	var exec evento.Executor = o
	if cfg.Mode == effectivelyOnce {
		tx, ok := x.(evento.TxAcknowledger)
		if !ok {
			fmt.Fprintf(os.Stderr, "child: %T does not implement evento.TxAcknowledger\n", x)
			return 2
		}
		to := &txObserved{observed: o, tx: tx}
		if cfg.PauseAt > 0 {
			to.pauseAt = int64(cfg.PauseAt)
			to.resume = make(chan os.Signal, 1)
			signal.Notify(to.resume, syscall.SIGCONT)
		}
		exec = to
	}
	st := evento.New(exec, evento.WithLogger(logger))

	pid := os.Getpid()
	var handler func(ctx context.Context, ev evento.Typed[ticked]) error
	switch cfg.Mode {
	case atLeastOnce:
		side, err := openSQL(cfg.target)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		defer side.Close()
		insert := insertHandledSQL(cfg.Kind)
		handler = func(ctx context.Context, ev evento.Typed[ticked]) error {
			time.Sleep(cfg.Work)
			l := o.lease.Load()
			r := handledRow{EventID: ev.ID.String(), Aggregate: ev.AggregateID, Version: ev.Version, PID: pid, Owner: l.Owner, Epoch: l.Epoch}
			_, err := side.ExecContext(ctx, insert, r.args()...)
			return err
		}
	case effectivelyOnce:
		handler = func(ctx context.Context, ev evento.Typed[ticked]) error {
			time.Sleep(cfg.Work)
			l, ok := ctx.Value(leaseKey{}).(evento.Lease)
			if !ok {
				return errors.New("no lease in the handler's context")
			}
			r := handledRow{EventID: ev.ID.String(), Aggregate: ev.AggregateID, Version: ev.Version, PID: pid, Owner: l.Owner, Epoch: l.Epoch}
			return recordInTx(ctx, cfg.Kind, r)
		}
	default:
		fmt.Fprintf(os.Stderr, "child: unknown mode %q\n", cfg.Mode)
		return 2
	}
	sub := newSubscription(cfg.Key, cfg.TTL, evento.On(handler))
	if cfg.Mode == effectivelyOnce {
		sub.Transactional()
	}

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	w, err := sub.Start(ctx, st)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: start:", err)
		return 2
	}
	select {
	case <-term:
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := w.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "child: shutdown:", err)
			return 1
		}
		report(lineStopped)
		return 0
	case <-w.Done():
		fmt.Fprintln(os.Stderr, "child: worker stopped:", w.Err())
		return 1
	}
}

// newSubscription returns the subscription every worker runs: chunks of
// chunkSize, lease ttl, polling every pollInterval, and a handler whose
// failures are retried for a while rather than stopping the subscription.
func newSubscription(key string, ttl time.Duration, h evento.Handler) *evento.Subscription {
	return evento.NewSubscription(key, h).
		LeaseTTL(ttl).
		PollInterval(pollInterval).
		ChunkSize(chunkSize).
		Retry(10, 20*time.Millisecond)
}

func childConfigFromEnv() (childConfig, time.Duration, error) {
	var (
		cfg childConfig
		err error
	)
	cfg.Kind = os.Getenv(envKind)
	cfg.DSN = os.Getenv(envDSN)
	cfg.Key = os.Getenv(envKey)
	cfg.Mode = os.Getenv(envMode)
	if cfg.TTL, err = time.ParseDuration(os.Getenv(envTTL)); err != nil {
		return cfg, 0, err
	}
	if cfg.Work, err = time.ParseDuration(os.Getenv(envWork)); err != nil {
		return cfg, 0, err
	}
	if cfg.PauseAt, err = strconv.Atoi(os.Getenv(envPauseAt)); err != nil {
		return cfg, 0, err
	}
	lifetime, err := time.ParseDuration(os.Getenv(envLifetime))
	return cfg, lifetime, err
}

// observed passes everything through to the executor it wraps, and reports
// the leases this process acquires.
type observed struct {
	evento.Executor
	lease atomic.Pointer[evento.Lease] // the last one acquired
	// renewing is held, shared, by every lease renewal, and exclusively at
	// the gate, so that a worker paused at the gate is not in the middle
	// of a renewal: on SQLite a process stopped during a write would keep
	// the database locked for every other process.
	renewing sync.RWMutex
}

func (o *observed) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	o.renewing.RLock()
	defer o.renewing.RUnlock()
	return o.Executor.RenewLease(ctx, l, ttl)
}

func (o *observed) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	l, err := o.Executor.AcquireLease(ctx, key, owner, ttl)
	if err == nil {
		c := *l
		o.lease.Store(&c)
		report("%s %s %d %d", lineAcquired, l.Owner, l.Epoch, l.ExpiresAt.UnixMicro())
	}
	return l, err
}

// Wake passes on the wrapped executor's wake-ups.
func (o *observed) Wake() <-chan struct{} {
	if w, ok := o.Executor.(evento.Waker); ok {
		return w.Wake()
	}
	return nil
}

// leaseKey carries, in a transactional handler's context, the lease its
// transaction is fenced by.
type leaseKey struct{}

// txObserved is observed over an executor with transactional
// acknowledgements. It hands the handler the lease its transaction is
// fenced by and, with pauseAt, stops once before the commit that follows
// the pauseAt-th until SIGCONT: a point where the worker holds events
// but neither a transaction nor a write in flight, at which the test
// pauses it with SIGSTOP.
type txObserved struct {
	*observed
	tx        evento.TxAcknowledger
	committed atomic.Int64
	pauseAt   int64
	resume    chan os.Signal
	gated     atomic.Bool
}

func (o *txObserved) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(context.Context) error) error {
	if o.pauseAt > 0 && o.committed.Load() >= o.pauseAt && o.gated.CompareAndSwap(false, true) {
		o.renewing.Lock()
		report(lineGate)
		select {
		case <-o.resume:
		case <-time.After(time.Minute):
			fmt.Fprintln(os.Stderr, "child: no SIGCONT at the gate")
		}
		o.renewing.Unlock()
	}
	lease := *l
	err := o.tx.AcknowledgeTx(ctx, l, ack, func(ctx context.Context) error {
		if fn == nil {
			return nil
		}
		return fn(context.WithValue(ctx, leaseKey{}, lease))
	})
	switch {
	case err == nil && fn != nil:
		o.committed.Add(1)
	case errors.Is(err, evento.ErrLeaseLost):
		report("%s %d", lineTxLost, lease.Epoch)
	}
	return err
}

// DeleteDeadLetterTx passes through: the fault tests park nothing.
func (o *txObserved) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(context.Context) error) error {
	return o.tx.DeleteDeadLetterTx(ctx, key, eventID, fn)
}
