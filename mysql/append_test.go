package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
	driver "github.com/go-sql-driver/mysql"
)

// maxAllowedPacket returns the test server's max_allowed_packet.
func maxAllowedPacket(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT @@max_allowed_packet").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A commit larger than one statement may carry, by rows or by bytes, is
// inserted in several statements of one transaction: all of it is stored,
// at dense positions.
func TestAppendLargeCommitsSpanStatements(t *testing.T) {
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)

	many := newCommit("t", "many", 0, evento.MaxCommitEvents)
	mustAppend(t, x, many)

	// Payloads adding up to three times max_allowed_packet.
	packet := maxAllowedPacket(t, dsn)
	size := 1 << 20
	count := 3*packet/size + 1
	big := newCommit("t", "big", 0, count)
	for i, e := range big.Events {
		e.Data = []byte(strings.Repeat(string(rune('a'+i%26)), size))
	}
	mustAppend(t, x, big)

	all := readAll(t, x, evento.Query{})
	if len(all) != evento.MaxCommitEvents+count {
		t.Fatalf("%d events stored, want %d", len(all), evento.MaxCommitEvents+count)
	}
	for i, e := range all {
		if e.Position.Seq != uint64(i+1) {
			t.Fatalf("event %d at position %v: positions are not dense", i, e.Position)
		}
	}
	for i, e := range all[evento.MaxCommitEvents:] {
		if e.ID != big.Events[i].ID || len(e.Data) != size || e.Data[0] != byte('a'+i%26) {
			t.Fatalf("big event %d read back as %s with %d bytes", i, e.ID, len(e.Data))
		}
	}
}

// A commit that fails in its last statement leaves nothing of its earlier
// statements behind, and gives its positions back.
func TestAppendFailingLateStatementWritesNothing(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	first := newCommit("t", "first", 0, 1)
	mustAppend(t, x, first)

	c := newCommit("t", "many", 0, evento.MaxCommitEvents)
	c.Events[len(c.Events)-1].ID = first.Events[0].ID
	err := x.Append(ctx, c)
	if !errors.Is(err, evento.ErrInvalidArgument) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("commit reusing a stored id in its last statement: err = %v, want ErrInvalidArgument naming the reuse", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 1 {
		t.Fatalf("%d events stored, want 1: the failed commit must write nothing", n)
	}
	next := newCommit("t", "next", 0, 1)
	mustAppend(t, x, next)
	if next.Events[0].Position.Seq != 2 {
		t.Errorf("next commit at position %v, want 2: a failed commit gives its positions back", next.Events[0].Position)
	}
}

// An event that cannot fit one statement fails with ErrPayloadTooLarge
// before anything is sent. Its size is counted as the driver writes it:
// zero bytes are escaped to two, so zeros above half the packet do not
// fit, while several such events below half the packet go in separate
// statements of one commit.
func TestAppendEventAbovePacketLimit(t *testing.T) {
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)
	packet := maxAllowedPacket(t, dsn)
	for what, data := range map[string][]byte{
		"event above max_allowed_packet":     []byte(strings.Repeat("x", packet+1)),
		"zeros above half the packet":        make([]byte, packet*6/10),
		"quotes and newlines above the half": []byte(strings.Repeat("'\n", packet*3/10)),
	} {
		c := newCommit("t", "a", 0, 2)
		c.Events[1].Data = data
		if err := x.Append(context.Background(), c); !errors.Is(err, evento.ErrPayloadTooLarge) {
			t.Errorf("%s: err = %v, want ErrPayloadTooLarge", what, err)
		}
	}
	if n := len(readAll(t, x, evento.Query{})); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
	c := newCommit("t", "zeros", 0, 3)
	for _, e := range c.Events {
		e.Data = make([]byte, packet*4/10)
	}
	mustAppend(t, x, c)
	for i, e := range readAll(t, x, evento.Query{}) {
		if len(e.Data) != packet*4/10 {
			t.Errorf("event %d read back with %d bytes", i, len(e.Data))
		}
	}
}

