package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// Two executors on one file stand for two processes: appends from both
// interleave, and positions stay dense, unique and in commit order, so a
// reader tailing the log meanwhile sees every event exactly once.
func TestConcurrentWritersShareOneOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	var execs [2]*sqlite.Executor
	for i := range execs {
		x, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		execs[i] = x
	}

	const writers, commits, perCommit = 4, 25, 3
	const total = len(execs) * writers * commits * perCommit
	var wg sync.WaitGroup
	errs := make(chan error, len(execs)*writers)
	for i, x := range execs {
		for w := range writers {
			wg.Go(func() {
				id := fmt.Sprintf("x%d-w%d", i, w)
				for v := int64(0); v < commits*perCommit; v += perCommit {
					if err := x.Append(ctx, newCommit("t", id, v, perCommit)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}

	tailed := make(chan []*evento.Event)
	go func() {
		var seen []*evento.Event
		var after cursor.Value
		deadline := time.Now().Add(time.Minute)
		for len(seen) < total && time.Now().Before(deadline) {
			page, err := execs[1].Read(ctx, evento.Query{Args: cursor.Forward(7, after)})
			if err != nil {
				break
			}
			seen = append(seen, page.Nodes()...)
			if n := len(page.Edges); n > 0 {
				after = page.PageInfo.EndCursor
			}
		}
		tailed <- seen
	}()

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append: %v", err)
	}

	all := readAll(t, execs[0], evento.Query{})
	if len(all) != total {
		t.Fatalf("%d events stored, want %d", len(all), total)
	}
	versions := map[string]int64{}
	for i, e := range all {
		if e.Position.Seq != uint64(i+1) {
			t.Fatalf("event %d has position %v: positions are not dense", i, e.Position)
		}
		if e.Version != versions[e.AggregateID]+1 {
			t.Fatalf("%s: version %d follows %d in global order", e.AggregateID, e.Version, versions[e.AggregateID])
		}
		versions[e.AggregateID] = e.Version
	}
	seen := <-tailed
	if len(seen) != total {
		t.Fatalf("tailing reader saw %d events, want %d", len(seen), total)
	}
	for i, e := range seen {
		if e.Position.Seq != uint64(i+1) {
			t.Fatalf("tailing reader saw position %v at index %d: it skipped or repeated events", e.Position, i)
		}
	}
}

// Several processes opening a fresh file at once apply the migrations once.
// A new file is not in WAL mode yet: every opener switches it, and the
// first connections race for the lock that takes, which SQLite refuses at
// once with SQLITE_BUSY rather than wait (Open retries). The rounds repeat
// the race: without the retry, between 3 and 9 runs of 10 failed.
func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("fresh%d.db", round))
		var wg sync.WaitGroup
		execs := make([]*sqlite.Executor, 6)
		errs := make([]error, len(execs))
		start := make(chan struct{})
		for i := range execs {
			wg.Go(func() {
				<-start
				execs[i], errs[i] = sqlite.Open(ctx, path)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: Open %d: %v", round, i, err)
				continue
			}
			defer execs[i].Close()
		}
		if t.Failed() {
			return
		}
		mustAppend(t, execs[0], newCommit("t", "a", 0, 1))
		if n := len(readAll(t, execs[len(execs)-1], evento.Query{})); n != 1 {
			t.Fatalf("round %d: %d events, want 1", round, n)
		}
	}
}

// An append cancelled while it writes leaves all or nothing, and leaves no
// connection behind but the executor's append connection.
func TestAppendCancelledMidway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cancel.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x, err := sqlite.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	for i, delay := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
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
	// The executor keeps one connection for its appends, and no other.
	if inUse := db.Stats().InUse; inUse > 1 {
		t.Errorf("%d connections still in use after the appends, want at most the append connection", inUse)
	}
	mustAppend(t, x, newCommit("t", "after", 0, 1))
	// Close gives the append connection back to a caller's database.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if inUse := db.Stats().InUse; inUse != 0 {
		t.Errorf("%d connections still in use after Close", inUse)
	}
}

func TestNewLeavesTheDatabaseOpen(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "user.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x, err := sqlite.New(context.Background(), db, sqlite.WithTablePrefix("app_"))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, newCommit("t", "a", 0, 1))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM app_events`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after Close: count = %d, err = %v; want 1 event and an open database", n, err)
	}
	if _, err := sqlite.New(context.Background(), db, sqlite.WithSynchronous(sqlite.SynchronousNormal)); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("New with WithSynchronous: err = %v, want ErrInvalidArgument", err)
	}
}
