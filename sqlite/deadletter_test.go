package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore/sqlstoretest"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

// sqlTxExec runs stmt through the *sql.Tx a transactional handler gets.
func sqlTxExec(ctx context.Context, stmt string) error {
	tx, ok := evento.TxFrom[*sql.Tx](ctx)
	if !ok {
		return errors.New("the handler's context carries no *sql.Tx")
	}
	_, err := tx.ExecContext(ctx, stmt)
	return err
}

func TestAcknowledgements(t *testing.T) {
	sqlstoretest.Run(t, sqlstoretest.Harness{
		Open: func(t *testing.T) sqlstoretest.Executor { return open(t) },
		Exec: func(t *testing.T, x sqlstoretest.Executor, stmt string) {
			t.Helper()
			if _, err := x.(*sqlite.Executor).DB().Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		},
		Count: func(t *testing.T, x sqlstoretest.Executor, query string) int {
			t.Helper()
			var n int
			if err := x.(*sqlite.Executor).DB().QueryRow(query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		},
		TxExec: sqlTxExec,
	})
}

// A database made by a build that knew only the first schema version
// upgrades when opened: its subscriptions keep their state and gain the
// error columns, and the dead letters table appears.
func TestSchemaUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	db := olderDatabase(t, "app_", 1)
	c := cursor.Encode(cursor.Position{Seq: 41})
	if _, err := db.Exec(`INSERT INTO app_subscriptions ("key", owner, epoch, expires_at, cursor, lag, updated_at)`+
		` VALUES ('k', NULL, 3, 0, ?, 1500, ?)`, string(c), time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}

	x := upgrade(t, db, sqlite.WithTablePrefix("app_"))
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil || st.Epoch != 3 || st.Cursor != c || st.Lag != 1500*time.Microsecond || st.LastError != nil {
		t.Fatalf("status after the upgrade = %+v, %v", st, err)
	}
	l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 42}),
		Error: &evento.SubscriptionError{EventID: "E", Message: "m", Fatal: true},
		Park:  []*evento.DeadLetter{{EventID: "E", Event: []byte("e"), Error: "m"}}}
	if err := x.Acknowledge(ctx, l, ack); err != nil {
		t.Fatal(err)
	}
	st, err = x.SubscriptionStatus(ctx, "k")
	if err != nil || st.LastError == nil || st.LastError.EventID != "E" || !st.LastError.Fatal {
		t.Errorf("status = %+v, %v", st, err)
	}
	if dls, err := x.DeadLetters(ctx, "k", 10); err != nil || len(dls) != 1 {
		t.Errorf("DeadLetters = %v, %v", dls, err)
	}
}