// A commit that creates an aggregate another executor already created is a
// version conflict, even when it is too large to send: the version check
// comes first, as for any commit, though a creating commit is first tried
// without it.
func TestCreateExistingTooLargeIsConflict(t *testing.T) {
	dsn := freshDatabase(t)
	x, other := openDSN(t, dsn), openDSN(t, dsn)
	mustAppend(t, other, newCommit("t", "a", 0, 2))
	big := newCommit("t", "a", 0, 1)
	big.Events[0].Data = []byte(strings.Repeat("x", maxAllowedPacket(t, dsn)+1))
	if err := x.Append(context.Background(), big); !errors.Is(err, evento.ErrVersionConflict) {
		t.Errorf("oversized commit creating an existing aggregate: %v, want a version conflict", err)
	}
	big.AggregateID = "new"
	for _, e := range big.Events {
		e.AggregateID = "new"
	}
	if err := x.Append(context.Background(), big); !errors.Is(err, evento.ErrPayloadTooLarge) {
		t.Errorf("oversized commit creating a new aggregate: %v, want ErrPayloadTooLarge", err)
	}
}

// In a group-commit batch too, a commit that creates an existing aggregate
// and cannot be written (too large, or metadata that does not encode) is a
// version conflict, as alone, and the rest of its batch is stored. Such a
// commit has no version read in the batch: the failure must not answer for
// it.
func TestBatchedCreateExistingUnwritableIsConflict(t *testing.T) {
	dsn := freshDatabase(t)
	x, other := openDSN(t, dsn), openDSN(t, dsn)
	mustAppend(t, other, newCommit("t", "a", 0, 2))
	big := newCommit("t", "a", 0, 1)
	big.Events[0].Data = []byte(strings.Repeat("x", maxAllowedPacket(t, dsn)+1))
	unencodable := newCommit("t", "a", 0, 1)
	unencodable.Events[0].Metadata = unencodable.Events[0].Metadata.Set("f", func() {})
	for name, c := range map[string]*evento.Commit{"too large": big, "unencodable": unencodable} {
		commits := []*evento.Commit{newCommit("t", "before "+name, 0, 1), c, newCommit("t", "after "+name, 0, 1)}
		errs := make([]error, len(commits))
		release := x.HoldAppends()
		var wg sync.WaitGroup
		for i, c := range commits {
			wg.Go(func() { errs[i] = x.Append(context.Background(), c) })
			for x.QueuedAppends() < i+1 { // queued in order, one batch
				time.Sleep(100 * time.Microsecond)
			}
		}
		release()
		wg.Wait()
		if errs[0] != nil || errs[2] != nil {
			t.Errorf("%s: the rest of the batch: %v, %v; want both stored", name, errs[0], errs[2])
		}
		if !errors.Is(errs[1], evento.ErrVersionConflict) {
			t.Errorf("%s, in a batch: %v, want a version conflict", name, errs[1])
		}
	}
}

// Names are compared byte for byte: trailing spaces and case make other
// aggregates, which a PAD SPACE or case-insensitive collation would merge.
func TestAppendNamesMatchExactly(t *testing.T) {
	x := open(t)
	for _, id := range []string{"a", "a ", "A", "a\t", "é", "e\u0301"} {
		mustAppend(t, x, newCommit("t", id, 0, 1))
	}
	for _, id := range []string{"a", "a ", "A", "é"} {
		got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "t", AggregateID: id}}})
		if len(got) != 1 || got[0].AggregateID != id {
			t.Errorf("aggregate %q: read %d events (%v)", id, len(got), got)
		}
	}
	c := newCommit("t", "a", 0, 1)
	c.RoutingKey = "eu "
	if err := x.Append(context.Background(), c); !errors.Is(err, evento.ErrVersionConflict) {
		t.Errorf("second creation of %q: err = %v, want ErrVersionConflict", "a", err)
	}
	if got := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "T"}}}); len(got) != 0 {
		t.Errorf("type %q matched %d events of type %q", "T", len(got), "t")
	}
}

