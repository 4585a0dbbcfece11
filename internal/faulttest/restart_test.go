//go:build linux

package faulttest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
)

// Sizes of the database restart test.
const (
	restartTTL      = time.Second
	restartWriteFor = 3 * time.Second
	restartWriters  = 3
	restartAggs     = 4 // per writer
	restartPause    = 10 * time.Millisecond
	restartCuts     = 3
	restartCutEvery = 700 * time.Millisecond
)

// TestDatabaseRestart proves that a running subscription, and writers that
// retry, ride out the loss of every server connection, which is what a
// database restart or failover does to them. A subscription runs in this
// process (Start, polling every 50 ms) with a handler that remembers the
// events it saw, while writers on an executor of their own append to
// several aggregates. Three times in the middle, every other connection to
// the test's database is terminated from an admin connection (PostgreSQL:
// pg_terminate_backend; MariaDB: KILL CONNECTION), the subscription's
// pooled, renewing and listening connections included; the server itself
// stays up, for the other tests that use it. Writers retry a failed commit
// with the same Builder, so a commit that did land is reported
// ErrAlreadyAppended instead of being stored twice. Nothing restarts the
// subscription. In the end:
//
//   - the log holds every event the writers committed, each once;
//   - the subscription recovered by itself and handled every event, in
//     global order of first handling, and its stored cursor is the last
//     event's.
func TestDatabaseRestart(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testDatabaseRestart(t, kind)
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testDatabaseRestart(t *testing.T, kind string) {
	began := time.Now()
	tg := freshTarget(t, kind)
	var logs lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("subscription log:\n%s", tail(logs.String(), 4000))
		}
	})
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	subStore := openStore(t, tg, evento.WithLogger(logger))
	writeStore := openStore(t, tg)
	cutter := newCutter(t, tg)

	const key = "restart"
	var (
		mu   sync.Mutex
		rows []handledRow
		at   []time.Time
	)
	sub := newSubscription(key, restartTTL, evento.On(func(ctx context.Context, ev evento.Typed[ticked]) error {
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, handledRow{Seq: int64(len(rows) + 1), EventID: ev.ID.String(), Aggregate: ev.AggregateID, Version: ev.Version, Owner: "in-process"})
		at = append(at, time.Now())
		return nil
	}))
	w, err := sub.Start(context.Background(), subStore)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	wl := startWriters(writeStore, restartWriters, restartAggs, restartWriteFor, restartPause)
	var cuts []time.Time
	for range restartCuts {
		time.Sleep(restartCutEvery)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := cutter.cut(ctx)
		cancel()
		if err != nil {
			t.Fatalf("terminate connections: %v", err)
		}
		cuts = append(cuts, time.Now())
		t.Logf("terminated %d connections", n)
	}
	committed := wl.wait(t)

	// Fresh connections for the checks.
	verify := openStore(t, tg)
	log, cursors := waitLog(t, tg, verify, committed, 20*time.Second)
	last := lastCursor(cursors)
	checkLog(t, log, committed)
	waitCursor(t, verify, key, last, 30*time.Second, func() error {
		select {
		case <-w.Done():
			return errors.Join(errors.New("the subscription stopped"), w.Err())
		default:
			return nil
		}
	})

	mu.Lock()
	handled := append([]handledRow(nil), rows...)
	times := append([]time.Time(nil), at...)
	mu.Unlock()
	h := checkHandled(t, log, handled, false)
	// How long handling paused after each cut (while events were waiting).
	var recoveries []time.Duration
	for _, c := range cuts {
		for _, ht := range times {
			if ht.After(c) {
				recoveries = append(recoveries, ht.Sub(c))
				break
			}
		}
	}
	t.Logf("%s: %d events, %d handlings (%d duplicates); first handling after each cut: %v; %v in all",
		kind, len(log), len(handled), h.duplicates, recoveries, time.Since(began).Round(time.Millisecond))
}
