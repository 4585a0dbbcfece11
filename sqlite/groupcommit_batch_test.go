package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

func open(t *testing.T) *Executor {
	t.Helper()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "evento.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func commit(aggID string, expected int64, n int) *evento.Commit {
	c := &evento.Commit{AggregateType: "zz", AggregateID: aggID, ExpectedVersion: expected}
	for i := range n {
		v := expected + int64(i) + 1
		c.Events = append(c.Events, &evento.Event{
			ID: ulid.Make(), AggregateType: "zz", AggregateID: aggID, Version: v,
			Name: "E", Data: fmt.Appendf(nil, `{"v":%d,"pad":"%0200d"}`, v, 0),
		})
	}
	return c
}

func queued(x *Executor) int {
	return x.queue.Len()
}

// Two appends share one group-commit transaction and the second one's
// caller cancels its context while the batch is being written: the first,
// valid commit is stored whatever happens to the second.
func TestCancelledAppendFailsItsBatch(t *testing.T) {
	for trial := range 8 {
		x := open(t)
		ctx := context.Background()
		x.writer <- struct{}{} // hold the write turn so that both queue
		good := commit(fmt.Sprintf("good%d", trial), 0, 1)
		big := commit(fmt.Sprintf("big%d", trial), 0, 2000)
		goodErr := make(chan error, 1)
		bigErr := make(chan error, 1)
		go func() { goodErr <- x.Append(ctx, good) }()
		for queued(x) < 1 {
			time.Sleep(time.Millisecond)
		}
		cctx, cancel := context.WithCancel(ctx)
		go func() { bigErr <- x.Append(cctx, big) }()
		for queued(x) < 2 {
			time.Sleep(time.Millisecond)
		}
		<-x.writer // let one of them lead the batch of two
		time.Sleep(time.Duration(5+trial%20) * time.Millisecond)
		cancel() // while the big commit's inserts run
		gErr, bErr := <-goodErr, <-bigErr
		if trial < 3 || gErr != nil {
			t.Logf("trial %d: good=%v big=%v", trial, gErr, bErr)
		}
		var n int
		if err := x.db.QueryRow("SELECT count(*) FROM "+x.tables.events+" WHERE aggregate_id = ?", good.AggregateID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (gErr == nil) != (n == 1) {
			t.Fatalf("trial %d: good append returned %v but %d events stored", trial, gErr, n)
		}
		if bErr == nil {
			continue // the big commit finished before the cancel: inconclusive
		}
		if gErr != nil {
			t.Fatalf("trial %d: a valid append failed because another appender of its batch was cancelled: %v (cancelled one: %v)",
				trial, gErr, errors.Unwrap(bErr))
		}
	}
}

// More queued commits than one transaction takes, and a batch in which
// every commit fails: every append gets its own outcome and the append
// connection is left usable.
func TestGroupCommitBigAndAllFailing(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	x.writer <- struct{}{}
	const n = 3*maxBatchCommits + 7
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- x.Append(ctx, commit(fmt.Sprintf("many%d", i), 0, 1)) }()
	}
	for queued(x) < n {
		time.Sleep(time.Millisecond)
	}
	<-x.writer
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	x.writer <- struct{}{}
	for range 5 {
		go func() { errs <- x.Append(ctx, commit("many0", 0, 1)) }() // all conflict
	}
	for queued(x) < 5 {
		time.Sleep(time.Millisecond)
	}
	<-x.writer
	for range 5 {
		if err := <-errs; !errors.Is(err, evento.ErrVersionConflict) {
			t.Fatalf("conflicting append = %v", err)
		}
	}
	if err := x.Append(ctx, commit("many0", 1, 2)); err != nil {
		t.Fatalf("append after an all-failing batch: %v", err)
	}
	var count int
	x.db.QueryRow("SELECT count(*) FROM " + x.tables.events).Scan(&count)
	if count != n+2 {
		t.Fatalf("%d events stored, want %d", count, n+2)
	}
}
