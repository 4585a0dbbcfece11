package evento_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// A Transactional().Park() subscription's handler, written as
// docs/subscriptions.md shows (tx from evento.TxFrom), gets a transaction
// on Replay too: once the handler is fixed the parked event is replayed,
// and the dead letter's removal commits with the handler's writes.
func TestReplayTransactional(t *testing.T) {
	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Close()
	st := evento.New(exec)
	var broken atomic.Bool
	broken.Store(true)
	sub := evento.NewSubscription("txpark", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		if broken.Load() {
			return errors.New("read model down")
		}
		tx, _ := evento.TxFrom[*sql.Tx](ctx)
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return err
	})).Transactional().Park()
	if _, err := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if parked, err := evento.ParkedEvents(ctx, st, "txpark", 10); err != nil || len(parked) != 1 {
		t.Fatalf("parked = %d, %v; want 1", len(parked), err)
	}
	broken.Store(false) // the fix
	n, err := sub.Replay(ctx, st)
	if n != 1 || err != nil {
		t.Fatalf("Replay after the fix = %d, %v; want 1, nil", n, err)
	}
}

// Replay reports a handler that still fails as a *HandlerError, after the
// subscription's retries, for a transactional subscription too.
func TestReplayTransactionalErrorClass(t *testing.T) {
	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Close()
	st := evento.New(exec)
	var calls atomic.Int32
	sub := evento.NewSubscription("txpark2", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		calls.Add(1)
		return errors.New("still broken")
	})).Transactional().Park().Retry(2, 0)
	if _, err := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	_, err = sub.Replay(ctx, st)
	var he *evento.HandlerError
	if !errors.As(err, &he) || calls.Load() != 3 {
		t.Fatalf("Replay = %v (a *HandlerError: %v) after %d calls; want a *HandlerError after 3 calls", err, errors.As(err, &he), calls.Load())
	}
}
