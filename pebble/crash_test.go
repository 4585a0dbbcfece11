package pebble_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/pebble"
)

// The crash test runs the test binary again as a child (TestCrashChild,
// enabled by crashDirEnv) that appends multi-event commits from several
// goroutines and prints "ACK <aggregate> <version>" after each
// acknowledged commit. The parent kills it with SIGKILL at a random moment,
// reopens the directory and checks that every commit is all-or-nothing,
// versions and positions are dense and ordered, and every acknowledged
// commit survived.
const (
	crashDirEnv    = "EVENTO_PEBBLE_CRASH_DIR"
	crashNoSyncEnv = "EVENTO_PEBBLE_CRASH_NOSYNC"
	crashType      = "crash/Counter"
	crashWriters   = 4
)

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	t.Run("Durable", func(t *testing.T) { crashRounds(t, false, 6) })
	// Without sync a kill may take back acknowledged commits, but never
	// half a commit, and never a hole in the log.
	t.Run("WithoutSync", func(t *testing.T) { crashRounds(t, true, 3) })
}

func crashRounds(t *testing.T, noSync bool, rounds int) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	acked := make(map[string]int64)
	for round := range rounds {
		delay := time.Duration(50+rng.IntN(351)) * time.Millisecond
		n := runAndKill(t, dir, noSync, delay, acked)
		events := checkCrashedStore(t, dir, acked, !noSync)
		t.Logf("round %d: killed after %v, %d commits acknowledged, %d events stored", round, delay, n, events)
	}
}

// runAndKill starts the child on dir, kills it delay after it opened the
// store, and records the highest acknowledged version of each aggregate.
func runAndKill(t *testing.T, dir string, noSync bool, delay time.Duration, acked map[string]int64) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	if noSync {
		cmd.Env = append(cmd.Env, crashNoSyncEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	lines := make(chan []string)
	go func() {
		var acks []string
		s := bufio.NewScanner(out)
		for s.Scan() {
			switch line := s.Text(); {
			case line == "READY":
				close(ready)
			case strings.HasPrefix(line, "ACK "):
				acks = append(acks, line)
			}
		}
		lines <- acks
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not open the store")
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	acks := <-lines
	cmd.Wait()
	for _, line := range acks {
		f := strings.Fields(line)
		v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if len(f) != 3 || err != nil {
			t.Fatalf("bad line from child: %q", line)
		}
		acked[f[1]] = max(acked[f[1]], v)
	}
	return len(acks)
}

// checkCrashedStore reopens dir, checks the invariants and appends one
// commit where the log ends. It returns the number of events it found.
func checkCrashedStore(t *testing.T, dir string, acked map[string]int64, durable bool) int {
	t.Helper()
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer x.Close()
	all := readAll(t, x, evento.Query{})
	last := make(map[string]int64)
	commits := make(map[string][]*evento.Event)
	for i, e := range all {
		if e.Position != (cursor.Position{Seq: uint64(i + 1)}) {
			t.Fatalf("event %d has position %v: positions are not dense", i, e.Position)
		}
		if e.Version != last[e.AggregateID]+1 {
			t.Fatalf("%s: version %d follows %d", e.AggregateID, e.Version, last[e.AggregateID])
		}
		last[e.AggregateID] = e.Version
		commit, _ := e.Metadata.String("commit")
		commits[commit] = append(commits[commit], e)
	}
	for id, es := range commits {
		size, _ := es[0].Metadata.Int("size")
		if int64(len(es)) != size {
			t.Fatalf("commit %s holds %d of its %d events", id, len(es), size)
		}
	}
	for agg, v := range acked {
		if durable && last[agg] < v {
			t.Fatalf("%s: version %d was acknowledged, the store holds %d", agg, v, last[agg])
		}
	}
	// The store must accept appends where the log ends.
	for agg, v := range last {
		mustAppend(t, x, crashCommit(agg, v, 1))
		break
	}
	return len(all)
}

// crashCommit is a commit of n events to agg that records, in every
// event's metadata, which commit it belongs to and how many events it has.
func crashCommit(agg string, expected int64, n int) *evento.Commit {
	c := newCommit(crashType, agg, expected, n)
	id := c.Events[0].ID.String()
	for _, e := range c.Events {
		e.Metadata = evento.Metadata{}.Set("commit", id).Set("size", int64(n))
	}
	return c
}

// TestCrashChild is the child of TestCrashRecovery; it appends until it is
// killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	var opts []pebble.Option
	if os.Getenv(crashNoSyncEnv) != "" {
		opts = append(opts, pebble.WithoutSync())
	}
	x, err := pebble.Open(dir, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	fmt.Println("READY")
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			// Two aggregates per writer, and one that every writer shares.
			aggs := []string{fmt.Sprintf("w%d-a", w), fmt.Sprintf("w%d-b", w), "shared"}
			for {
				agg := aggs[rng.IntN(len(aggs))]
				v, err := crashLastVersion(x, agg)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				c := crashCommit(agg, v, 1+rng.IntN(5))
				err = x.Append(context.Background(), c)
				switch {
				case err == nil:
					out.Lock()
					fmt.Printf("ACK %s %d\n", agg, c.Events[len(c.Events)-1].Version)
					out.Unlock()
				case !errorsIsConflict(err):
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
			}
		})
	}
	wg.Wait()
}

func crashLastVersion(x *pebble.Executor, agg string) (int64, error) {
	p, err := x.Read(context.Background(), evento.Query{
		Filters: []evento.Filter{{AggregateType: crashType, AggregateID: agg}},
		Args:    cursor.Backward(1, ""),
	})
	if err != nil || len(p.Edges) == 0 {
		return 0, err
	}
	return p.Edges[0].Node.Version, nil
}
