package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// closedWithin reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// listening starts x's listener and waits until it listens: the first
// Wake channel closes once LISTEN has succeeded, with no append involved.
func listening(t testing.TB, x *postgres.Executor) {
	t.Helper()
	if !closedWithin(x.Wake(), 10*time.Second) {
		t.Fatal("the listener did not start listening within 10s")
	}
}

// backendAlive reports whether the server process pid exists.
func backendAlive(t testing.TB, conn *pgx.Conn, pid uint32) bool {
	t.Helper()
	var alive bool
	err := conn.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)`, int32(pid)).Scan(&alive)
	if err != nil {
		t.Fatal(err)
	}
	return alive
}

// An append through another executor, with a pool of its own, closes the
// Wake channel of the first: no poll is involved. With a schema and prefix
// too long for a readable channel name, the hashed name works the same.
func TestNotifyWakesOtherExecutor(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []postgres.Option
	}{
		{"default", nil},
		{"hashed channel", []postgres.Option{postgres.WithTablePrefix(strings.Repeat("p", 40) + "_")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := freshSchema(t)
			a := openIn(t, schema, tc.opts...)
			b := openIn(t, schema, tc.opts...)
			if ch := a.NotifyChannel(); len(ch) > 63 {
				t.Fatalf("channel %q is longer than 63 bytes", ch)
			}
			listening(t, a)
			for i := range 3 {
				wake := a.Wake()
				start := time.Now()
				mustAppend(t, b, newCommit("t", "agg", int64(i), 1))
				if !closedWithin(wake, time.Second) {
					t.Fatalf("append %d: the Wake channel did not close within 1s of another executor's append", i)
				}
				t.Logf("append %d: woken %v after the append started", i, time.Since(start))
			}
		})
	}
}

// Another store in the same database, under another prefix or another
// schema, notifies a channel of its own.
func TestNotifyOtherStoreDoesNotWake(t *testing.T) {
	schema := freshSchema(t)
	a := openIn(t, schema)
	otherPrefix := openIn(t, schema, postgres.WithTablePrefix("other_"))
	otherSchema := open(t)
	same := openIn(t, schema)
	if a.NotifyChannel() == otherPrefix.NotifyChannel() || a.NotifyChannel() == otherSchema.NotifyChannel() {
		t.Fatalf("channels collide: %q, %q, %q", a.NotifyChannel(), otherPrefix.NotifyChannel(), otherSchema.NotifyChannel())
	}
	listening(t, a)
	wake := a.Wake()
	mustAppend(t, otherPrefix, newCommit("t", "agg", 0, 1))
	mustAppend(t, otherSchema, newCommit("t", "agg", 0, 1))
	if closedWithin(wake, 500*time.Millisecond) {
		t.Fatal("an append to another store woke the executor")
	}
	mustAppend(t, same, newCommit("t", "agg", 0, 1))
	if !closedWithin(wake, time.Second) {
		t.Fatal("an append to the same store did not wake the executor")
	}
}

// When the listener's backend is terminated, the listener reconnects, wakes
// its waiters once it listens again (events may have been appended
// meanwhile), and hears other executors' appends as before.
func TestNotifyReconnects(t *testing.T) {
	schema := freshSchema(t)
	a := openIn(t, schema)
	b := openIn(t, schema)
	conn := connect(t)
	ctx := context.Background()
	listening(t, a)
	for round := range 2 {
		pid := a.ListenerPID()
		if pid == 0 || !backendAlive(t, conn, pid) {
			t.Fatalf("round %d: the listener's backend %d is not running", round, pid)
		}
		wake := a.Wake()
		start := time.Now()
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
			t.Fatal(err)
		}
		// No append: the channel closes because the listener listens again.
		if !closedWithin(wake, 10*time.Second) {
			t.Fatalf("round %d: the listener did not wake its waiters after reconnecting", round)
		}
		t.Logf("round %d: listening again %v after the backend was terminated", round, time.Since(start))
		if now := a.ListenerPID(); now == 0 || now == pid {
			t.Fatalf("round %d: listening on backend %d after backend %d was terminated", round, now, pid)
		}
		wake = a.Wake()
		mustAppend(t, b, newCommit("t", "agg", int64(round), 1))
		if !closedWithin(wake, time.Second) {
			t.Fatalf("round %d: another executor's append did not wake the reconnected listener", round)
		}
	}
}

// No listener runs until the first Wake; Close stops it, closes its
// connection and leaves a pool passed to New open; after Close, Wake starts
// no listener again.
func TestNotifyListenerLifecycle(t *testing.T) {
	schema := freshSchema(t)
	conn := connect(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	x, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	mustAppend(t, x, newCommit("t", "agg", 0, 1))
	readAll(t, x, evento.Query{})
	if x.ListenerRunning() {
		t.Fatal("a listener goroutine runs before any Wake")
	}
	if pid := x.ListenerPID(); pid != 0 {
		t.Fatalf("listening on backend %d before any Wake", pid)
	}

	listening(t, x)
	for range 10 {
		x.Wake()
	}
	if !x.ListenerRunning() {
		t.Fatal("no listener goroutine runs after Wake")
	}
	pid := x.ListenerPID()
	if pid == 0 || !backendAlive(t, conn, pid) {
		t.Fatalf("the listener's backend %d is not running", pid)
	}

	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the goroutine.
	if x.ListenerRunning() {
		t.Fatal("the listener goroutine still runs after Close")
	}
	if now := x.ListenerPID(); now != 0 {
		t.Fatalf("listening on backend %d after Close", now)
	}
	waitFor(t, 10*time.Second, "the listener's backend to end", func() bool {
		return !backendAlive(t, conn, pid)
	})
	x.Wake()
	if x.ListenerRunning() {
		t.Fatalf("Wake after Close started a listener")
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("the pool passed to New was closed: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Close while the listener cannot connect (its pool is closed) returns
// promptly and leaves no goroutine.
func TestNotifyCloseWhileReconnecting(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	x, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	x.Wake()
	time.Sleep(200 * time.Millisecond) // a few failed attempts
	start := time.Now()
	x.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if x.ListenerRunning() {
		t.Fatal("the listener goroutine still runs after Close")
	}
}

// notification waits up to d for a notification on conn, and reports
// whether one came.
func notification(t testing.TB, conn *pgx.Conn, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := conn.WaitForNotification(ctx)
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil:
		return false
	}
	t.Fatalf("WaitForNotification: %v", err)
	return false
}

// An append notifies once it commits, and only when it stored events: a
// refused append and a rolled-back transaction notify no one.
func TestAppendNotifies(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	listen := connect(t)
	if _, err := listen.Exec(ctx, `LISTEN "`+x.NotifyChannel()+`"`); err != nil {
		t.Fatal(err)
	}

	mustAppend(t, x, newCommit("t", "agg", 0, 3))
	if !notification(t, listen, time.Second) {
		t.Fatal("an append did not notify")
	}
	if notification(t, listen, 200*time.Millisecond) {
		t.Fatal("an append of three events notified more than once")
	}

	err := x.Append(ctx, newCommit("t", "agg", 0, 1))
	if !errors.Is(err, evento.ErrVersionConflict) {
		t.Fatalf("Append at a stale version: %v, want ErrVersionConflict", err)
	}
	if notification(t, listen, 300*time.Millisecond) {
		t.Fatal("a refused append notified")
	}

	// Appends inside a caller's transaction are not notified: the executor
	// does not know when, or whether, the caller commits. Subscriptions
	// find them at their next poll.
	writer := connect(t)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.AppendInTx(ctx, tx, newCommit("t", "agg", 3, 1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if notification(t, listen, 300*time.Millisecond) {
		t.Fatal("an append in a caller's transaction notified")
	}

	// Concurrent appends share notifications, and the last one carries the
	// newest transaction id.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		newest uint64
	)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCommit("t", fmt.Sprintf("burst-%d", i), 0, 1)
			mustAppend(t, x, c)
			mu.Lock()
			newest = max(newest, c.Events[0].Position.Tx)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var got []uint64
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := listen.WaitForNotification(wctx)
		cancel()
		if err != nil {
			break
		}
		tx, err := strconv.ParseUint(n.Payload, 10, 64)
		if err != nil {
			t.Fatalf("payload %q: %v", n.Payload, err)
		}
		got = append(got, tx)
	}
	if len(got) == 0 || len(got) > 40 || slices.Max(got) != newest {
		t.Fatalf("40 concurrent appends sent notifications %v, want 1 to 40, one of them the newest tx_id %d", got, newest)
	}
	t.Logf("40 concurrent appends sent %d notifications", len(got))
}

// WithoutNotify: appends notify no one, and Wake starts no listener, so
// only this executor's own appends close its channel.
func TestWithoutNotify(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	channel := openIn(t, schema).NotifyChannel()
	quiet := openIn(t, schema, postgres.WithoutNotify())
	other := openIn(t, schema, postgres.WithoutNotify())
	if quiet.NotifyChannel() != "" {
		t.Fatalf("a WithoutNotify executor has channel %q", quiet.NotifyChannel())
	}
	listen := connect(t)
	if _, err := listen.Exec(ctx, `LISTEN "`+channel+`"`); err != nil {
		t.Fatal(err)
	}

	wake := quiet.Wake()
	time.Sleep(100 * time.Millisecond)
	if quiet.ListenerRunning() {
		t.Fatal("Wake WithoutNotify started a listener")
	}
	if pid := quiet.ListenerPID(); pid != 0 {
		t.Fatalf("listening on backend %d WithoutNotify", pid)
	}

	mustAppend(t, other, newCommit("t", "agg", 0, 1))
	if notification(t, listen, 300*time.Millisecond) {
		t.Fatal("an append WithoutNotify notified")
	}
	if closedWithin(wake, 300*time.Millisecond) {
		t.Fatal("another executor's append woke a WithoutNotify executor")
	}
	mustAppend(t, quiet, newCommit("t", "agg", 1, 1))
	if !closedWithin(wake, time.Second) {
		t.Fatal("a WithoutNotify executor's own append did not wake it")
	}
	if notification(t, listen, 300*time.Millisecond) {
		t.Fatal("an append WithoutNotify notified")
	}
}

// A subscription started on one executor, polling once a minute, handles
// events appended through another executor within two seconds: they are
// pushed: even right after finding events, the worker waits a sixteenth
// of its interval (3.75s) before it polls again.
func TestSubscriptionPushedAcrossExecutors(t *testing.T) {
	schema := freshSchema(t)
	a := openIn(t, schema)
	b := openIn(t, schema)
	var rec recorder
	w, err := evento.NewSubscription("pushed").OnAll("t", rec.handle).PollInterval(time.Minute).
		Start(t.Context(), evento.New(a))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())
	for i := range 5 {
		start := time.Now()
		mustAppend(t, b, newCommit("t", "agg", int64(i), 1))
		waitFor(t, 2*time.Second, "the handler to see the event appended through B", func() bool {
			return rec.len() == i+1
		})
		t.Logf("event %d handled %v after the append started", i, time.Since(start))
		time.Sleep(50 * time.Millisecond) // let the worker settle into its wait
	}
}

// While an older transaction holds the horizon, the events of a notified
// append are not readable yet: the listener wakes no one until that
// transaction ends, and then within a quarter of a second (it reads the
// horizon again at growing intervals, up to that), without waiting for a
// poll.
func TestNotifyWaitsForTheHorizon(t *testing.T) {
	schema := freshSchema(t)
	a := openIn(t, schema)
	b := openIn(t, schema)
	listening(t, a)
	release := holdHorizon(t)
	wake := a.Wake()
	mustAppend(t, b, newCommit("t", "agg", 0, 1))
	if closedWithin(wake, 300*time.Millisecond) {
		t.Fatal("woken while the horizon held the appended events back")
	}
	start := time.Now()
	release()
	if !closedWithin(wake, time.Second) {
		t.Fatal("not woken within 1s of the end of the transaction that held the horizon")
	}
	t.Logf("woken %v after the transaction that held the horizon ended", time.Since(start))
	if got := readAll(t, a, evento.Query{}); len(got) != 1 {
		t.Fatalf("after the wake-up, a read returned %d events, want 1", len(got))
	}
}

// A notification on the channel that does not come from an append (no
// tx_id) wakes the waiters at once.
func TestNotifyForeignPayload(t *testing.T) {
	a := open(t)
	listening(t, a)
	conn := connect(t)
	for _, payload := range []string{"", "not a number"} {
		wake := a.Wake()
		if _, err := conn.Exec(context.Background(), `SELECT pg_notify($1, $2)`, a.NotifyChannel(), payload); err != nil {
			t.Fatal(err)
		}
		if !closedWithin(wake, time.Second) {
			t.Fatalf("a notification with payload %q did not wake the executor", payload)
		}
	}
}
