package evento_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
)

// Status through a Group and through an Rw: pending events of every member,
// parked events and the stop of the first member's subscription.
func TestStatusGroupRw(t *testing.T) {
	ctx := context.Background()
	a, _ := parallelStore(t)
	b, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	g, err := evento.NewGroup(evento.NewRw(a, a), b)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb, sg := evento.New(a), evento.New(b), evento.New(g)
	for range 5 {
		sa.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
		sb.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	}
	var bad string
	if r, err := sb.Create().Event(MoneyDeposited{Amount: 666}).Commit(ctx); err == nil {
		bad = r.AggregateID
	}
	sub := evento.NewSubscription("gstatus", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		if ev.AggregateID == bad {
			return errors.New("boom")
		}
		return nil
	})).Park()
	if err := sub.Execute(ctx, sg); err != nil {
		t.Fatal(err)
	}
	s, err := sub.Status(ctx, sg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pending != 0 || s.Parked != 1 || s.Running || s.Stopped {
		t.Fatalf("group status after a full run: %+v", s)
	}
	for range 3 {
		sb.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	}
	sa.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	if s, err = sub.Status(ctx, sg); err != nil || s.Pending != 4 || s.Behind <= 0 {
		t.Fatalf("group status with 4 new events: %+v, %v", s, err)
	}
	stop := evento.NewSubscription("gstop", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		return errors.New("boom")
	}))
	if err := stop.Execute(ctx, sg); err == nil {
		t.Fatal("want a failure")
	}
	if s, err = stop.Status(ctx, sg); err != nil || !s.Stopped || s.Pending != 15 {
		t.Fatalf("stopped group subscription status: %+v, %v", s, err)
	}
	if n, err := sub.Replay(ctx, sg); n != 0 || err == nil {
		t.Fatalf("Replay through the group = %d, %v", n, err)
	}
}
