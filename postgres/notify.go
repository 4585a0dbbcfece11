package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Reconnection backoff of the listener: the first retry waits about
// listenMinBackoff, each failure in a row doubles the wait, up to
// listenMaxBackoff.
const (
	listenMinBackoff = 50 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// After listenPing without a notification, the listener checks that its
// connection still answers within listenPingTimeout, and reconnects if it
// does not.
const (
	listenPing        = 30 * time.Second
	listenPingTimeout = 5 * time.Second
)

// While the horizon holds back events it was notified of, the listener
// reads the horizon again after heldMinPause, doubling the pause up to
// heldMaxPause.
const (
	heldMinPause = time.Millisecond
	heldMaxPause = 250 * time.Millisecond
)

// maxChannelLen is the longest channel name PostgreSQL accepts
// (NAMEDATALEN - 1).
const maxChannelLen = 63

// notifyChannel returns the name of the channel that the appends of the
// store in c's schema and prefix notify, and that its listeners listen to:
// "<schema>.<prefix>events" when that fits in a PostgreSQL identifier, or
// "evento_" and a hash of it when it does not. Schema and prefix are
// validated (lower-case letters, digits and underscores), so the dot keeps
// every pair apart, and a hashed name, which has no dot, never equals a
// readable one.
func notifyChannel(c config) string {
	name := c.schema + "." + c.prefix + "events"
	if len(name) <= maxChannelLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "evento_" + hex.EncodeToString(sum[:16])
}

// listener turns the notifications of appends into the executor's wake
// signal. It runs one goroutine, started by the first Wake, on a
// connection of its own, and stops on Close.
//
// A notification's payload is the tx_id of the append's events. It is
// delivered once that transaction has committed, but reads of the global
// log return its events only once it is below the horizon, which an older
// transaction still running anywhere on the server holds back. So the
// listener fires the signal only when the horizon has passed every tx_id
// it was notified: at once in the usual case (after one query), or as soon
// as the transaction that held the horizon ends, which it watches for.
// Waking the waiters earlier would have them find nothing and wait for
// their next poll.
type listener struct {
	pool    *pgxpool.Pool
	channel string
	listen  string // the LISTEN statement
	horizon string // the statement that reads the horizon
	fire    func() // fires the executor's wake signal

	pid atomic.Uint32 // the server process of the listening connection; 0 when none

	bg background
}

func newListener(pool *pgxpool.Pool, channel, horizon string, fire func()) *listener {
	return &listener{
		pool:    pool,
		channel: channel,
		listen:  "LISTEN " + dialect.Quote(channel),
		horizon: horizon,
		fire:    fire,
	}
}

// start starts the goroutine unless it runs already or the listener was
// stopped.
func (l *listener) start() { l.bg.start(l.run) }

// stop stops the goroutine, if it was started, and waits for it to close
// its connection and return. The listener cannot be started again.
func (l *listener) stop() { l.bg.stop() }

// run listens until ctx ends, reconnecting after every failure with a
// capped exponential backoff (with jitter, so that the processes that lost
// a restarted server do not all come back at the same instant).
func (l *listener) run(ctx context.Context) {
	delay := listenMinBackoff
	for {
		l.session(ctx, func() { delay = listenMinBackoff })
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(2*delay, listenMaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session takes a connection out of the pool, listens on it and fires the
// wake signal for the notifications, until the connection fails or ctx
// ends. It fires once right after LISTEN succeeds too: appends committed
// while no connection was listening notified no one, and the waiters must
// look for them. listening is called then, to reset the backoff.
func (l *listener) session(ctx context.Context, listening func()) {
	c, err := l.pool.Acquire(ctx)
	if err != nil {
		return
	}
	// Hijacked, the connection leaves the pool: the pool runs its hooks
	// when it connects, but does not count it against MaxConns or hand
	// it to anyone else.
	conn := c.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, l.listen); err != nil {
		return
	}
	l.pid.Store(conn.PgConn().PID())
	defer l.pid.Store(0)
	listening()
	l.fire()
	var (
		// held is the highest tx_id notified and not yet known to be
		// below the horizon; zero when there is none. While there is one,
		// the horizon is read again at check, then after pause, which
		// doubles each time up to heldMaxPause.
		held  uint64
		check time.Time
		pause time.Duration
	)
	for {
		deadline := time.Now().Add(listenPing)
		if held != 0 {
			deadline = check
		}
		wctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			tx, err := strconv.ParseUint(n.Payload, 10, 64)
			if err != nil || tx == 0 {
				// Not from an append of this package: nothing to wait for.
				l.fire()
				continue
			}
			if held == 0 {
				check, pause = time.Now(), heldMinPause
			}
			held = max(held, tx)
			if time.Now().Before(check) {
				continue
			}
		case ctx.Err() != nil:
			return
		case wctx.Err() == nil:
			return // the connection failed
		case held == 0:
			// Silence for listenPing: make sure the connection is alive, and
			// not cut by a network failure that no packet reported.
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
			continue
		}
		var h uint64
		if err := conn.QueryRow(ctx, l.horizon).Scan(&h); err != nil {
			return
		}
		if h > held {
			held = 0
			l.fire()
			continue
		}
		check = time.Now().Add(pause)
		pause = min(2*pause, heldMaxPause)
	}
}
