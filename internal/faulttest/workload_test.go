//go:build linux

package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/oklog/ulid/v2"
)

type counterEvent struct{}

func (counterEvent) AggregateType() string { return "faulttest/Counter" }

// ticked is the one event the tests append and handle.
type ticked struct {
	counterEvent
	N int64
}

func (ticked) EventName() string { return "Ticked" }

// appended is an event a writer committed.
type appended struct {
	ID        string
	Aggregate string
	Version   int64
}

// aggregate is one aggregate a writer owns, and its version.
type aggregate struct {
	id      string
	version int64
}

// writer appends to aggregates of its own, so that its commits never
// conflict with another writer's; a commit whose outcome is unknown is
// retried with the same Builder, and so the same event ids.
type writer struct {
	st   *evento.Store
	aggs []*aggregate
	rng  *rand.Rand

	// What it committed, and how its retries went.
	events  []appended
	retried int // commits tried again after an error
	already int // retries the store answered with ErrAlreadyAppended
	errs    []string
}

func newWriter(st *evento.Store, name string, aggregates int, seed uint64) *writer {
	w := &writer{st: st, rng: rand.New(rand.NewPCG(seed, uint64(aggregates)))}
	for i := range aggregates {
		w.aggs = append(w.aggs, &aggregate{id: fmt.Sprintf("%s-%d", name, i)})
	}
	return w
}

// retryFor bounds how long a writer keeps retrying one commit.
const retryFor = 20 * time.Second

