//go:build linux

package faulttest

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// Sizes of the lease fencing test.
const (
	fenceTTL     = 400 * time.Millisecond
	fenceWork    = 20 * time.Millisecond // per event
	fenceBefore  = 100                   // events appended before the workers start
	fencePauseAt = 30                    // events worker A commits before it is paused
	fenceAfter   = 20                    // events appended once A resumed
)

// TestLeaseFencing proves that a worker that stopped running without dying
// (paused, swapped out, stuck in a long GC) cannot commit anything once its
// lease has been taken over. Worker A runs a transactional subscription
// whose handler takes about 20 ms per event and records it through the
// subscription's transaction. After A committed some events, and while it
// holds the rest of its page but no open transaction, the test pauses it
// with SIGSTOP, waits past the lease TTL and starts worker B, which takes
// over with a higher epoch and processes the rest. Then A is resumed
// (SIGCONT) with its events in hand and its old lease, and both run while
// more events are appended. In the end:
//
//   - A's attempt to commit the event it held was refused (ErrLeaseLost)
//     and rolled back, and A never took the lease back;
//   - every event is recorded exactly once: A's records are exactly the
//     events it committed before the pause, all under A's epoch, and every
//     later record is B's, under B's epoch;
//   - the stored cursor is the last event's and the stored epoch is B's,
//     above A's.
//
// A is paused outside a transaction on purpose: a worker paused inside its
// transaction keeps the subscription's row locked (on SQLite, the whole
// database), so a successor's takeover waits for it rather than racing it.
func TestLeaseFencing(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testLeaseFencing(t, kind)
		})
	}
}

func testLeaseFencing(t *testing.T, kind string) {
	began := time.Now()
	tg := freshTarget(t, kind)
	st := openStore(t, tg)
	const key = "fence"
	w := newWriter(st, "w", 6, rand.Uint64())
	appendEvents(t, st, w, fenceBefore)
	_, cursors := waitLog(t, tg, st, w.events, 20*time.Second)
	last := lastCursor(cursors)

	cfg := childConfig{target: tg, Key: key, Mode: effectivelyOnce, TTL: fenceTTL, Work: fenceWork, PauseAt: fencePauseAt}
	a := startChild(t, "A", cfg)
	acqA, _, err := a.waitLine(lineAcquired, 0, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ownerA, epochA := acqA.fields[1], acqA.int(2)
	if _, _, err := a.waitLine(lineGate, 0, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	held := leaseStatus(t, st, key)
	if held == nil || held.Owner != ownerA || held.Epoch != epochA || held.Cursor == last {
		t.Fatalf("while A is paused the status is %+v, want A's lease (owner %s, epoch %d) in the middle of the log", held, ownerA, epochA)
	}
	checkAcknowledged(t, tg, st, key, true)
	// A's last renewal came before the pause: its lease expires within a
	// TTL of it.
	time.Sleep(time.Until(paused.Add(fenceTTL + 200*time.Millisecond)))

	cfg.PauseAt = 0
	b := startChild(t, "B", cfg)
	acqB, _, err := b.waitLine(lineAcquired, 0, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkTakeover(t, b, acqB, held, fenceTTL)
	ownerB := acqB.fields[1]
	waitCursor(t, st, key, last, 20*time.Second, b.running)

	if err := a.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	lost, _, err := a.waitLine(lineTxLost, 0, 10*time.Second)
	if err != nil {
		t.Fatalf("resumed worker A did not report its commit refused: %v", err)
	}
	if lost.int(1) != epochA {
		t.Errorf("A's refused commit was fenced by epoch %d, want A's %d", lost.int(1), epochA)
	}
	appendEvents(t, st, w, fenceAfter)
	log, cursors := waitLog(t, tg, st, w.events, 20*time.Second)
	last = lastCursor(cursors)
	alive := func() error {
		if err := a.running(); err != nil {
			return err
		}
		return b.running()
	}
	waitCursor(t, st, key, last, 20*time.Second, alive)
	// Both run a little longer: A stands by while B holds the lease.
	time.Sleep(3 * fenceTTL)
	if err := alive(); err != nil {
		t.Fatal(err)
	}
	a.kill()
	b.kill()

	checkLog(t, log, w.events)
	rows := readHandled(t, tg)
	checkHandled(t, log, rows, true)
	checkEpochs(t, rows)
	if n := len(a.linesOf(lineAcquired)); n != 1 {
		t.Errorf("worker A acquired the lease %d times, want once", n)
	}
	epochB := acqB.int(2)
	for _, l := range b.linesOf(lineAcquired) {
		epochB = l.int(2) // B's latest: it may have renewed late and re-acquired
	}
	nA := 0
	for k, r := range rows {
		switch {
		case r.Owner == ownerA:
			if k != nA {
				t.Errorf("record %d of A comes after a record of another worker", r.Seq)
			}
			nA++
			if r.Epoch != epochA || r.PID != a.pid() {
				t.Errorf("record %d of A (pid %d, epoch %d), want pid %d and epoch %d", r.Seq, r.PID, r.Epoch, a.pid(), epochA)
			}
		case r.Owner == ownerB:
			if r.Epoch <= epochA || r.PID != b.pid() {
				t.Errorf("record %d of B (pid %d, epoch %d), want pid %d and an epoch above A's %d", r.Seq, r.PID, r.Epoch, b.pid(), epochA)
			}
		default:
			t.Errorf("record %d by unknown owner %s (pid %d)", r.Seq, r.Owner, r.PID)
		}
	}
	if nA != fencePauseAt {
		t.Errorf("A has %d records, want the %d events it committed before the pause", nA, fencePauseAt)
	}
	final := leaseStatus(t, st, key)
	switch {
	case final == nil:
		t.Fatal("no status")
	case final.Cursor != last:
		t.Errorf("stored cursor %q, want the last event's %q", final.Cursor, last)
	case final.Owner != ownerB || final.Epoch != epochB || final.Epoch <= epochA:
		t.Errorf("stored lease owner %s epoch %d, want B's (%s, epoch %d above A's %d)", final.Owner, final.Epoch, ownerB, epochB, epochA)
	}
	t.Logf("%s: A (epoch %d) recorded %d events, was paused %v, and its commit was refused after B (epoch %d) took over; B recorded %d; %v in all",
		kind, epochA, nA, lost.at.Sub(paused).Round(time.Millisecond), epochB, len(rows)-nA, time.Since(began).Round(time.Millisecond))
}
