package evento_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// lagging is a read-only view of a store that has replayed the log up to
// position upTo only (all of it when 0), as a streaming replica does.
type lagging struct {
	evento.EventStore
	upTo *atomic.Uint64
}

func (r lagging) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	page, err := r.EventStore.Read(ctx, q)
	bound := r.upTo.Load()
	if err != nil || bound == 0 {
		return page, err
	}
	var kept []cursor.Edge[*evento.Event]
	for _, e := range page.Edges {
		if e.Node.Position.Seq <= bound {
			kept = append(kept, e)
		}
	}
	if len(kept) < len(page.Edges) && !q.Args.IsBackward() {
		page.PageInfo.HasNextPage = false
	}
	page.Edges = kept
	return page, nil
}

// replicaPool sends each read to the next of its replicas in turn, as a
// reader endpoint in front of several replicas does.
type replicaPool struct {
	evento.EventStore
	replicas []evento.EventStore
	n        atomic.Uint64
}

func (p *replicaPool) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	i := p.n.Add(1) - 1
	return p.replicas[i%uint64(len(p.replicas))].Read(ctx, q)
}

// A subscription of the events without a routing key, reading through an
// Rw from replicas that lag by different delays, handles every unkeyed
// event: a read that sees the log's end on one replica does not let it
// move its cursor past events another replica has not shown it yet.
func TestUnkeyedSubscriptionOverReplicaPool(t *testing.T) {
	ctx := context.Background()
	primary := openSQLite(t)
	st := evento.New(primary)
	var current, behind atomic.Uint64
	pool := &replicaPool{EventStore: primary, replicas: []evento.EventStore{
		lagging{primary, &current}, lagging{primary, &behind}}}
	rw := evento.New(evento.NewRw(pool, primary))

	commit := func(key string, amount int64) {
		t.Helper()
		b := st.Create()
		if key != "" {
			b.RoutingKey(key)
		}
		if _, err := b.Event(MoneyDeposited{Amount: amount}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	commit("", 1) // position 1
	for range 3 {
		commit("eu", 0) // 2 to 4
	}
	commit("", 2)   // 5
	commit("eu", 0) // 6
	behind.Store(4)

	var handled []int64
	sub := func() *evento.Subscription {
		return evento.NewSubscription("unkeyed", evento.On(func(_ context.Context, e evento.Typed[MoneyDeposited]) error {
			handled = append(handled, e.Data.Amount)
			return nil
		})).RoutingKey(evento.NoRoutingKey())
	}
	if err := sub().Execute(ctx, rw); err != nil {
		t.Fatal(err)
	}
	behind.Store(0)
	for range 4 {
		if err := sub().Execute(ctx, rw); err != nil {
			t.Fatal(err)
		}
	}
	if len(handled) != 2 || handled[0] != 1 || handled[1] != 2 {
		t.Fatalf("handled deposits %v, want [1 2]", handled)
	}
}