// A duplicate key is classified from the stored rows, not from the
// server's message: with the counter set back behind the events table, the
// position collides, and the error says so instead of blaming a version.
func TestAppendCounterBehindIsNotAVersionConflict(t *testing.T) {
	dsn := freshDatabase(t)
	x := openDSN(t, dsn)
	mustAppend(t, x, newCommit("t", "a", 0, 3))
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE evento_counter SET value = 1"); err != nil {
		t.Fatal(err)
	}
	err = x.Append(context.Background(), newCommit("t", "b", 0, 1))
	if err == nil || errors.Is(err, evento.ErrVersionConflict) || errors.Is(err, evento.ErrAlreadyAppended) ||
		!strings.Contains(err.Error(), "counter is behind") {
		t.Fatalf("append with the counter behind: err = %v, want an error naming the counter", err)
	}
}

func TestAppendCancelledContextWritesNothing(t *testing.T) {
	x := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.Append(ctx, newCommit("t", "a", 0, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: err = %v, want context.Canceled", err)
	}
	if n := len(readAll(t, x, evento.Query{})); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
}

// An append cancelled while it writes leaves all or nothing, returns its
// connection to the pool, and does not leave the counter locked.
func TestAppendCancelledMidway(t *testing.T) {
	dsn := freshDatabase(t)
	db, err := sql.Open("mysql", dsn+"?interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x, err := mysql.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for i, delay := range []time.Duration{0, 200 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		c := newCommit("t", fmt.Sprint("a", i), 0, evento.MaxCommitEvents)
		time.AfterFunc(delay, cancel)
		err := x.Append(ctx, c)
		cancel()
		n := len(readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "t", AggregateID: c.AggregateID}}}))
		switch {
		case err == nil && n != evento.MaxCommitEvents:
			t.Errorf("cancel after %v: Append succeeded but %d events are stored", delay, n)
		case err != nil && n != 0:
			t.Errorf("cancel after %v: Append failed (%v) but %d events are stored", delay, err, n)
		case err != nil && !errors.Is(err, context.Canceled):
			t.Errorf("cancel after %v: err = %v, want context.Canceled", delay, err)
		default:
			t.Logf("cancel after %v: %d events stored, err = %v", delay, n, err)
		}
	}
	if inUse := db.Stats().InUse; inUse != 0 {
		t.Errorf("%d connections still in use after the appends", inUse)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := x.Append(ctx, newCommit("t", "after", 0, 1)); err != nil {
		t.Errorf("append after the cancelled ones: %v", err)
	}
}

func TestAppendWakesWaiters(t *testing.T) {
	x := open(t)
	woken := x.Wake()
	if err := x.Append(context.Background(), newCommit("t", "a", 1, 1)); err == nil {
		t.Fatal("conflicting append succeeded")
	}
	select {
	case <-woken:
		t.Fatal("a failed append closed the Wake channel")
	default:
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	select {
	case <-woken:
	case <-time.After(time.Second):
		t.Fatal("Wake channel still open after an append")
	}
}

// MariaDB's innodb_snapshot_isolation (the default from 11.6) fails a
// locking read of a row changed after the transaction's read view was
// opened. The append transaction opens none, so contended appends still
// succeed with it on.
func TestAppendUnderSnapshotIsolation(t *testing.T) {
	dsn := freshDatabase(t)
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Params = map[string]string{"innodb_snapshot_isolation": "ON"}
	probe, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := probe.Ping(); err != nil {
		t.Skipf("the server has no innodb_snapshot_isolation: %v", err)
	}
	x := openDSN(t, cfg.FormatDSN())
	const writers, commits = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range commits {
				if err := x.Append(context.Background(), newCommit("t", fmt.Sprint("w", w), int64(i), 1)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readAll(t, x, evento.Query{})); n != writers*commits {
		t.Fatalf("%d events stored, want %d", n, writers*commits)
	}
}
