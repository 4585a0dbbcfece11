package evento_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// BenchmarkUnkeyedIdleDrain runs Execute of a subscription of the events
// without a routing key, caught up, on a SQLite log whose last 20,000
// events all have one: the poll of an idle worker. SQLite keeps no index
// of the events without a key, so a drain that left its cursor on the
// last unkeyed event would read all 20,000 keyed ones at every poll.
//
//	go test -run '^$' -bench UnkeyedIdleDrain .
func BenchmarkUnkeyedIdleDrain(b *testing.B) {
	const keyed = 20_000
	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.WithSynchronous(sqlite.SynchronousNormal))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { exec.Close() })
	st := evento.New(exec)
	if _, err := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range keyed / 100 {
		bld := st.CreateWithID(fmt.Sprint("keyed-", i)).RoutingKey("eu")
		for range 100 {
			bld.Event(MoneyDeposited{Amount: 1})
		}
		if _, err := bld.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	handled := 0
	sub := evento.NewSubscription("unkeyed", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
		handled++
		return nil
	})).RoutingKey(evento.NoRoutingKey())
	if err := sub.Execute(ctx, st); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := sub.Execute(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	if handled != 1 {
		b.Fatalf("handled %d events, want 1", handled)
	}
}
