package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit/groupcommittest"
	"github.com/eventogo/evento/sqlite"
)

// Concurrent appends share transactions, yet each keeps its own outcome:
// commits that conflict fail alone, with nothing of theirs stored, while
// the commits sharing their transaction are stored whole.
func TestGroupCommitKeepsEachOutcome(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	const writers, rounds, perCommit = 16, 30, 3
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		good []*evento.Commit
	)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				// A commit that must succeed, and one that must conflict
				// (its aggregate is at version perCommit*r, not 0 after
				// the first round), racing into the same transactions.
				ok := newCommit("group", fmt.Sprintf("w%d", w), int64(perCommit*r), perCommit)
				bad := newCommit("group", fmt.Sprintf("w%d", w), 0, 1)
				if r == 0 {
					bad = newCommit("group", "missing-parent", 5, 1)
				}
				var wg2 sync.WaitGroup
				var okErr, badErr error
				wg2.Go(func() { okErr = x.Append(ctx, ok) })
				wg2.Go(func() { badErr = x.Append(ctx, bad) })
				wg2.Wait()
				if okErr != nil {
					errs <- fmt.Errorf("writer %d round %d: %w", w, r, okErr)
					return
				}
				if !errors.Is(badErr, evento.ErrVersionConflict) {
					errs <- fmt.Errorf("writer %d round %d: stale commit = %v, want a version conflict", w, r, badErr)
					return
				}
				mu.Lock()
				good = append(good, ok)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Exactly the successful commits are stored, each event at the
	// position its commit reported, in version order per aggregate.
	want := make(map[string]cursor.Position)
	for _, c := range good {
		for _, e := range c.Events {
			want[e.ID.String()] = e.Position
		}
	}
	var (
		after cursor.Value
		seen  int
		last  = make(map[string]int64)
	)
	for {
		page, err := x.Read(ctx, evento.Query{Args: cursor.Forward(1000, after)})
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range page.Edges {
			e := edge.Node
			pos, ok := want[e.ID.String()]
			if !ok {
				t.Fatalf("stored event %s/%s v%d belongs to no successful commit", e.AggregateID, e.AggregateID, e.Version)
			}
			if pos != e.Position {
				t.Fatalf("event %s stored at %v, its commit reported %v", e.ID, e.Position, pos)
			}
			if e.Version != last[e.AggregateID]+1 {
				t.Fatalf("%s: version %d after %d", e.AggregateID, e.Version, last[e.AggregateID])
			}
			last[e.AggregateID] = e.Version
			seen++
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		after = page.PageInfo.EndCursor
	}
	if seen != len(want) || seen != writers*rounds*perCommit {
		t.Fatalf("stored %d events, want %d", seen, writers*rounds*perCommit)
	}
}

// An append whose context ends while it waits for its turn is withdrawn:
// it reports the context's error and stores nothing.
func TestGroupCommitWithdrawsCancelled(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	// Hold the write turn with a transactional acknowledgement whose
	// handler waits, so that the append queues.
	l, err := x.AcquireLease(ctx, "hold", "w", 60e9)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	holding := make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- x.AcknowledgeTx(ctx, l, evento.Ack{}, func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	cctx, cancel := context.WithCancel(ctx)
	c := newCommit("group", "cancelled", 0, 1)
	done := make(chan error, 1)
	go func() { done <- x.Append(cctx, c) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	page, err := x.Read(ctx, evento.Query{Filters: []evento.Filter{{AggregateType: "group", AggregateID: "cancelled"}}, Args: cursor.Forward(10, "")})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Edges) != 0 {
		t.Fatalf("a withdrawn append stored %d events", len(page.Edges))
	}
	mustAppend(t, x, newCommit("group", "cancelled", 0, 1))
}

func TestGroupCommitScenarios(t *testing.T) {
	groupcommittest.Run(t, groupcommittest.Harness{
		Open: func(t *testing.T) (evento.Executor, evento.Executor) {
			path := filepath.Join(t.TempDir(), "evento.db")
			var xs [2]*sqlite.Executor
			for i := range xs {
				x, err := sqlite.Open(context.Background(), path)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { x.Close() })
				xs[i] = x
			}
			return xs[0], xs[1]
		},
		Hold:   func(x evento.Executor) func() { return x.(*sqlite.Executor).HoldAppends() },
		Queued: func(x evento.Executor) int { return x.(*sqlite.Executor).QueuedAppends() },
	})
}

// A batch whose COMMIT fails stores nothing, and no commit of it keeps an
// answer that rested on another commit of the batch: a retry queued
// behind its commit is not told ErrAlreadyAppended, a commit racing it is
// not told it lost. Here a deferred foreign key, set off by a trigger on
// one aggregate, makes the COMMIT fail.
func TestGroupCommitFailedCommitUndoesAnswers(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TRIGGER orphan AFTER INSERT ON evento_events WHEN NEW.aggregate_id = 'doomed' BEGIN INSERT INTO child VALUES (1); END`,
	} {
		if _, err := x.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c := newCommit("group", "doomed", 0, 1)
	rival := newCommit("group", "doomed", 0, 1)
	commits := []*evento.Commit{c, c, rival} // c twice: a retry
	release := x.HoldAppends()
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	for i, c := range commits {
		wg.Go(func() { errs[i] = x.Append(ctx, c) })
		for x.QueuedAppends() < i+1 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	release()
	wg.Wait()
	if n := len(readAll(t, x, evento.Query{})); n != 0 {
		t.Fatalf("%d events stored, want none", n)
	}
	for i, err := range errs {
		if err == nil || errors.Is(err, evento.ErrAlreadyAppended) || errors.Is(err, evento.ErrVersionConflict) {
			t.Errorf("commit %d: %v, want the failed COMMIT's error", i, err)
		}
	}
}
