package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventogo/evento"
)

// holdHorizon opens a transaction that has a transaction id, which holds
// the horizon back until it ends; the returned function commits it.
func holdHorizon(t *testing.T) func() {
	t.Helper()
	conn := connect(t)
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

// A read of the global log right after an append finds the append, even
// while another writer's transaction holds the horizon for a moment.
func TestReadSeesOwnAppendsBehindAShortTransaction(t *testing.T) {
	x := open(t)
	release := holdHorizon(t)
	c := newCommit("vis/Thing", "a", 0, 1)
	mustAppend(t, x, c)
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(150 * time.Millisecond)
		release()
	}()
	defer func() { <-released }()
	start := time.Now()
	got := readAll(t, x, evento.Query{})
	if len(got) != 1 || got[0].ID != c.Events[0].ID {
		t.Fatalf("global read after own append returned %d events, want the appended one", len(got))
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("read returned after %v, before the holding transaction ended", waited)
	}
}

// The wait is bounded: a long transaction elsewhere delays the read by at
// most a second, once, and the event stays held back until it ends.
func TestReadWaitForOwnAppendsIsBounded(t *testing.T) {
	x := open(t)
	release := holdHorizon(t)
	mustAppend(t, x, newCommit("vis/Thing", "a", 0, 1))
	start := time.Now()
	if got := readAll(t, x, evento.Query{}); len(got) != 0 {
		t.Fatalf("read past a running transaction returned %d events, want 0", len(got))
	}
	first := time.Since(start)
	if first < 900*time.Millisecond || first > 10*time.Second {
		t.Errorf("first read took %v, want about a second", first)
	}
	start = time.Now()
	readAll(t, x, evento.Query{})
	if again := time.Since(start); again > 500*time.Millisecond {
		t.Errorf("second read took %v: it waited again for the same append", again)
	}
	release()
	if got := readAll(t, x, evento.Query{}); len(got) != 1 {
		t.Errorf("after the transaction ended, read returned %d events, want 1", len(got))
	}
}
