package postgres

import (
	"context"
	"fmt"
	"time"
)

// maxVisibilityWait bounds how long a read of the global log waits for this
// executor's own appends to fall below the horizon.
const maxVisibilityWait = time.Second

// noteAppend records the transaction id of a committed append, so that later
// reads of the global log through this executor include it.
func (x *Executor) noteAppend(tx uint64) {
	for {
		cur := x.lastTx.Load()
		if tx <= cur || x.lastTx.CompareAndSwap(cur, tx) {
			return
		}
	}
}

// awaitOwnWrites gives reads of the global log read-your-writes: it waits
// until the horizon has passed the newest transaction this executor
// appended, so that a process that appended an event finds it in the log at
// once. Other processes' running transactions can hold the horizon back;
// the wait for one transaction id is bounded by maxVisibilityWait, after
// which reads proceed without it (a long-running writer elsewhere delays
// subscribers anyway: see HorizonLag).
func (x *Executor) awaitOwnWrites(ctx context.Context) error {
	last := x.lastTx.Load()
	if last == 0 || x.horizonSeen.Load() > last || x.gaveUpOn.Load() >= last {
		return nil
	}
	deadline := time.Now().Add(maxVisibilityWait)
	pause := 500 * time.Microsecond
	for {
		var h uint64
		if err := x.pool.QueryRow(ctx, x.stmt.horizon).Scan(&h); err != nil {
			return fmt.Errorf("evento: read horizon: %w", err)
		}
		for {
			seen := x.horizonSeen.Load()
			if h <= seen || x.horizonSeen.CompareAndSwap(seen, h) {
				break
			}
		}
		if h > last {
			return nil
		}
		if time.Now().After(deadline) {
			x.gaveUpOn.Store(last)
			return nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
}
