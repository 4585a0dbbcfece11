package evento_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// limits wraps the SQLite executor and records the page size of every
// Read of a drain (not a worker's reads of the log's end).
type limits struct {
	*sqlite.Executor
	mu   sync.Mutex
	seen []int
}

func (l *limits) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if isHeadRead(q) {
		return l.Executor.Read(ctx, q)
	}
	l.mu.Lock()
	l.seen = append(l.seen, q.Args.Limit())
	l.mu.Unlock()
	return l.Executor.Read(ctx, q)
}

// take returns the page sizes recorded since the last call.
func (l *limits) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen
	l.seen = nil
	return s
}

// deposit appends n MoneyDeposited events, in commits of up to 500.
func deposit(t *testing.T, st *evento.Store, n int) {
	t.Helper()
	for n > 0 {
		b := st.Create()
		for range min(n, 500) {
			b.Event(MoneyDeposited{Amount: 1})
		}
		if _, err := b.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		n -= min(n, 500)
	}
}

// A sequential worker catching up reads twice as many events each time a
// page comes back full and quick, up to 1,000; it starts every drain from
// the chunk size again, so a live worker reads chunk-sized pages.
func TestCatchUpReadsGrow(t *testing.T) {
	ctx := context.Background()
	exec, _ := parallelStore(t)
	l := &limits{Executor: exec}
	st := evento.New(l)
	deposit(t, st, 4000)
	handled := 0
	sub := evento.NewSubscription("grow", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
		handled++
		return nil
	})).AckInterval(time.Hour) // every page counts as quick
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, want := l.take(), []int{100, 200, 400, 800, 1000, 1000, 1000}; !slices.Equal(got, want) || handled != 4000 {
		t.Fatalf("page sizes %v, %d events handled; want %v, 4000", got, handled, want)
	}
	deposit(t, st, 150)
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, want := l.take(), []int{100, 200}; !slices.Equal(got, want) || handled != 4150 {
		t.Fatalf("next drain: page sizes %v, %d events handled; want %v, 4150", got, handled, want)
	}
}

// Pages grow only as far as about a mebibyte of event data.
func TestCatchUpReadsStayWithinBytes(t *testing.T) {
	ctx := context.Background()
	exec, _ := parallelStore(t)
	l := &limits{Executor: exec}
	st := evento.New(l)
	owner := strings.Repeat("x", 64<<10)
	for range 6 {
		b := st.Create()
		for range 10 {
			b.Event(AccountOpened{Owner: owner})
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sub := evento.NewSubscription("bytes", evento.On(func(context.Context, evento.Typed[AccountOpened]) error {
		return nil
	})).ChunkSize(4).AckInterval(time.Hour)
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	// 64 KiB events: 4, 8, then the 15 that fit in 1 MiB.
	if got, want := l.take(), []int{4, 8, 15, 15, 15, 15}; !slices.Equal(got, want) {
		t.Fatalf("page sizes %v, want %v", got, want)
	}
}

// A page that takes the acknowledgement interval or longer keeps the next
// read at the chunk size, and so does AckInterval(0): slow handlers and
// acknowledging every chunk both keep pages short.
func TestCatchUpReadsStayShort(t *testing.T) {
	for name, c := range map[string]struct {
		ack   time.Duration
		sleep time.Duration
	}{
		"slow handler":  {ack: time.Millisecond, sleep: 2 * time.Millisecond},
		"ack per chunk": {ack: 0},
	} {
		t.Run(name, func(t *testing.T) {
			exec, _ := parallelStore(t)
			l := &limits{Executor: exec}
			st := evento.New(l)
			deposit(t, st, 20)
			sub := evento.NewSubscription("short", evento.On(func(context.Context, evento.Typed[MoneyDeposited]) error {
				time.Sleep(c.sleep)
				return nil
			})).ChunkSize(3).AckInterval(c.ack)
			if err := sub.Execute(context.Background(), st); err != nil {
				t.Fatal(err)
			}
			if got, want := l.take(), []int{3, 3, 3, 3, 3, 3, 3}; !slices.Equal(got, want) {
				t.Fatalf("page sizes %v, want %v", got, want)
			}
		})
	}
}