// step commits one to three events to one of w's aggregates.
func (w *writer) step(ctx context.Context) error {
	a := w.aggs[w.rng.IntN(len(w.aggs))]
	b := w.st.Aggregate(a.id, a.version)
	if a.version == 0 {
		b = w.st.CreateWithID(a.id)
	}
	n := 1 + w.rng.IntN(3)
	ids := make([]ulid.ULID, n)
	for i := range ids {
		ids[i] = ulid.Make()
		b.EventWithID(ids[i], ticked{N: a.version + int64(i) + 1})
	}
	began := time.Now()
	for attempt := 0; ; attempt++ {
		_, err := b.Commit(ctx)
		switch {
		case err == nil:
		case attempt > 0 && errors.Is(err, evento.ErrAlreadyAppended):
			w.already++
		case errors.Is(err, evento.ErrVersionConflict), errors.Is(err, evento.ErrInvalidArgument),
			errors.Is(err, evento.ErrAlreadyAppended), ctx.Err() != nil, time.Since(began) > retryFor:
			return fmt.Errorf("append to %s after version %d (attempt %d): %w", a.id, a.version, attempt+1, err)
		default:
			w.retried++
			if len(w.errs) < 5 {
				w.errs = append(w.errs, err.Error())
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for i, id := range ids {
			w.events = append(w.events, appended{ID: id.String(), Aggregate: a.id, Version: a.version + int64(i) + 1})
		}
		a.version += int64(n)
		return nil
	}
}

// workload is a set of writers appending concurrently.
type workload struct {
	writers []*writer
	wg      sync.WaitGroup
	done    chan struct{}
	mu      sync.Mutex
	errs    []error
}

// startWriters starts n writers, each on aggregates aggregates of its own,
// that append, pausing 0 to pause between commits, for d.
func startWriters(st *evento.Store, n, aggregates int, d, pause time.Duration) *workload {
	wl := &workload{done: make(chan struct{})}
	deadline := time.Now().Add(d)
	seed := rand.Uint64()
	for i := range n {
		w := newWriter(st, fmt.Sprintf("w%d", i), aggregates, seed+uint64(i))
		wl.writers = append(wl.writers, w)
		wl.wg.Add(1)
		go func() {
			defer wl.wg.Done()
			for time.Now().Before(deadline) {
				if err := w.step(context.Background()); err != nil {
					wl.mu.Lock()
					wl.errs = append(wl.errs, err)
					wl.mu.Unlock()
					return
				}
				time.Sleep(time.Duration(w.rng.Int64N(int64(pause) + 1)))
			}
		}()
	}
	go func() {
		wl.wg.Wait()
		close(wl.done)
	}()
	return wl
}

// finished reports whether every writer has stopped.
func (wl *workload) finished() bool {
	select {
	case <-wl.done:
		return true
	default:
		return false
	}
}

// wait waits for the writers and returns what they committed. A writer
// that could not commit fails the test.
func (wl *workload) wait(t *testing.T) []appended {
	t.Helper()
	<-wl.done
	for _, err := range wl.errs {
		t.Errorf("writer: %v", err)
	}
	var out []appended
	retried, already := 0, 0
	var errs []string
	for _, w := range wl.writers {
		out = append(out, w.events...)
		retried += w.retried
		already += w.already
		errs = append(errs, w.errs...)
	}
	t.Logf("writers committed %d events; %d commits retried after an error, %d of them found already appended",
		len(out), retried, already)
	for i, e := range errs {
		if i == 5 {
			break
		}
		t.Logf("  append error retried: %s", e)
	}
	return out
}

// appendEvents appends about n events from one writer and returns them.
func appendEvents(t *testing.T, st *evento.Store, w *writer, n int) []appended {
	t.Helper()
	from := len(w.events)
	for len(w.events)-from < n {
		if err := w.step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return w.events[from:]
}

// readLog returns every event of the store in global order, and the
// cursor of each.
func readLog(t *testing.T, st *evento.Store) ([]*evento.Event, []cursor.Value) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		all     []*evento.Event
		cursors []cursor.Value
	)
	args := cursor.Forward(cursor.MaxLimit, "")
	for {
		page, err := st.Read(ctx, evento.Query{Args: args})
		if err != nil {
			t.Fatalf("read the log: %v", err)
		}
		for _, e := range page.Edges {
			all = append(all, e.Node)
			cursors = append(cursors, e.Cursor)
		}
		if !page.PageInfo.HasNextPage {
			return all, cursors
		}
		args.After = page.PageInfo.EndCursor
	}
}

// waitLog reads the log until it holds every committed event, at most
// timeout, and returns it with each event's cursor. On PostgreSQL, reads
// of the global log hold back events committed after a transaction that is
// still open anywhere on the server (see the postgres package), so the
// newest events may show up a moment after their commits returned; how
// long they were held, and by which session, is logged.
func waitLog(t *testing.T, tg target, st *evento.Store, committed []appended, timeout time.Duration) ([]*evento.Event, []cursor.Value) {
	t.Helper()
	began := time.Now()
	var held []string
	for {
		log, cursors := readLog(t, st)
		seen := make(map[string]bool, len(log))
		for _, e := range log {
			seen[e.ID.String()] = true
		}
		missing := 0
		for _, a := range committed {
			if !seen[a.ID] {
				missing++
			}
		}
		if missing > 0 && time.Since(began) > timeout {
			t.Errorf("%d committed events still missing from reads of the log after %v: %s",
				missing, timeout, strings.Join(held, "; "))
			reportMissing(t, st, committed, seen)
			return log, cursors
		}
		if missing == 0 {
			if len(held) > 0 {
				t.Logf("committed events held back from reads of the log for %v: %s",
					time.Since(began).Round(time.Millisecond), strings.Join(held, "; "))
			}
			return log, cursors
		}
		if why := holdBack(tg, st); why != "" && (len(held) == 0 || held[len(held)-1] != why) {
			held = append(held, fmt.Sprintf("%d missing, %s", missing, why))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reportMissing tells, for each committed event missing from reads of the
// log, whether a read of its aggregate alone (which PostgreSQL answers
// without a horizon) finds it: stored but held back, or not stored.
func reportMissing(t *testing.T, st *evento.Store, committed []appended, seen map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stored := make(map[string]map[string]bool) // aggregate -> event ids
	n := 0
	for _, a := range committed {
		if seen[a.ID] {
			continue
		}
		if n++; n > 20 {
			break
		}
		ids, ok := stored[a.Aggregate]
		if !ok {
			ids = make(map[string]bool)
			args := cursor.Forward(cursor.MaxLimit, "")
			for {
				page, err := st.Read(ctx, evento.Query{
					Filters: []evento.Filter{{AggregateType: ticked{}.AggregateType(), AggregateID: a.Aggregate}},
					Args:    args,
				})
				if err != nil {
					t.Errorf("read aggregate %s: %v", a.Aggregate, err)
					break
				}
				for _, e := range page.Edges {
					ids[e.Node.ID.String()] = true
				}
				if !page.PageInfo.HasNextPage {
					break
				}
				args.After = page.PageInfo.EndCursor
			}
			stored[a.Aggregate] = ids
		}
		if ids[a.ID] {
			t.Logf("missing event %s (%s v%d) is stored: a read of its aggregate finds it", a.ID, a.Aggregate, a.Version)
		} else {
			t.Errorf("committed event %s (%s v%d) is not stored: a read of its aggregate does not find it", a.ID, a.Aggregate, a.Version)
		}
	}
}

// lastCursor returns the last of cursors, or "" when there is none.
func lastCursor(cursors []cursor.Value) cursor.Value {
	if len(cursors) == 0 {
		return ""
	}
	return cursors[len(cursors)-1]
}

// checkAcknowledged compares, while no worker runs, the events handled
// with the events up to the stored cursor of key: each acknowledged event
// must have been handled and, with exactly, no other event may have been
// (its record and the cursor commit together). It reads the records
// before and after the status, and again if they differ, so that a commit
// a dying worker's session completes meanwhile cannot skew the comparison.
func checkAcknowledged(t *testing.T, tg target, st *evento.Store, key string, exactly bool) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		before := readHandled(t, tg)
		status := leaseStatus(t, st, key)
		rows := readHandled(t, tg)
		if len(before) != len(rows) && attempt < 10 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		log, cursors := readLog(t, st)
		acked := 0
		if status != nil && status.Cursor != "" {
			acked = slices.Index(cursors, status.Cursor) + 1
			if acked == 0 {
				t.Errorf("stored cursor %q of %s is no event's", status.Cursor, key)
				return
			}
		}
		handled := make(map[string]bool, len(rows))
		for _, r := range rows {
			handled[r.EventID] = true
		}
		for _, e := range log[:acked] {
			if !handled[e.ID.String()] {
				t.Errorf("event %s (%s v%d) is acknowledged (cursor at event %d of %d) but was never handled",
					e.ID, e.AggregateID, e.Version, acked, len(log))
				return
			}
		}
		if exactly {
			for _, e := range log[acked:] {
				if handled[e.ID.String()] {
					t.Errorf("event %s (%s v%d) was recorded but the cursor (at event %d of %d) does not cover it",
						e.ID, e.AggregateID, e.Version, acked, len(log))
					return
				}
			}
		}
		return
	}
}

// checkLog fails the test unless the log holds exactly the events the
// writers committed, each once.
func checkLog(t *testing.T, log []*evento.Event, committed []appended) {
	t.Helper()
	want := make(map[string]appended, len(committed))
	for _, a := range committed {
		want[a.ID] = a
	}
	seen := make(map[string]bool, len(log))
	for _, e := range log {
		id := e.ID.String()
		a, ok := want[id]
		switch {
		case seen[id]:
			t.Errorf("event %s is in the log twice", id)
		case !ok:
			t.Errorf("event %s (%s v%d) is in the log but no writer committed it", id, e.AggregateID, e.Version)
		case a.Aggregate != e.AggregateID || a.Version != e.Version:
			t.Errorf("event %s is %s v%d in the log, committed as %s v%d", id, e.AggregateID, e.Version, a.Aggregate, a.Version)
		}
		seen[id] = true
	}
	if len(seen) != len(want) {
		for id, a := range want {
			if !seen[id] {
				t.Errorf("committed event %s (%s v%d) is not in the log", id, a.Aggregate, a.Version)
			}
		}
	}
}

// handling summarises how the events of a log were handled.
type handling struct {
	duplicates  int // records beyond the first of each event
	crossOwner  int // events recorded by more than one worker
	maxPerEvent int // most records of one event
}

// checkHandled fails the test unless every event of log was handled, none
// unknown, the first handlings followed the global order (and so each
// aggregate's version order), and, with exactlyOnce, each event was handled
// exactly once.
func checkHandled(t *testing.T, log []*evento.Event, rows []handledRow, exactlyOnce bool) handling {
	t.Helper()
	index := make(map[string]int, len(log))
	for i, e := range log {
		index[e.ID.String()] = i
	}
	byEvent := make(map[string][]handledRow, len(log))
	var firsts []int
	for _, r := range rows {
		i, ok := index[r.EventID]
		if !ok {
			t.Errorf("handled event %s is not in the log", r.EventID)
			continue
		}
		if len(byEvent[r.EventID]) == 0 {
			firsts = append(firsts, i)
		}
		byEvent[r.EventID] = append(byEvent[r.EventID], r)
	}
	var h handling
	var missing []string
	for _, e := range log {
		id := e.ID.String()
		recs := byEvent[id]
		if len(recs) == 0 {
			missing = append(missing, fmt.Sprintf("%s (%s v%d, position %s)", id, e.AggregateID, e.Version, e.Position))
			continue
		}
		h.duplicates += len(recs) - 1
		h.maxPerEvent = max(h.maxPerEvent, len(recs))
		owners := make(map[string]bool)
		for _, r := range recs {
			owners[r.Owner] = true
		}
		if len(owners) > 1 {
			h.crossOwner++
		}
		if exactlyOnce && len(recs) > 1 {
			t.Errorf("event %s (%s v%d) handled %d times: %s", id, e.AggregateID, e.Version, len(recs), describeRows(recs))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d events never handled, first: %s", len(missing), len(log), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	// First handlings in global order: position order is the order the
	// subscription reads, so each event's first handling comes after every
	// earlier event's.
	for k := 1; k < len(firsts); k++ {
		if firsts[k] < firsts[k-1] {
			a, b := log[firsts[k-1]], log[firsts[k]]
			t.Errorf("event %s (position %s) first handled after event %s (position %s)", b.ID, b.Position, a.ID, a.Position)
			break
		}
	}
	// And per aggregate: first handlings go 1, 2, 3, ...
	next := make(map[string]int64)
	for _, i := range firsts {
		e := log[i]
		if want := next[e.AggregateID] + 1; e.Version != want {
			t.Errorf("aggregate %s: version %d first handled when version %d was due", e.AggregateID, e.Version, want)
			break
		}
		next[e.AggregateID] = e.Version
	}
	return h
}

// checkEpochs fails the test if a record of a lower lease epoch was
// committed after one of a higher epoch: a worker that had lost its lease
// still wrote.
func checkEpochs(t *testing.T, rows []handledRow) {
	t.Helper()
	for k := 1; k < len(rows); k++ {
		if rows[k].Epoch < rows[k-1].Epoch {
			t.Errorf("record %d (event %s, owner %s, pid %d) has epoch %d after a record of epoch %d (owner %s, pid %d)",
				rows[k].Seq, rows[k].EventID, rows[k].Owner, rows[k].PID, rows[k].Epoch, rows[k-1].Epoch, rows[k-1].Owner, rows[k-1].PID)
			return
		}
	}
}

func describeRows(rows []handledRow) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("[seq %d pid %d owner %s epoch %d]", r.Seq, r.PID, r.Owner, r.Epoch))
	}
	return strings.Join(parts, " ")
}

// waitCursor waits until the subscription key's stored cursor is want, and
// fails the test after timeout.
func waitCursor(t *testing.T, st *evento.Store, key string, want cursor.Value, timeout time.Duration, alive func() error) *evento.SubscriptionStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var (
		last *evento.SubscriptionStatus
		err  error
	)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last, err = st.Executor().SubscriptionStatus(ctx, key)
		cancel()
		if err == nil && last.Cursor == want {
			return last
		}
		if alive != nil {
			if aerr := alive(); aerr != nil {
				t.Fatalf("waiting for subscription %s to reach the last event: %v", key, aerr)
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("subscription %s did not reach the last event within %v: status: %v", key, timeout, err)
			}
			t.Fatalf("subscription %s did not reach the last event within %v: cursor %q, want %q (owner %q, epoch %d, expires %v, last error %+v)",
				key, timeout, last.Cursor, want, last.Owner, last.Epoch, last.ExpiresAt, last.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
