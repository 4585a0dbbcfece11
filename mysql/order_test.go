package mysql_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/mysql"
)

// slowWriter sets the scene of the ordering tests: two committed events
// (positions 1 and 2) that a reader has seen, writer A's append of two
// events inserted but not committed, and writer B's append of one event
// waiting for the counter row that A holds. It returns A's commit and
// rollback, B's result channel, the reader's cursor and the events.
func slowWriter(t *testing.T, x *mysql.Executor, dsn string) (commitA func() error, rollbackA func(), doneB <-chan error, seen cursor.Value, a, b *evento.Commit) {
	t.Helper()
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "seed", 0, 2))
	before := readAll(t, x, evento.Query{})
	if got := positions(before); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("seed positions %v, want [1 2]", got)
	}
	seen = before[1].Cursor()

	a = newCommit("t", "a", 0, 2)
	commit, rollback, err := x.AppendUncommitted(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// Should the test fail before A ends, A's open transaction would keep
	// the database from being dropped.
	ended := false
	commitA = func() error { ended = true; return commit() }
	rollbackA = func() { ended = true; rollback() }
	t.Cleanup(func() {
		if !ended {
			rollback()
		}
	})
	b = newCommit("t", "b", 0, 1)
	done := make(chan error, 1)
	go func() { done <- x.Append(ctx, b) }()
	waitForLockWait(t, dsn)
	select {
	case err := <-done:
		t.Fatalf("writer B finished (err %v) while writer A held the counter", err)
	default:
	}
	return commitA, rollbackA, done, seen, a, b
}

// waitForLockWait waits until a transaction of the test's database is
// waiting for a row lock, as writer B does for the counter row. A
// transaction in LOCK WAIT is blocked in the server, so this is a
// deterministic check, not a timing guess.
func waitForLockWait(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const query = `SELECT COUNT(*) FROM information_schema.INNODB_TRX t
		JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
		WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writer B never waited for the counter row")
		}
		// The server refreshes INNODB_TRX only after 100 ms without
		// reads of it: polling faster would keep it stale.
		time.Sleep(150 * time.Millisecond)
	}
}

// checkReaderHolds checks that a reader that has seen seen finds nothing
// new while A is uncommitted and B waits, and that the read does not wait
// for them.
func checkReaderHolds(t *testing.T, x *mysql.Executor, seen cursor.Value) {
	t.Helper()
	start := time.Now()
	if got := readAfter(t, x, seen); len(got) != 0 {
		t.Fatalf("the reader passed writer A's uncommitted position: it read positions %v", positions(got))
	}
	if all := readAll(t, x, evento.Query{}); !slices.Equal(positions(all), []uint64{1, 2}) {
		t.Fatalf("a full read shows positions %v before any commit, want [1 2]", positions(all))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("reads took %v while writers held locks: readers must not wait for writers", d)
	}
}

// A writer that commits late keeps every later writer, and every reader,
// behind its positions: B waits for A's counter row, the reader sees
// neither, and after A commits the reader gets A's events and then B's, in
// order and with no gap.
func TestSlowWriterCommitKeepsOrder(t *testing.T) {
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)
	commitA, _, doneB, seen, a, b := slowWriter(t, x, dsn)
	checkReaderHolds(t, x, seen)

	if err := commitA(); err != nil {
		t.Fatal(err)
	}
	if err := <-doneB; err != nil {
		t.Fatalf("writer B: %v", err)
	}
	if got := positions(a.Events); !slices.Equal(got, []uint64{3, 4}) {
		t.Errorf("writer A got positions %v, want [3 4]", got)
	}
	if got := positions(b.Events); !slices.Equal(got, []uint64{5}) {
		t.Errorf("writer B got positions %v, want [5]", got)
	}
	got := readAfter(t, x, seen)
	want := []*evento.Event{a.Events[0], a.Events[1], b.Events[0]}
	if len(got) != len(want) {
		t.Fatalf("after A committed the reader got %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.ID != want[i].ID || e.Position.Seq != uint64(3+i) {
			t.Errorf("event %d: %s/%s at %v, want %s/%s at %d", i, e.AggregateID, e.ID, e.Position,
				want[i].AggregateID, want[i].ID, 3+i)
		}
	}
}

// A writer that rolls back gives its positions back: B, which waited for
// the counter, takes A's first position, the reader never stalls, and no
// committed event sits behind a hole.
func TestSlowWriterRollbackLeavesNoHole(t *testing.T) {
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)
	_, rollbackA, doneB, seen, a, b := slowWriter(t, x, dsn)
	checkReaderHolds(t, x, seen)

	rollbackA()
	if err := <-doneB; err != nil {
		t.Fatalf("writer B: %v", err)
	}
	if got := positions(b.Events); !slices.Equal(got, []uint64{3}) {
		t.Errorf("writer B got positions %v, want [3]: A's rolled-back positions are reused", got)
	}
	got := readAfter(t, x, seen)
	if len(got) != 1 || got[0].ID != b.Events[0].ID || got[0].Position.Seq != 3 {
		t.Fatalf("after A rolled back the reader got %v, want B's event at position 3", positions(got))
	}
	for _, e := range readAll(t, x, evento.Query{}) {
		if e.AggregateID == "a" {
			t.Errorf("rolled-back event %s is stored at %v", e.ID, e.Position)
		}
	}
	if !a.Events[0].Position.IsZero() {
		t.Errorf("a rolled-back append set Position %v", a.Events[0].Position)
	}

	// A's retry after its rollback is a fresh append.
	mustAppend(t, x, a)
	if got := positions(a.Events); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("A's retry got positions %v, want [4 5]", got)
	}
	all := readAll(t, x, evento.Query{})
	if got := positions(all); !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("stored positions %v, want dense 1..5", got)
	}
}
