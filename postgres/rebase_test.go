package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

// A logical restore keeps the stored tx_ids but lands on a server whose
// transaction counter is far lower. The test stands in for one by storing
// "restored" rows whose tx_ids are 2^40 above this server's counter, with a
// subscription cursor among them. Before Rebase, reads of the global log
// return none of them; after it, they all read back in their order at their
// positions, new events sort after them, and the stored cursor still resumes
// where it was.
func TestRebaseAfterLogicalRestore(t *testing.T) {
	schema := freshSchema(t)
	ctx := t.Context()
	// One connection, so that the statements the executor caches before
	// the rebase are the ones it runs after it.
	x, pool := openOneConnection(t, schema, nil)
	if err := x.Append(ctx, newCommit("t", "history", 5, 1)); err == nil {
		t.Fatal("append at a wrong version succeeded") // and prepared the append statement
	}

	const restored = 10
	var history []cursor.Position
	for v := 1; v <= restored; v++ {
		var p cursor.Position
		var seq int64
		err := pool.QueryRow(ctx, `INSERT INTO `+x.EventsTable()+
			` (tx_id, id, aggregate_type, aggregate_id, version, name, timestamp)`+
			` VALUES ((pg_current_xact_id()::text::numeric + 2^40)::text::xid8, $1, 't', 'history', $2, 'Event1', now())`+
			` RETURNING tx_id, seq`, [16]byte(ulid.Make()), v).Scan(&p.Tx, &seq)
		if err != nil {
			t.Fatal(err)
		}
		p.Seq = uint64(seq)
		history = append(history, p)
	}
	lease, err := x.AcquireLease(ctx, "projector", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Acknowledge(ctx, lease, evento.Ack{Cursor: cursor.Encode(history[4])}); err != nil {
		t.Fatal(err)
	}
	if err := x.ReleaseLease(ctx, lease); err != nil {
		t.Fatal(err)
	}

	if got := readAll(t, x, evento.Query{}); len(got) != 0 {
		t.Fatalf("before the rebase the global log shows %d restored events, want none (they are above the horizon)", len(got))
	}
	if lag, err := x.HorizonLag(ctx); err != nil || lag.Held != restored {
		t.Errorf("HorizonLag before the rebase = %+v, %v; want %d held", lag, err, restored)
	}

	shift, err := x.Rebase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The restored ids are 2^40 above those of the transactions that
	// wrote them; the rebase's own transaction came a few ids later.
	if shift <= 1<<40-100 || shift > 1<<40 {
		t.Errorf("Rebase moved transaction ids by %d, want just under 2^40", shift)
	}
	if again, err := x.Rebase(ctx); err != nil || again != 0 {
		t.Errorf("second Rebase = %d, %v; want 0, nil", again, err)
	}

	got := readAll(t, x, evento.Query{})
	if len(got) != restored {
		t.Fatalf("after the rebase the global log shows %d events, want %d", len(got), restored)
	}
	for i, e := range got {
		if e.Position != history[i] || e.Version != int64(i+1) {
			t.Errorf("event %d: version %d at %v, want version %d at %v", i, e.Version, e.Position, i+1, history[i])
		}
	}
	next := newCommit("t", "history", restored, 1)
	mustAppend(t, x, next)
	if p := next.Events[0].Position; !history[restored-1].Less(p) {
		t.Errorf("new event at %v does not sort after the restored history, last at %v", p, history[restored-1])
	}
	// The executor's own connection and a new executor agree.
	other := openIn(t, schema)
	mustAppend(t, other, newCommit("t", "other", 0, 1))
	all := readAll(t, other, evento.Query{})
	if len(all) != restored+2 {
		t.Errorf("after appends the global log shows %d events, want %d", len(all), restored+2)
	}

	var rec recorder
	if err := evento.NewSubscription("projector").OnAll("t", rec.handle).Execute(ctx, evento.New(x)); err != nil {
		t.Fatal(err)
	}
	if got := rec.all(); len(got) != restored-5+2 || got[0].Version != 6 {
		t.Errorf("subscription resumed with %v, want the restored versions 6-10 and the two new events", positions(got))
	}
	if lag, err := x.HorizonLag(ctx); err != nil || lag.Held != 0 {
		t.Errorf("HorizonLag after the rebase = %+v, %v; want nothing held", lag, err)
	}
}

// Rebase waits for the events table's lock a bounded time at each try:
// while a writer's transaction holds it, other appends still go through,
// a Rebase whose context ends fails with the context's error, and one
// that outlasts the writer succeeds.
func TestRebaseLetsWritersThrough(t *testing.T) {
	schema := freshSchema(t)
	ctx := t.Context()
	x := openIn(t, schema)
	mustAppend(t, x, newCommit("t", "first", 0, 1))
	writer := connect(t)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := x.AppendInTx(ctx, tx, newCommit("t", "held", 0, 1)); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if _, err := x.Rebase(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Rebase while a writer holds the table = %v, want context.DeadlineExceeded", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := x.Rebase(ctx)
		done <- err
	}()
	// Appends go through while the rebase waits: each waits behind the
	// rebase's lock request for one of its tries at most. Without a bound
	// on the rebase's wait they would wait for the writer, which commits
	// only after them.
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for i := range 3 {
		time.Sleep(150 * time.Millisecond)
		if err := x.Append(bounded, newCommit("t", fmt.Sprint("during-", i), 0, 1)); err != nil {
			t.Fatalf("append %d while Rebase waits: %v", i, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Rebase returned (%v) while a writer held the table", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Rebase after the writer committed: %v", err)
	}
}
