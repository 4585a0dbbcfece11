package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/eventogo/evento/internal/sqlstore"
)

// HorizonLag is how far reads of the global log trail the committed log:
// what the horizon holds back, and the transaction that holds it.
type HorizonLag struct {
	// Held counts committed events that reads of the global log (and so
	// subscriptions) do not return yet, because a transaction that started
	// writing before theirs is still running.
	Held int64
	// Oldest is how long the transaction holding the horizon has been
	// open: the running transaction with the oldest transaction id, in any
	// database of the server. Zero when none runs, or when the role may not
	// see other sessions in pg_stat_activity.
	Oldest time.Duration
	// PID is that transaction's server process id, as pg_stat_activity and
	// pg_terminate_backend know it; zero when unknown. A prepared (two-phase)
	// transaction holds the horizon too but has no process: look in
	// pg_prepared_xacts.
	PID int32
}

// HorizonLag reports how far reads of the global log trail the committed
// log. Held above zero for more than a moment means a long-running
// transaction is delaying every subscriber; see the package documentation.
func (x *Executor) HorizonLag(ctx context.Context) (HorizonLag, error) {
	var (
		lag    HorizonLag
		pid    *int32
		oldest *int64
	)
	if err := x.pool.QueryRow(ctx, x.stmt.horizonLag).Scan(&lag.Held, &pid, &oldest); err != nil {
		return HorizonLag{}, fmt.Errorf("evento: horizon lag: %w", err)
	}
	if pid != nil {
		lag.PID = *pid
	}
	if oldest != nil {
		lag.Oldest = time.Duration(*oldest) * time.Microsecond
	}
	return lag, nil
}

// Rebase makes the transaction ids of future writes sort after every event
// already stored, and returns by how much it moved them (zero when they
// already did). Run it once after restoring a logical dump (pg_dump and
// pg_restore, or a copy of the rows into another server), before any writer
// starts; it is harmless at any other time.
//
// A logical restore keeps the stored tx_id values but lands on a server
// whose transaction counter is unrelated, usually far lower. Without a
// rebase, every restored event sits above the new server's horizon, so
// reads of the global log return none of them, and new events sort before
// them. Rebase adds a fixed offset to the ids the tx_id column's default
// and the horizon compute (see the current_tx and horizon functions in the
// schema), so no stored row changes: every position, every cursor stored in
// the subscriptions and snapshots tables, and every cursor a client holds
// stays valid, in the same order. A physical copy (a streaming replica
// promoted, pg_basebackup, pg_upgrade) keeps the transaction counter and
// needs no rebase.
//
// Rebase takes the migrations' advisory lock and locks the events table
// against writers (readers go on) for its short transaction. It waits for
// that lock as migrations do (see Open): 200ms at first, then twice as
// long at every try up to 3.2s, with a pause between tries, until it holds
// it or ctx ends; a writer's long transaction then delays the rebase, and
// holds back other writers for one wait at a time. Events written on the
// new server before the rebase cannot be put back in order: they stay
// before the restored ones.
func (x *Executor) Rebase(ctx context.Context) (uint64, error) {
	for run := 1; ; run++ {
		shift, err := x.rebase(ctx, run)
		if err == nil || !lockTimedOut(err) {
			return shift, err
		}
		if perr := sqlstore.Pause(ctx, max(minRetryPause, lockWait(run))); perr != nil {
			return 0, fmt.Errorf("evento: rebase: %w; try %d failed: %w", perr, run, err)
		}
	}
}

// rebase is try number run of Rebase.
func (x *Executor) rebase(ctx context.Context, run int) (uint64, error) {
	tx, err := x.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("evento: rebase: %w", err)
	}
	// After Commit, Rollback does nothing.
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, x.names.lock()); err != nil {
		return 0, fmt.Errorf("evento: rebase: lock: %w", err)
	}
	// Bound the waits for locks after the advisory one (which waits for a
	// migration or another rebase as long as they take).
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockWait(run).Milliseconds())); err != nil {
		return 0, fmt.Errorf("evento: rebase: %w", err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+x.names.events+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return 0, fmt.Errorf("evento: rebase: lock events: %w", err)
	}
	var (
		highest  *uint64
		next, id uint64
	)
	err = tx.QueryRow(ctx, `SELECT (SELECT tx_id FROM `+x.names.events+` ORDER BY tx_id DESC LIMIT 1), `+
		x.names.currentTx+`(), pg_catalog.pg_current_xact_id()`).Scan(&highest, &next, &id)
	if err != nil {
		return 0, fmt.Errorf("evento: rebase: read transaction ids: %w", err)
	}
	if highest == nil || *highest < next {
		return 0, nil
	}
	base := next - id
	rebased := *highest + 1 - id
	for _, stmt := range x.names.txFunctions(rebased) {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return 0, fmt.Errorf("evento: rebase: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("evento: rebase: commit: %w", err)
	}
	return rebased - base, nil
}