// Two executors on one file stand for two processes. Transactional
// acknowledgements, acknowledgements that park, and appends from both
// contend for SQLite's one writer: each waits for its turn (in this
// process's writer lock, or in the busy handler against the other
// process), none fails with SQLITE_BUSY or deadlocks, and every handler
// write commits with its cursor.
func TestAcknowledgeTxContendsAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var execs [2]*sqlite.Executor
	for i := range execs {
		x, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		execs[i] = x
	}
	if _, err := execs[0].DB().Exec("CREATE TABLE handler_rows (id TEXT NOT NULL PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	const workers, rounds = 2, 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(execs)*workers)
	for i, x := range execs {
		for w := range workers {
			key := fmt.Sprintf("sub-%d-%d", i, w)
			wg.Go(func() {
				l, err := x.AcquireLease(ctx, key, key, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				for r := range rounds {
					ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: uint64(r + 1)})}
					if r%5 == 4 {
						ack.Park = []*evento.DeadLetter{{EventID: fmt.Sprint(r), Event: []byte("e")}}
						if err := x.Acknowledge(ctx, l, ack); err != nil {
							errs <- fmt.Errorf("%s: Acknowledge: %w", key, err)
							return
						}
						continue
					}
					err := x.AcknowledgeTx(ctx, l, ack, func(ctx context.Context) error {
						tx, _ := evento.TxFrom[*sql.Tx](ctx)
						var n int
						if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM handler_rows").Scan(&n); err != nil {
							return err
						}
						time.Sleep(time.Millisecond) // hold the write lock a while
						_, err := tx.ExecContext(ctx, "INSERT INTO handler_rows (id) VALUES (?)", fmt.Sprintf("%s-%d", key, r))
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("%s: AcknowledgeTx: %w", key, err)
						return
					}
				}
			})
			wg.Go(func() {
				for v := int64(0); v < rounds; v++ {
					if err := x.Append(ctx, newCommit("t", key, v, 1)); err != nil {
						errs <- fmt.Errorf("%s: Append: %w", key, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	var rows int
	if err := execs[1].DB().QueryRow("SELECT COUNT(*) FROM handler_rows").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := len(execs) * workers * (rounds - rounds/5); rows != want {
		t.Errorf("%d handler rows, want %d", rows, want)
	}
	if n := len(readAll(t, execs[0], evento.Query{})); n != len(execs)*workers*rounds {
		t.Errorf("%d events, want %d", n, len(execs)*workers*rounds)
	}
	for i := range execs {
		for w := range workers {
			key := fmt.Sprintf("sub-%d-%d", i, w)
			st, err := execs[1-i].SubscriptionStatus(ctx, key)
			if err != nil || st.Cursor != cursor.Encode(cursor.Position{Seq: rounds}) {
				t.Errorf("%s: status %+v, %v", key, st, err)
			}
			if dls, err := execs[1-i].DeadLetters(ctx, key, 100); err != nil || len(dls) != rounds/5 {
				t.Errorf("%s: %d dead letters, %v; want %d", key, len(dls), err, rounds/5)
			}
		}
	}
}

// A transactional handler that appends through the executor whose write
// lock its transaction holds gets an error at once instead of waiting for
// itself.
func TestAppendInsideTransactionalHandlerFails(t *testing.T) {
	ctx := t.Context()
	x := open(t)
	st := evento.New(x)
	l, err := x.AcquireLease(ctx, "tx-append", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- x.AcknowledgeTx(ctx, l, evento.Ack{}, func(ctx context.Context) error {
			_, err := st.Create().Event(AccountOpened{Owner: "inside"}).Commit(ctx)
			return err
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("append inside the handler = %v, want an error matching ErrInvalidArgument", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an append inside a transactional handler waited for its own transaction")
	}
	// Outside the handler the store writes as usual.
	if _, err := st.Create().Event(AccountOpened{Owner: "outside"}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A version 2 database upgrades to the partial routing key index: its
// events, with and without a key, read back the same, and a read of one
// key uses the index.
func TestSchemaUpgradeToVersion3(t *testing.T) {
	ctx := context.Background()
	db := olderDatabase(t, "evento_", 2)
	for i, key := range []any{"eu", nil, "us", "eu", nil} {
		if _, err := db.Exec(`INSERT INTO evento_events (id, aggregate_type, aggregate_id, version, name, routing_key, data, metadata, timestamp)`+
			` VALUES (?, 'T', ?, 1, 'E', ?, NULL, NULL, 0)`, ulid.Make().Bytes(), fmt.Sprint("a", i), key); err != nil {
			t.Fatal(err)
		}
	}
	x := upgrade(t, db)
	for rk, want := range map[evento.RoutingKey]string{
		evento.RoutingKeyOf("eu"): "a0 a3",
		evento.NoRoutingKey():     "a1 a4",
		evento.AnyRoutingKey():    "a0 a1 a2 a3 a4",
	} {
		page, err := x.Read(ctx, evento.Query{RoutingKey: rk, Args: cursor.Forward(10, "")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Nodes() {
			got = append(got, e.AggregateID)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("routing key %s: read %v, want %s", rk, got, want)
		}
	}
	plan := explain(t, db, `SELECT position FROM evento_events WHERE routing_key = ? AND position > ? ORDER BY position LIMIT 10`, []any{"eu", 0})
	if p := plan; !strings.Contains(p, "evento_events_routing_key_position") {
		t.Errorf("a read of one routing key does not use the routing key index: %s", p)
	}
}
