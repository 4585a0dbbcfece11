//go:build linux

package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/eventogo/evento"
)

// Sizes of the worker crash test.
const (
	crashTTL      = 400 * time.Millisecond
	crashWriteFor = 2 * time.Second
	crashWriters  = 3
	crashAggs     = 4 // per writer
	crashPause    = 30 * time.Millisecond
	crashMinKills = 4
	crashMaxKills = 8
)

// TestWorkerCrash proves that a subscription loses no event when its
// worker processes die at random moments. While writers append to several
// aggregates, worker processes run the subscription one after the other,
// each killed with SIGKILL 50 to 600 ms after it took the lease (or, one in
// four, after it started, whatever it was doing); the next is started at
// once and must wait for the dead worker's lease to expire before it takes
// over. A last worker catches up and shuts down cleanly. Then:
//
//   - every committed event was handled, none skipped, and the first
//     handlings followed the global order and each aggregate's versions;
//   - atLeastOnce (the handler records each event through a connection of
//     its own): events may be handled again after a crash, and the test
//     reports how often;
//   - effectivelyOnce (Transactional, recording through the subscription's
//     transaction): each event is recorded exactly once, and records never
//     go back to an older lease epoch;
//   - every takeover came after the previous lease's expiry, with a higher
//     epoch, and the stored cursor ends on the last event, the lease
//     released.
func TestWorkerCrash(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []string{atLeastOnce, effectivelyOnce} {
				t.Run(mode, func(t *testing.T) { testWorkerCrash(t, kind, mode) })
			}
		})
	}
}

func testWorkerCrash(t *testing.T, kind, mode string) {
	began := time.Now()
	tg := freshTarget(t, kind)
	st := openStore(t, tg)
	const key = "crash"
	cfg := childConfig{target: tg, Key: key, Mode: mode, TTL: crashTTL}

	wl := startWriters(st, crashWriters, crashAggs, crashWriteFor, crashPause)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
	var (
		prev      *evento.SubscriptionStatus // the lease as the last killed worker left it
		takeovers []time.Duration            // from a successor's start (right after a kill) to its acquisition
		kills     int
	)
	for i := 0; kills < crashMaxKills && (!wl.finished() || kills < crashMinKills); i++ {
		// Started right after the previous worker was reaped.
		c := startChild(t, fmt.Sprint(i), cfg)
		if i%4 != 3 {
			acq, _, err := c.waitLine(lineAcquired, 0, 15*time.Second)
			if err != nil {
				t.Fatalf("no takeover after the previous worker died: %v", err)
			}
			checkTakeover(t, c, acq, prev, crashTTL)
			if prev != nil {
				takeovers = append(takeovers, acq.at.Sub(c.started))
			}
		}
		time.Sleep(50*time.Millisecond + time.Duration(rng.Int64N(int64(550*time.Millisecond))))
		c.kill()
		kills++
		prev = leaseStatus(t, st, key)
		checkAcknowledged(t, tg, st, key, mode == effectivelyOnce)
	}
	committed := wl.wait(t)
	loopDone := time.Now()
	log, cursors := waitLog(t, tg, st, committed, 20*time.Second)
	last := lastCursor(cursors)
	checkLog(t, log, committed)

	final := startChild(t, "final", cfg)
	acq, _, err := final.waitLine(lineAcquired, 0, 15*time.Second)
	if err != nil {
		t.Fatalf("the last worker never took over: %v", err)
	}
	checkTakeover(t, final, acq, prev, crashTTL)
	waitCursor(t, st, key, last, 20*time.Second, final.running)
	caughtUp := time.Now()
	if err := final.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if s := leaseStatus(t, st, key); s == nil || s.Owner != "" || s.Cursor != last {
		t.Errorf("after a clean shutdown the status is %+v, want released at the last event", s)
	}

	rows := readHandled(t, tg)
	h := checkHandled(t, log, rows, mode == effectivelyOnce)
	if mode == effectivelyOnce {
		checkEpochs(t, rows)
	}
	owners := make(map[string]bool)
	for _, r := range rows {
		owners[r.Owner] = true
	}
	t.Logf("%s/%s: %d events, %d kills, %d workers recorded events, %d records: %d duplicates (max %d per event, %d events by two workers)",
		kind, mode, len(log), kills, len(owners), len(rows), h.duplicates, h.maxPerEvent, h.crossOwner)
	t.Logf("%s/%s: from a worker's start to its takeover: %v; kill loop ended after %v, last worker caught up %v later; %v in all",
		kind, mode, summarize(takeovers), loopDone.Sub(began).Round(time.Millisecond),
		caughtUp.Sub(loopDone).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// leaseStatus returns the stored status of key, or nil before any worker
// took its lease.
func leaseStatus(t *testing.T, st *evento.Store, key string) *evento.SubscriptionStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := st.Executor().SubscriptionStatus(ctx, key)
	if errors.Is(err, evento.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("status of %s: %v", key, err)
	}
	return s
}

// takeoverSlack absorbs the two readings of the database clock in
// PostgreSQL's acquisition: the new expiry is computed from the first, the
// comparison with the old expiry uses the second, taken later (after a
// wait for the subscription's row if it was locked).
const takeoverSlack = 20 * time.Millisecond

// checkTakeover fails the test unless the acquisition acq of worker c came
// with a higher epoch than prev and, if prev was held, after it expired.
// Expiries are on the store's clock, and a lease expires ttl after its
// acquisition, so the acquisition's own time is its expiry less ttl.
func checkTakeover(t *testing.T, c *child, acq line, prev *evento.SubscriptionStatus, ttl time.Duration) {
	t.Helper()
	if prev == nil {
		return
	}
	epoch := acq.int(2)
	if epoch <= prev.Epoch {
		t.Errorf("worker %s acquired epoch %d, not above the previous holder's %d", c.name, epoch, prev.Epoch)
	}
	if prev.Owner == "" {
		return
	}
	acquiredAt := time.UnixMicro(acq.int(3)).Add(-ttl)
	if acquiredAt.Add(takeoverSlack).Before(prev.ExpiresAt) {
		t.Errorf("worker %s took the lease at %v, before %s's lease expired at %v",
			c.name, acquiredAt.Format(time.RFC3339Nano), prev.Owner, prev.ExpiresAt.Format(time.RFC3339Nano))
	}
}

// summarize describes durations: count, min, median, max.
func summarize(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("n=%d min %v median %v max %v", len(s), r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
