package evtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

var concurrencyScenarios = []scenario{
	{"OneAggregateDenseVersions", func(t *testing.T, h *harness) {
		h.long(t)
		st, _ := h.open(t)
		contend(t, []*evento.Store{st}, h.f.Writers, h.f.CommitsPerWriter)
	}},
	{"OneAggregateAcrossExecutors", func(t *testing.T, h *harness) {
		h.long(t)
		a, b := h.shared(t)
		contend(t, []*evento.Store{evento.New(a), evento.New(b)}, h.f.Writers, max(h.f.CommitsPerWriter/4, 1))
	}},
	{"SubscriberMissesNothing", testConcurrencySubscriberMissesNothing},
	{"TailingReaderMissesNothing", testConcurrencyTailingReader},
	{"UnkeyedSubscriberMissesNothing", testConcurrencyUnkeyedSubscriber},
	{"KeyedSubscriberMissesNothing", testConcurrencyKeyedSubscriber},
}

// contend runs writers goroutines, spread over stores, that each make
// commits commits of one event to the same aggregate, reloading the version
// and retrying on every conflict. The aggregate must end with dense
// versions and every writer's every event exactly once.
func contend(t *testing.T, stores []*evento.Store, writers, commits int) {
	ctx := t.Context()
	const id = "contended"
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for seq := 0; seq < commits; {
				version, err := lastVersion(ctx, st, counterType, id)
				if err != nil {
					errs <- fmt.Errorf("writer %d: read version: %w", w, err)
					return
				}
				_, err = st.Aggregate(id, version).Event(incremented{By: 1, Writer: w, Seq: seq}).Commit(ctx)
				switch {
				case err == nil:
					seq++
				case !errors.Is(err, evento.ErrVersionConflict):
					errs <- fmt.Errorf("writer %d, commit %d on version %d: %w", w, seq, version, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	events := readAggregate(t, stores[0], counterType, id)
	checkVersions(t, events, writers*commits)
	next := make([]int, writers)
	for _, e := range events {
		var inc incremented
		noErr(t, stores[0].Decode(e, &inc))
		if inc.Writer < 0 || inc.Writer >= writers {
			t.Fatalf("version %d names writer %d of %d", e.Version, inc.Writer, writers)
		}
		if inc.Seq != next[inc.Writer] {
			t.Fatalf("version %d is writer %d's commit %d, want its commit %d (a duplicate or a lost commit)",
				e.Version, inc.Writer, inc.Seq, next[inc.Writer])
		}
		next[inc.Writer]++
	}
}

// appendConcurrently runs h's writers, each making its commits of one to
// three events to its own aggregate, and returns the number of events.
func appendConcurrently(t *testing.T, h *harness, st *evento.Store) int {
	return appendConcurrentlyKeyed(t, h, st, func(int) string { return "" })
}

// appendConcurrentlyKeyed is appendConcurrently with writer w's aggregate
// under the routing key keyOf(w), none when "".
func appendConcurrentlyKeyed(t *testing.T, h *harness, st *evento.Store, keyOf func(w int) string) int {
	ctx := t.Context()
	errs := make(chan error, h.f.Writers)
	var wg sync.WaitGroup
	for w := range h.f.Writers {
		wg.Go(func() {
			id := fmt.Sprintf("writer-%d", w)
			var version int64
			for seq := range h.f.CommitsPerWriter {
				b := st.Aggregate(id, version)
				if version == 0 && keyOf(w) != "" {
					b = st.CreateWithID(id).RoutingKey(keyOf(w))
				}
				for range 1 + seq%3 {
					b.Event(incremented{By: 1, Writer: w, Seq: seq})
				}
				res, err := b.Commit(ctx)
				if err != nil {
					errs <- fmt.Errorf("writer %d, commit %d: %w", w, seq, err)
					return
				}
				version = res.Version
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for seq := range h.f.CommitsPerWriter {
		total += 1 + seq%3
	}
	return total * h.f.Writers
}

// testConcurrencySubscriberMissesNothing runs a subscription while writers
// append to their own aggregates; it must see every committed event exactly
// once, in position order. A store whose global order is not commit order
// as readers see it makes the subscriber skip events here.
func testConcurrencySubscriberMissesNothing(t *testing.T, h *harness) {
	h.long(t)
	st, _ := h.open(t)
	var rec recorder
	w := startAndWait(t, st, evento.NewSubscription("all-writers", rec.handlers()...).PollInterval(20*time.Millisecond))
	total := appendConcurrently(t, h, st)
	waitFor(t, h.f.Timeout, fmt.Sprintf("the subscriber to see %d events", total), func() bool { return rec.len() >= total })
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	shutdown(t, h, w)
	got := rec.all()
	checkAscending(t, "subscriber", got)
	sameEvents(t, "subscriber", got, readAll(t, st, evento.Query{}))
}

// testConcurrencyUnkeyedSubscriber runs a subscription of the events
// without a routing key while writers append, half of them to keyed
// aggregates. Such a subscription moves its cursor over the keyed events
// at the end of each drain, as far as the log's last event when the drain
// started; it must still see every unkeyed event exactly once, in order.
func testConcurrencyUnkeyedSubscriber(t *testing.T, h *harness) {
	h.long(t)
	keyOf := func(w int) string { return []string{"eu", ""}[w%2] }
	t.Run("Sequential", func(t *testing.T) { routedSubscriber(t, h, evento.NoRoutingKey(), keyOf, time.Millisecond, 1) })
	t.Run("Parallel", func(t *testing.T) { routedSubscriber(t, h, evento.NoRoutingKey(), keyOf, time.Millisecond, 3) })
}

// testConcurrencyKeyedSubscriber is testConcurrencyUnkeyedSubscriber for a
// subscription of one routing key while writers append, half of them with
// that key and half with another, with AckInterval(0), so that the worker
// moves its cursor over the other key's events after every drain.
func testConcurrencyKeyedSubscriber(t *testing.T, h *harness) {
	h.long(t)
	keyOf := func(w int) string { return []string{"eu", "us"}[w%2] }
	t.Run("Sequential", func(t *testing.T) { routedSubscriber(t, h, evento.RoutingKeyOf("eu"), keyOf, 0, 1) })
	t.Run("Parallel", func(t *testing.T) { routedSubscriber(t, h, evento.RoutingKeyOf("eu"), keyOf, 0, 3) })
}

// routedSubscriber runs a subscription of the events of routing key key,
// partitions handlers at a time, while writers append with the routing
// keys keyOf gives them, and checks that it sees each of its events once,
// in order (in each aggregate's order, with partitions).
func routedSubscriber(t *testing.T, h *harness, key evento.RoutingKey, keyOf func(w int) string, ack time.Duration, partitions int) {
	st, _ := h.open(t)
	var rec recorder
	sub := evento.NewSubscription("routed-writers", rec.handlers()...).RoutingKey(key).
		PollInterval(20 * time.Millisecond).AckInterval(ack)
	if partitions > 1 {
		sub.Parallel(partitions, nil)
	}
	w := startAndWait(t, st, sub)
	appendConcurrentlyKeyed(t, h, st, keyOf)
	want := readAll(t, st, evento.Query{RoutingKey: key})
	waitFor(t, h.f.Timeout, fmt.Sprintf("the subscriber to see %d events", len(want)), func() bool { return rec.len() >= len(want) })
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	shutdown(t, h, w)
	got := rec.all()
	if partitions == 1 {
		checkAscending(t, "routed subscriber", got)
	} else {
		// Partitions keep each aggregate's order, not the global one.
		checkPerAggregateOrder(t, got)
		byID := func(a, b *evento.Event) int { return a.ID.Compare(b.ID) }
		got, want = slices.SortedFunc(slices.Values(got), byID), slices.SortedFunc(slices.Values(want), byID)
	}
	sameEvents(t, "routed subscriber", got, want)
}

// testConcurrencyTailingReader reads forward from its last cursor while
// writers append, as a subscription does, and must end up with the whole
// log: an event that becomes visible before an event it was read after is
// lost to it.
func testConcurrencyTailingReader(t *testing.T, h *harness) {
	h.long(t)
	st, _ := h.open(t)
	done := make(chan struct{})
	var seen []*evento.Event
	readErr := make(chan error, 1)
	go func() {
		var after cursor.Value
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := st.Read(t.Context(), evento.Query{Args: cursor.Forward(100, after)})
			if err != nil {
				readErr <- err
				return
			}
			seen = append(seen, page.Nodes()...)
			if len(page.Edges) > 0 {
				after = page.PageInfo.EndCursor
			}
			if finished && !page.PageInfo.HasNextPage {
				readErr <- nil
				return
			}
			if len(page.Edges) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	appendConcurrently(t, h, st)
	close(done)
	noErr(t, <-readErr)
	checkAscending(t, "tailing reader", seen)
	sameEvents(t, "tailing reader", seen, readAll(t, st, evento.Query{}))
}
