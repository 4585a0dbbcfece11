package postgres

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyTimeout bounds one notification.
const notifyTimeout = 5 * time.Second

// notifyGap is the least time between two notifications of one executor:
// appends that commit in between share the next one. It bounds the
// notifications to a rate the server does not notice, for at most that
// much more latency.
const notifyGap = 5 * time.Millisecond

// notifier sends the notifications of appends after they commit, from a
// goroutine of its own, coalescing the appends that commit while one
// notification is on its way into the next one. So an append never waits
// for a notification, and notifying transactions do not queue for the
// server-wide lock PostgreSQL takes when a transaction that notified
// commits: a burst of appends costs one or two notifications, not one per
// append, and at most one is sent every notifyGap. A notification that
// fails is not retried: the listeners' polls find the events.
type notifier struct {
	pool    *pgxpool.Pool
	channel string

	latest atomic.Uint64 // highest tx_id appended and not yet notified; 0 when none
	kick   chan struct{} // wakes the goroutine; buffered, one pending kick

	bg background
}

func newNotifier(pool *pgxpool.Pool, channel string) *notifier {
	return &notifier{pool: pool, channel: channel, kick: make(chan struct{}, 1)}
}

// notify records that the transaction tx committed events, and has the
// goroutine (started on first use) notify the channel of it.
func (n *notifier) notify(tx uint64) {
	for {
		cur := n.latest.Load()
		if cur >= tx || n.latest.CompareAndSwap(cur, tx) {
			break
		}
	}
	if !n.bg.started.Load() { // spares the method value on every append
		n.bg.start(n.run)
	}
	select {
	case n.kick <- struct{}{}:
	default: // a kick is pending: the goroutine will pick tx up
	}
}

// stop stops the goroutine and waits for it; later appends notify no one.
func (n *notifier) stop() { n.bg.stop() }

func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		tx := n.latest.Swap(0)
		if tx == 0 {
			continue
		}
		sent := time.Now()
		nctx, cancel := context.WithTimeout(ctx, notifyTimeout)
		n.pool.Exec(nctx, "SELECT pg_catalog.pg_notify($1, $2)", n.channel, strconv.FormatUint(tx, 10))
		cancel()
		if wait := notifyGap - time.Since(sent); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
