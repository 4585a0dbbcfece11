package evento_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

func parallelStore(t *testing.T) (*sqlite.Executor, *evento.Store) {
	t.Helper()
	exec, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Close() })
	return exec, evento.New(exec)
}

// logEdges returns every edge of the log in order.
func logEdges(t *testing.T, exec evento.Executor) []cursor.Edge[*evento.Event] {
	t.Helper()
	var all []cursor.Edge[*evento.Event]
	after := cursor.Value("")
	for {
		page, err := exec.Read(context.Background(), evento.Query{Args: cursor.Forward(1000, after)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Edges...)
		if !page.PageInfo.HasNextPage {
			return all
		}
		after = page.PageInfo.EndCursor
	}
}

// checkStoredPrefix fails unless every event up to the stored cursor was
// handled, and returns the index of the stored cursor's edge in the log:
// -1 when nothing is stored.
func checkStoredPrefix(t *testing.T, exec evento.Executor, st *evento.Store, sub *evento.Subscription, handled map[string]bool) int {
	t.Helper()
	s, err := sub.Status(context.Background(), st)
	if errors.Is(err, evento.ErrNotFound) {
		// No worker took the subscription yet (a Start shut down at once
		// on a loaded machine): nothing is stored, which no handled
		// prefix can contradict.
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	edges := logEdges(t, exec)
	idx := -1
	for i, e := range edges {
		if e.Cursor == s.Cursor {
			idx = i
		}
	}
	if s.Cursor != "" && idx < 0 {
		t.Fatalf("stored cursor %q is no edge of the log", s.Cursor)
	}
	for i := 0; i <= idx; i++ {
		if !handled[edges[i].Node.ID.String()] {
			t.Fatalf("stored cursor is past event %d (%s/%s v%d), which was never handled",
				i, edges[i].Node.AggregateType, edges[i].Node.AggregateID, edges[i].Node.Version)
		}
	}
	return idx
}

// Stop policy: a fast failure in one partition while an earlier slow event
// and many later events run in other partitions. The stored cursor must
// stop before the failed event, all partition goroutines must exit, and the
// next run must deliver the failed event.
func TestParallelStopKeepsPrefix(t *testing.T) {
	ctx := context.Background()
	exec, st := parallelStore(t)
	slow, _ := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	bad, _ := st.Create().Event(MoneyDeposited{Amount: 2}).Commit(ctx)
	for i := range 40 {
		if _, err := st.Create().Event(MoneyDeposited{Amount: int64(100 + i)}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		handled = map[string]bool{}
		broken  = true
	)
	sub := evento.NewSubscription("pstop", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		if ev.AggregateID == slow.AggregateID {
			time.Sleep(150 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if ev.AggregateID == bad.AggregateID && broken {
			return errors.New("boom")
		}
		handled[ev.ID.String()] = true
		return nil
	})).Parallel(4, nil).ChunkSize(5).AckInterval(0)
	before := runtime.NumGoroutine()
	err := sub.Execute(ctx, st)
	var he *evento.HandlerError
	if !errors.As(err, &he) || he.Event.AggregateID != bad.AggregateID {
		t.Fatalf("Execute = %v, want the failure of %s", err, bad.AggregateID)
	}
	idx := checkStoredPrefix(t, exec, st, sub, handled)
	if idx != 0 {
		t.Fatalf("stored cursor at edge %d, want 0 (just past the slow event)", idx)
	}
	s, _ := sub.Status(ctx, st)
	if !s.Stopped || s.LastError == nil || !s.LastError.Fatal {
		t.Fatalf("status after a stop: Stopped=%v LastError=%+v", s.Stopped, s.LastError)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Execute, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 42 {
		t.Fatalf("handled %d events, want 42", len(handled))
	}
}

// Shutdown in the middle of a parallel run: the stored cursor must be a
// gap-free prefix of handled events, and each aggregate's events must be
// handled in version order across the restart.
func TestParallelShutdownPrefix(t *testing.T) {
	ctx := context.Background()
	exec, st := parallelStore(t)
	const aggs, per = 30, 8
	for v := range per {
		for a := range aggs {
			if _, err := st.Aggregate(fmt.Sprintf("acc-%d", a), int64(v)).Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var (
		mu      sync.Mutex
		handled = map[string]bool{}
		last    = map[string]int64{}
	)
	h := evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		time.Sleep(time.Duration(1+len(ev.AggregateID)%3) * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if ev.Version < last[ev.AggregateID] {
			t.Errorf("%s: version %d after %d", ev.AggregateID, ev.Version, last[ev.AggregateID])
		}
		last[ev.AggregateID] = ev.Version
		handled[ev.ID.String()] = true
		return nil
	})
	for round := range 5 {
		sub := evento.NewSubscription("pshut", h).Parallel(8, nil).ChunkSize(7).AckInterval(time.Millisecond).PollInterval(time.Hour)
		w, err := sub.Start(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(10+round*7) * time.Millisecond)
		if err := w.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		checkStoredPrefix(t, exec, st, sub, handled)
		mu.Unlock()
	}
	sub := evento.NewSubscription("pshut", h).Parallel(8, nil)
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if len(handled) != aggs*per {
		t.Fatalf("handled %d events, want %d", len(handled), aggs*per)
	}
}
