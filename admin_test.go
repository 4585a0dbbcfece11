package evento_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
	"github.com/eventogo/evento/sqlite"
)

// adminExecutors are the executors that implement every optional
// interface of admin.go.
var adminExecutors = map[string]func(t *testing.T) evento.Executor{
	"sqlite": func(t *testing.T) evento.Executor { return openSQLite(t) },
	"pebble": func(t *testing.T) evento.Executor {
		x, err := pebble.Open(filepath.Join(t.TempDir(), "events"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	},
}

func TestResetSubscription(t *testing.T) {
	for name, open := range adminExecutors {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			exec := open(t)
			store := evento.New(exec)
			var last evento.Result
			for i := range 3 {
				res, err := store.Create().Event(MoneyDeposited{Amount: int64(i)}).Commit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				last = res
			}
			if err := evento.ResetSubscription(ctx, exec, "missing", "", false); !errors.Is(err, evento.ErrNotFound) {
				t.Errorf("reset of an unknown key: %v, want ErrNotFound", err)
			}

			// A live worker holds the lease: a reset is refused, a forced
			// one fences the worker out.
			lease, err := exec.AcquireLease(ctx, "sub", "worker-1", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := exec.Acknowledge(ctx, lease, evento.Ack{Cursor: cursor.Encode(last.Position)}); err != nil {
				t.Fatal(err)
			}
			if err := evento.ResetSubscription(ctx, exec, "sub", "", false); !errors.Is(err, evento.ErrLeaseHeld) {
				t.Fatalf("reset under a live lease: %v, want ErrLeaseHeld", err)
			}
			if err := evento.ResetSubscription(ctx, exec, "sub", "not a cursor", true); !errors.Is(err, cursor.ErrInvalid) {
				t.Errorf("reset to a bad cursor: %v, want cursor.ErrInvalid", err)
			}
			if err := evento.ResetSubscription(ctx, exec, "sub", "", true); err != nil {
				t.Fatalf("forced reset: %v", err)
			}
			if err := exec.Acknowledge(ctx, lease, evento.Ack{Cursor: cursor.Encode(last.Position)}); !errors.Is(err, evento.ErrLeaseLost) {
				t.Errorf("the old worker's acknowledgement after a forced reset: %v, want ErrLeaseLost", err)
			}
			st, err := exec.SubscriptionStatus(ctx, "sub")
			if err != nil {
				t.Fatal(err)
			}
			if st.Cursor != "" || st.Owner != "" || st.Epoch != lease.Epoch+1 {
				t.Errorf("after the forced reset: %+v", st)
			}

			// Released: a plain reset moves the cursor to any event.
			first, err := exec.Read(ctx, evento.Query{Args: cursor.Forward(1, "")})
			if err != nil {
				t.Fatal(err)
			}
			if err := evento.ResetSubscription(ctx, exec, "sub", first.PageInfo.EndCursor, false); err != nil {
				t.Fatal(err)
			}
			if st, _ := exec.SubscriptionStatus(ctx, "sub"); st.Cursor != first.PageInfo.EndCursor {
				t.Errorf("cursor %q, want %q", st.Cursor, first.PageInfo.EndCursor)
			}
			n, err := exec.(evento.Statistician).CountAfter(ctx, first.PageInfo.EndCursor)
			if err != nil || n != 2 {
				t.Errorf("CountAfter(first event) = %d, %v; want 2", n, err)
			}
		})
	}
}

func TestAdminListsAndCounts(t *testing.T) {
	for name, open := range adminExecutors {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			exec := open(t)
			store := evento.New(exec)
			for range 2 {
				res, err := store.Create().Event(AccountOpened{Owner: "x"}).Commit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := store.Aggregate(res.AggregateID, 1).Event(MoneyDeposited{Amount: 1}).Event(MoneyDeposited{Amount: 2}).Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := store.Create().Event(groupEvent{N: 1}).Commit(ctx); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"b-sub", "a-sub"} {
				l, err := exec.AcquireLease(ctx, key, "w", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if err := exec.ReleaseLease(ctx, l); err != nil {
					t.Fatal(err)
				}
			}

			subs, err := exec.(evento.SubscriptionLister).Subscriptions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(subs) != 2 || subs[0].Key != "a-sub" || subs[1].Key != "b-sub" || subs[0].Epoch != 1 {
				t.Errorf("Subscriptions = %+v", subs)
			}

			st, err := exec.(evento.Statistician).Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []evento.TypeStats{
				{AggregateType: "example/Account", Aggregates: 2, Events: 6, Names: []evento.NameStats{
					{Name: "AccountOpened", Events: 2}, {Name: "MoneyDeposited", Events: 4}}},
				{AggregateType: "group/Thing", Aggregates: 1, Events: 1, Names: []evento.NameStats{{Name: "Happened", Events: 1}}},
			}
			if len(st.Types) != len(want) || st.Size <= 0 {
				t.Fatalf("Stats = %+v", st)
			}
			for i, ts := range st.Types {
				w := want[i]
				if ts.AggregateType != w.AggregateType || ts.Aggregates != w.Aggregates || ts.Events != w.Events ||
					len(ts.Names) != len(w.Names) || ts.Names[0] != w.Names[0] || ts.Names[len(ts.Names)-1] != w.Names[len(w.Names)-1] {
					t.Errorf("Stats type %d = %+v, want %+v", i, ts, w)
				}
			}
			if n, err := exec.(evento.Statistician).CountAfter(ctx, ""); err != nil || n != 7 {
				t.Errorf("CountAfter(start) = %d, %v; want 7", n, err)
			}
			v, err := exec.(evento.Migrator).SchemaVersion(ctx)
			if err != nil || v.Applied != v.Latest || v.Latest < 1 {
				t.Errorf("SchemaVersion = %+v, %v", v, err)
			}
			if _, err := exec.(evento.LeaseBreaker).BreakLease(ctx, "missing", "x", time.Second); !errors.Is(err, evento.ErrNotFound) {
				t.Errorf("BreakLease(missing) = %v, want ErrNotFound", err)
			}
		})
	}
}

// The SQLite executor finds its tables under a custom prefix too.
func TestAdminTablePrefix(t *testing.T) {
	ctx := context.Background()
	x, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"), sqlite.WithTablePrefix("app_"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := evento.New(x).Create().Event(groupEvent{N: 1}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := x.CountAfter(ctx, ""); err != nil || n != 1 {
		t.Errorf("CountAfter = %d, %v; want 1", n, err)
	}
}

func TestStatsAddNameAndSetAggregates(t *testing.T) {
	var st evento.Stats
	st.AddName("a", "X", 2)
	st.AddName("a", "Y", 3)
	st.AddName("b", "X", 1)
	st.SetAggregates("b", 1)
	st.SetAggregates("a", 4)
	st.SetAggregates("missing", 9)
	if len(st.Types) != 2 {
		t.Fatalf("types = %+v", st.Types)
	}
	a, b := st.Types[0], st.Types[1]
	if a.AggregateType != "a" || a.Events != 5 || a.Aggregates != 4 || len(a.Names) != 2 || a.Names[1] != (evento.NameStats{Name: "Y", Events: 3}) {
		t.Errorf("type a = %+v", a)
	}
	if b.AggregateType != "b" || b.Events != 1 || b.Aggregates != 1 || len(b.Names) != 1 {
		t.Errorf("type b = %+v", b)
	}
}
