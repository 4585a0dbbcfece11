package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The upgrade to version 3 drops an index of the events table, which needs
// the table's exclusive lock. While a transaction holds the table, the
// upgrade waits for it, in short attempts, and the table's other queries
// keep running, and so do those of the tables the upgrade altered before;
// a context that ends meanwhile fails Open and leaves the schema as it
// was.
func TestSchemaUpgradeLetsTrafficThrough(t *testing.T) {
	ctx := context.Background()
	// From version 1: version 2 alters the subscriptions table.
	schema, pool := versionOne(t)
	events := pgx.Identifier{schema, "evento_events"}.Sanitize()
	indexExists := func() bool {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_indexes WHERE schemaname = $1 AND indexname = 'evento_events_aggregate'`,
			schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	// A long transaction that read the table holds its lock until it ends.
	reader := readingTx(t, events)

	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	start := time.Now()
	x, err := postgres.Open(short, dsn(), postgres.WithSchema(schema))
	cancel()
	if err == nil {
		x.Close()
		t.Fatal("Open upgraded the schema while a transaction held the events table")
	}
	t.Logf("Open with a 700ms context: %v after %v", err, time.Since(start))
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Open returned %v after its context ended", waited-700*time.Millisecond)
	}
	if !indexExists() {
		t.Fatal("the failed upgrade dropped the index")
	}

	// The upgrading executor has one connection: the one that ran the
	// migrations, whose setting is checked afterwards.
	cfg, err := pgxpool.ParseConfig(dsn())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	upgrading, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer upgrading.Close()
	upgrade, stop := context.WithCancel(ctx)
	defer stop() // before the pool closes: a test that fails ends the upgrade
	done := startNew(upgrade, upgrading, schema)
	// Appends and reads of other sessions run while the upgrade waits: each
	// is held back for one run's wait at most (3.2s at the longest).
	probe := connect(t)
	for i := 0; i < 40; i++ {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		began := time.Now()
		_, err := probe.Exec(qctx, `INSERT INTO `+events+` (id, aggregate_type, aggregate_id, version, name, timestamp)`+
			` VALUES (gen_random_uuid(), 'probe', 'p', $1, 'Probed', now())`, i+1)
		if err == nil {
			_, err = probe.Exec(qctx, `SELECT count(*) FROM `+events)
		}
		if err == nil {
			_, err = probe.Exec(qctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "evento_subscriptions"}.Sanitize())
		}
		cancel()
		if err != nil {
			t.Fatalf("query %d of another session, %v after it began, while the upgrade waited: %v", i, time.Since(began), err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	// Nothing of the waiting upgrade holds back the horizon: readers of
	// the log see the appends made meanwhile.
	var tx uint64
	if err := probe.QueryRow(ctx, `INSERT INTO `+events+` (id, aggregate_type, aggregate_id, version, name, timestamp)`+
		` VALUES (gen_random_uuid(), 'probe', 'p', 41, 'Probed', now()) RETURNING tx_id`).Scan(&tx); err != nil {
		t.Fatal(err)
	}
	horizon := pgx.Identifier{schema, "evento_horizon"}.Sanitize() + "()"
	for deadline := time.Now().Add(5 * time.Second); ; {
		var passed bool
		if err := probe.QueryRow(ctx, `SELECT `+horizon+` > $1::text::xid8`, fmt.Sprint(tx)).Scan(&passed); err != nil {
			t.Fatal(err)
		}
		if passed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the horizon stays behind transaction %d, committed 5s ago, while the upgrade waits", tx)
		}
		time.Sleep(20 * time.Millisecond)
	}
	done.stillWaiting(t, "a transaction held the events table")
	if err := reader.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	x = done.upgraded(t)
	defer x.Close()
	if indexExists() {
		t.Error("the upgrade left the index")
	}
	var timeout string
	if err := upgrading.QueryRow(ctx, `SHOW lock_timeout`).Scan(&timeout); err != nil || timeout != "0" {
		t.Errorf("lock_timeout of the connection that ran the migrations = %q, %v; want its own, 0", timeout, err)
	}
}

// Transactions that overlap one another on the subscriptions table (as
// handlers that acknowledge in their own transaction do) hold a lock on it
// without a break; an upgrade from version 1, which alters the table,
// still gets through: every run waits longer than the one before.
func TestSchemaUpgradeOutwaitsOverlappingTransactions(t *testing.T) {
	ctx := context.Background()
	schema, pool := versionOne(t)
	subscriptions := pgx.Identifier{schema, "evento_subscriptions"}.Sanitize()
	work, stop := context.WithCancel(ctx)
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Go(func() {
			time.Sleep(time.Duration(w) * 200 * time.Millisecond)
			for work.Err() == nil {
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := tx.Exec(ctx, `SELECT count(*) FROM `+subscriptions); err != nil {
					t.Error(err)
				}
				time.Sleep(800 * time.Millisecond)
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	defer workers.Wait()
	defer stop()
	time.Sleep(500 * time.Millisecond)
	upgrade, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	x, err := postgres.Open(upgrade, dsn(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("Open while transactions overlap on the subscriptions table: %v", err)
	}
	defer x.Close()
	t.Logf("upgraded in %v", time.Since(start))
	if v, err := x.SchemaVersion(ctx); err != nil || v != (evento.SchemaVersion{Applied: latestSchema, Latest: latestSchema}) {
		t.Fatalf("SchemaVersion = %+v, %v; want %d of %d", v, err, latestSchema, latestSchema)
	}
}

// versionOne returns a schema of its own, with the tables of schema
// version 1 only, and a pool to the server, closed when the test ends.
func versionOne(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	return atVersion(t, 1)
}

// atVersion returns a schema of its own, migrated up to version v, and a
// pool to the server, closed when the test ends.
func atVersion(t *testing.T, v int) (string, *pgxpool.Pool) {
	t.Helper()
	schema := freshSchema(t)
	pool, err := pgxpool.New(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.MigrateTo(context.Background(), pool, v, postgres.WithSchema(schema)); err != nil {
		t.Fatal(err)
	}
	return schema, pool
}

// The upgrade to version 5 swaps the routing key index while sessions
// append: a transaction that read the table (as every append's statement
// does, to find the aggregate's version) and then inserts must neither
// deadlock with the upgrade nor make it fail. The upgrade waits for the
// transaction, in bounded attempts, and completes once it ends.
func TestRoutingIndexUpgradeWithAppendsRunning(t *testing.T) {
	ctx := context.Background()
	schema, pool := atVersion(t, 4)
	events := pgx.Identifier{schema, "evento_events"}.Sanitize()
	insert := `INSERT INTO ` + events + ` (id, aggregate_type, aggregate_id, version, name, timestamp)` +
		` VALUES (gen_random_uuid(), 'probe', 'p', $1, 'Probed', now())`

	appender := readingTx(t, events)
	upgrade, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	done := startNew(upgrade, pool, schema)
	// Once the upgrade waits for the table's exclusive lock, the
	// transaction that read the table inserts.
	probe := connect(t)
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := probe.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks
			WHERE relation = $1::regclass AND mode = 'AccessExclusiveLock' AND NOT granted)`, events).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upgrade never waited for the events table's exclusive lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := appender.Exec(qctx, insert, 1)
	cancel()
	if err != nil {
		t.Fatalf("insert of the transaction that read the table, while the upgrade waited: %v", err)
	}
	time.Sleep(time.Second) // more runs of the upgrade, which must wait
	done.stillWaiting(t, "a transaction that read the events table was open")
	if err := appender.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	x := done.upgraded(t)
	defer x.Close()
	if n := len(readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "probe"}}})); n != 1 {
		t.Errorf("%d events stored, want the transaction's one", n)
	}
}

