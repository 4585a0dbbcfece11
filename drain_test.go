package evento_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// flaky wraps the SQLite executor: Read fails on call failRead (1-based,
// not counting a worker's reads of the log's end), plain Acknowledge fails
// when failAck is set.
type flaky struct {
	*sqlite.Executor
	reads    atomic.Int32
	failRead int32
	failAck  bool
}

func (f *flaky) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if isHeadRead(q) {
		return f.Executor.Read(ctx, q)
	}
	if f.reads.Add(1) == f.failRead {
		return nil, errors.New("read: connection reset")
	}
	return f.Executor.Read(ctx, q)
}

func (f *flaky) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	if f.failAck {
		return errors.New("acknowledge: connection reset")
	}
	return f.Executor.Acknowledge(ctx, l, ack)
}

// A Read failing mid-drain, with an acknowledgement interval that held the
// cursor back: what was handled before is still stored.
func TestSequentialReadErrorKeepsHandled(t *testing.T) {
	ctx := context.Background()
	exec, _ := parallelStore(t)
	f := &flaky{Executor: exec, failRead: 3} // pages of 5 and 10, then the failure
	st := evento.New(f)
	for i := range 30 {
		if _, err := st.Create().Event(MoneyDeposited{Amount: int64(i)}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := map[string]bool{}
	sub := evento.NewSubscription("seqread", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		mu.Lock()
		handled[ev.ID.String()] = true
		mu.Unlock()
		return nil
	})).ChunkSize(5).AckInterval(1 << 40)
	if err := sub.Execute(ctx, st); err == nil {
		t.Fatal("Execute succeeded through a failing read")
	}
	if idx := checkStoredPrefix(t, exec, st, sub, handled); idx != 14 {
		t.Fatalf("stored cursor at edge %d after 15 handled events, want 14", idx)
	}
}

// Transactional + Park: the park of a failed event rides on the next
// event's AcknowledgeTx, even when no plain Acknowledge ever succeeds.
type tx struct{ flaky }

func (f *tx) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(context.Context) error) error {
	return f.Executor.AcknowledgeTx(ctx, l, ack, fn)
}
func (f *tx) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	return f.Executor.DeadLetters(ctx, key, limit)
}
func (f *tx) DeleteDeadLetter(ctx context.Context, key, id string) error {
	return f.Executor.DeleteDeadLetter(ctx, key, id)
}

func TestTransactionalParkRidesOnNextCommit(t *testing.T) {
	ctx := context.Background()
	exec, _ := parallelStore(t)
	f := &tx{flaky{Executor: exec, failAck: true}}
	st := evento.New(f)
	first, _ := st.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	if _, err := st.Create().Event(MoneyDeposited{Amount: 2}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sub := evento.NewSubscription("txpark3", evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
		if ev.AggregateID == first.AggregateID {
			return errors.New("boom")
		}
		return nil
	})).Transactional().Park()
	if err := sub.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	parked, err := evento.ParkedEvents(ctx, st, "txpark3", 10)
	if err != nil || len(parked) != 1 || parked[0].AggregateID != first.AggregateID {
		t.Fatalf("parked = %v, %v; want the first event", parked, err)
	}
	s, _ := sub.Status(ctx, st)
	if s.Pending != 0 || s.LastError == nil {
		t.Fatalf("status: pending %d, last error %+v", s.Pending, s.LastError)
	}
}
