package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestAppendRetryIsAlreadyAppended(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	c := newCommit("t", "a", 0, 3)
	mustAppend(t, x, c)
	positions := []cursor.Position{c.Events[0].Position, c.Events[1].Position, c.Events[2].Position}

	err := x.Append(ctx, c)
	if !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Fatalf("second Append of the same commit: err = %v, want ErrAlreadyAppended", err)
	}
	if errors.Is(err, evento.ErrVersionConflict) {
		t.Error("ErrAlreadyAppended also matches ErrVersionConflict")
	}
	for i, e := range c.Events {
		if e.Position != positions[i] {
			t.Errorf("failed retry moved event %d from %v to %v", i, positions[i], e.Position)
		}
	}
	// The retry is recognised after later commits too.
	mustAppend(t, x, newCommit("t", "a", 3, 1))
	if err := x.Append(ctx, c); !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Errorf("retry after a later commit: err = %v, want ErrAlreadyAppended", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 4 {
		t.Errorf("%d events stored, want 4", n)
	}
}

// A retry that arrives while the first attempt is still committing (the
// client lost its connection during COMMIT, the server did not) waits for
// the first attempt's unique index entries and then reports the commit as
// already appended, or stores it if the first attempt rolled back.
func TestAppendRetryWhileFirstAttemptCommits(t *testing.T) {
	for _, commitFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "FirstCommits", false: "FirstRollsBack"}[commitFirst], func(t *testing.T) {
			x := open(t)
			ctx := t.Context()
			mustAppend(t, x, newCommit("t", "a", 0, 1))
			conn := connect(t)
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			first := newCommit("t", "a", 1, 2)
			if err := x.AppendInTx(ctx, tx, first); err != nil {
				t.Fatal(err)
			}
			retry := make(chan error, 1)
			go func() { retry <- x.Append(ctx, first) }()
			select {
			case err := <-retry:
				t.Fatalf("retry returned %v before the first attempt ended", err)
			case <-time.After(200 * time.Millisecond):
			}
			end := tx.Rollback
			if commitFirst {
				end = tx.Commit
			}
			if err := end(ctx); err != nil {
				t.Fatal(err)
			}
			err = <-retry
			switch {
			case commitFirst && !errors.Is(err, evento.ErrAlreadyAppended):
				t.Errorf("retry after the first attempt committed: err = %v, want ErrAlreadyAppended", err)
			case !commitFirst && err != nil:
				t.Errorf("retry after the first attempt rolled back: %v", err)
			}
			if n := len(readAll(t, x, evento.Query{})); n != 3 {
				t.Errorf("%d events stored, want 3", n)
			}
		})
	}
}

// Appends cancelled at every stage leave an unknown outcome to the caller;
// retrying each until it succeeds or is reported as already appended
// stores every commit exactly once.
func TestAppendCancelledThenRetried(t *testing.T) {
	x := open(t)
	var version int64
	const size = 200
	for i, delay := range []time.Duration{0, 50 * time.Microsecond, 200 * time.Microsecond, time.Millisecond,
		2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		c := newCommit("t", "a", version, size)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(delay, cancel)
		err := x.Append(ctx, c)
		cancel()
		outcome := "stored"
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("cancel after %v: err = %v, want one matching context.Canceled", delay, err)
		}
		if err != nil {
			outcome = "retried: "
			for attempt := 0; ; attempt++ {
				retryErr := x.Append(context.Background(), c)
				if retryErr == nil {
					outcome += "stored by the retry"
					break
				}
				if errors.Is(retryErr, evento.ErrAlreadyAppended) {
					outcome += "already appended"
					break
				}
				if attempt == 3 {
					t.Fatalf("commit %d: retry after %v: %v", i, err, retryErr)
				}
			}
		}
		t.Logf("cancel after %v: first attempt %v; %s", delay, err, outcome)
		version += size
		got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "t", AggregateID: "a"}}})
		if int64(len(got)) != version {
			t.Fatalf("after commit %d: %d events stored, want %d", i, len(got), version)
		}
	}
}

func TestAppendReusedEventID(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	first := newCommit("t", "a", 0, 1)
	mustAppend(t, x, first)

	other := newCommit("t", "b", 0, 1)
	other.Events[0].ID = first.Events[0].ID
	err := x.Append(ctx, other)
	if !errors.Is(err, evento.ErrInvalidArgument) || !strings.Contains(err.Error(), "already used") {
		t.Errorf("id of another aggregate's event: err = %v, want ErrInvalidArgument naming the reuse", err)
	}
	later := newCommit("t", "a", 1, 2)
	later.Events[1].ID = first.Events[0].ID
	if err := x.Append(ctx, later); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("id of an earlier event, not first in the commit: err = %v, want ErrInvalidArgument", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 1 {
		t.Errorf("%d events stored, want 1: failed commits must write nothing", n)
	}
}

func TestAppendVersionConflictNamesTheVersion(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "a", 0, 2))
	for _, expected := range []int64{0, 1, 3} {
		err := x.Append(ctx, newCommit("t", "a", expected, 1))
		if !errors.Is(err, evento.ErrVersionConflict) || !strings.Contains(err.Error(), "version 2") {
			t.Errorf("expected version %d: err = %v, want ErrVersionConflict naming version 2", expected, err)
		}
	}
}

// An append inside a transaction that started before the aggregate's last
// commit would put a later version before an earlier one in the global
// order; it is refused as a conflict.
func TestAppendInOlderTransactionIsRefused(t *testing.T) {
	x := open(t)
	ctx := t.Context()
	conn := connect(t)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	// The transaction gets its id now, by writing to an unrelated table.
	if _, err := tx.Exec(ctx, "CREATE TEMPORARY TABLE scratch (x int) ON COMMIT DROP; INSERT INTO scratch VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	err = x.AppendInTx(ctx, tx, newCommit("t", "a", 1, 1))
	if !errors.Is(err, evento.ErrVersionConflict) || !strings.Contains(err.Error(), "new transaction") {
		t.Errorf("append in an older transaction: err = %v, want ErrVersionConflict asking for a new transaction", err)
	}
}

func TestAppendLargeCommitIsOneStatement(t *testing.T) {
	x := open(t)
	c := newCommit("t", "big", 0, evento.MaxCommitEvents)
	mustAppend(t, x, c)
	for i := 1; i < len(c.Events); i++ {
		if p, q := c.Events[i-1].Position, c.Events[i].Position; p.Tx != q.Tx || !p.Less(q) {
			t.Fatalf("events %d and %d at %v and %v: not one transaction in order", i-1, i, p, q)
		}
	}
	got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "t", AggregateID: "big"}}})
	if len(got) != evento.MaxCommitEvents || got[len(got)-1].Version != evento.MaxCommitEvents {
		t.Errorf("read %d events, want %d in version order", len(got), evento.MaxCommitEvents)
	}
}