// newResult is what postgres.New returned.
type newResult struct {
	x   *postgres.Executor
	err error
}

// pendingNew is the outcome of a postgres.New running in the background.
type pendingNew chan newResult

// startNew runs postgres.New on pool and schema in the background.
func startNew(ctx context.Context, pool *pgxpool.Pool, schema string) pendingNew {
	p := make(pendingNew, 1)
	go func() {
		x, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
		p <- newResult{x, err}
	}()
	return p
}

// stillWaiting fails the test if New has returned, which it must not
// while what says holds.
func (p pendingNew) stillWaiting(t *testing.T, what string) {
	t.Helper()
	select {
	case o := <-p:
		if o.err == nil {
			o.x.Close()
		}
		t.Fatalf("New returned (%v) while %s", o.err, what)
	default:
	}
}

// upgraded waits up to 10s for New and returns its executor, on the
// latest schema version; the caller closes it.
func (p pendingNew) upgraded(t *testing.T) *postgres.Executor {
	t.Helper()
	var o newResult
	select {
	case o = <-p:
	case <-time.After(10 * time.Second):
		t.Fatal("New still waits 10s after the transaction in its way ended")
	}
	if o.err != nil {
		t.Fatalf("New: %v", o.err)
	}
	if v, err := o.x.SchemaVersion(context.Background()); err != nil || v != (evento.SchemaVersion{Applied: latestSchema, Latest: latestSchema}) {
		o.x.Close()
		t.Fatalf("SchemaVersion = %+v, %v; want %d of %d", v, err, latestSchema, latestSchema)
	}
	return o.x
}

// readingTx begins a transaction on a connection of its own that reads
// table, and so holds the table's ACCESS SHARE lock until it ends; it is
// rolled back when the test ends, unless it ended before.
func readingTx(t *testing.T, table string) pgx.Tx {
	t.Helper()
	tx, err := connect(t).Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(context.Background(), `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return tx
}
