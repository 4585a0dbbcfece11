package evento_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// benchIdleDrain runs Execute of sub, caught up, on a SQLite log of one
// event it handles (made by first) followed by 20,000 keyed events it does
// not handle: the poll of an idle worker. A drain that left its cursor on
// its last match would walk all 20,000 at every poll (see the worker's
// skipTo).
func benchIdleDrain(b *testing.B, first func(*evento.Store) *evento.Builder, sub *evento.Subscription, handled *int) {
	const keyed = 20_000
	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.WithSynchronous(sqlite.SynchronousNormal))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { exec.Close() })
	st := evento.New(exec)
	if _, err := first(st).Commit(ctx); err != nil {
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
	if err := sub.Execute(ctx, st); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := sub.Execute(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	if *handled != 1 {
		b.Fatalf("handled %d events, want 1", *handled)
	}
}

// BenchmarkUnkeyedIdleDrain polls a subscription of the events without a
// routing key. SQLite keeps no index of the events without a key, so its
// read from the last unkeyed event walks every keyed event after it.
//
//	go test -run '^$' -bench IdleDrain .
func BenchmarkUnkeyedIdleDrain(b *testing.B) {
	handled := 0
	sub := evento.NewSubscription("unkeyed", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
		handled++
		return nil
	})).RoutingKey(evento.NoRoutingKey())
	benchIdleDrain(b, func(st *evento.Store) *evento.Builder { return st.Create().Event(MoneyDeposited{Amount: 1}) }, sub, &handled)
}

// BenchmarkKeyedIdleDrain polls a subscription of one event name with the
// routing key the 20,000 later events have too: SQLite reads it through the
// key's index and checks the name on each of them.
func BenchmarkKeyedIdleDrain(b *testing.B) {
	handled := 0
	sub := evento.NewSubscription("opened", evento.On(func(context.Context, evento.Typed[AccountOpened]) error {
		handled++
		return nil
	})).RoutingKey(evento.RoutingKeyOf("eu"))
	benchIdleDrain(b, func(st *evento.Store) *evento.Builder {
		return st.Create().RoutingKey("eu").Event(AccountOpened{Owner: "ada"})
	}, sub, &handled)
}
