package evtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

var badInputScenarios = []scenario{
	{"EmptyCommit", testBadInputEmptyCommit},
	{"PayloadTooLarge", testBadInputPayloadTooLarge},
	{"InvalidNames", testBadInputInvalidNames},
	{"InvalidCommits", testBadInputInvalidCommits},
	{"InvalidSubscriptions", testBadInputInvalidSubscriptions},
}

// checkEmpty fails t unless the store holds no event.
func checkEmpty(t *testing.T, st *evento.Store) {
	t.Helper()
	if events := readAll(t, st, evento.Query{}); len(events) != 0 {
		t.Errorf("refused input stored %s", describe(events))
	}
}

func testBadInputEmptyCommit(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	_, err := st.Create().Commit(ctx)
	wantErr(t, "Builder.Commit without events", err, evento.ErrNoEvents)
	err = noPanic(func() error {
		return exec.Append(ctx, &evento.Commit{AggregateType: counterType, AggregateID: "c"})
	})
	wantErr(t, "Executor.Append without events", err, evento.ErrNoEvents)
	checkEmpty(t, st)
}

// blob is an event whose payload size the caller chooses.
type blob struct {
	noteEvent
	Bytes []byte
}

func (blob) EventName() string { return "Blob" }

func testBadInputPayloadTooLarge(t *testing.T, h *harness) {
	ctx := t.Context()
	_, exec := h.open(t)
	st := evento.New(exec, evento.WithMaxPayloadSize(64))
	_, err := st.Create().Event(blob{Bytes: make([]byte, 16)}).Event(blob{Bytes: make([]byte, 100)}).Commit(ctx)
	wantErr(t, "payload above the limit", err, evento.ErrPayloadTooLarge)
	checkEmpty(t, st)
	res := must(st.Create().Event(blob{Bytes: make([]byte, 32)}).Commit(ctx))(t)
	if res.Version != 1 {
		t.Errorf("payload below the limit: version %d, want 1", res.Version)
	}

	// The default limit is generous but real.
	big := evento.New(exec)
	_, err = big.Create().Event(blob{Bytes: make([]byte, evento.DefaultMaxPayloadSize)}).Commit(ctx)
	wantErr(t, "payload above the default limit", err, evento.ErrPayloadTooLarge)
	must(big.Create().Event(blob{Bytes: make([]byte, 256<<10)}).Commit(ctx))(t)
}

// badName implements EventData with names chosen at run time: the suite
// uses it only to check that bad names are refused.
type badName struct{ typ, name string }

func (b badName) AggregateType() string { return b.typ }
func (b badName) EventName() string     { return b.name }

func testBadInputInvalidNames(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	long := strings.Repeat("x", evento.MaxNameLen+1)
	for what, commit := range map[string]func() (evento.Result, error){
		"empty aggregate id":    func() (evento.Result, error) { return st.CreateWithID("").Event(incremented{}).Commit(ctx) },
		"oversized id":          func() (evento.Result, error) { return st.CreateWithID(long).Event(incremented{}).Commit(ctx) },
		"id not UTF-8":          func() (evento.Result, error) { return st.CreateWithID("a\xffb").Event(incremented{}).Commit(ctx) },
		"oversized routing key": func() (evento.Result, error) { return st.Create().RoutingKey(long).Event(incremented{}).Commit(ctx) },
		"empty aggregate type":  func() (evento.Result, error) { return st.Create().Event(badName{"", "E"}).Commit(ctx) },
		"empty event name":      func() (evento.Result, error) { return st.Create().Event(badName{counterType, ""}).Commit(ctx) },
		"oversized event name":  func() (evento.Result, error) { return st.Create().Event(badName{counterType, long}).Commit(ctx) },
		"mixed aggregate types": func() (evento.Result, error) {
			return st.Create().Event(incremented{}).Event(noteWritten{}).Commit(ctx)
		},
		"nil event": func() (evento.Result, error) { return st.Create().Event(nil).Commit(ctx) },
	} {
		_, err := commit()
		wantErr(t, what, err, evento.ErrInvalidArgument)
	}
	checkEmpty(t, st)
	// A name of exactly MaxNameLen bytes is fine.
	must(st.CreateWithID(long[1:]).Event(incremented{}).Commit(ctx))(t)
}

// testBadInputInvalidCommits hands the executor commits the Builder would
// never make: it must validate them itself.
func testBadInputInvalidCommits(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	commit := func(mutate func(c *evento.Commit)) *evento.Commit {
		c := &evento.Commit{AggregateType: counterType, AggregateID: "c", Events: rawEvents(counterType, "c", 0, "A", "B")}
		mutate(c)
		return c
	}
	for what, c := range map[string]*evento.Commit{
		"empty aggregate id":   commit(func(c *evento.Commit) { c.AggregateID = "" }),
		"empty aggregate type": commit(func(c *evento.Commit) { c.AggregateType = "" }),
		"event of another aggregate": commit(func(c *evento.Commit) {
			c.Events[1].AggregateID = "d"
		}),
		"version gap": commit(func(c *evento.Commit) { c.Events[1].Version = 3 }),
		"versions not after expected": commit(func(c *evento.Commit) {
			c.ExpectedVersion = 5
		}),
		"negative expected version": commit(func(c *evento.Commit) {
			c.ExpectedVersion = -1
			c.Events[0].Version, c.Events[1].Version = 0, 1
		}),
		"event without id": commit(func(c *evento.Commit) { c.Events[0].ID = ulid.ULID{} }),
		"empty event name": commit(func(c *evento.Commit) { c.Events[1].Name = "" }),
		"nil event":        commit(func(c *evento.Commit) { c.Events[1] = nil }),
		"too many events": commit(func(c *evento.Commit) {
			c.Events = rawEvents(counterType, "c", 0, manyNames(evento.MaxCommitEvents+1)...)
		}),
		"routing key UTF-8":  commit(func(c *evento.Commit) { c.RoutingKey = "\xff" }),
		"aggregate id UTF-8": commit(func(c *evento.Commit) { c.AggregateID = "\xfe"; setAggregate(c) }),
	} {
		err := noPanic(func() error { return exec.Append(ctx, c) })
		wantErr(t, "Executor.Append with "+what, err, evento.ErrInvalidArgument)
	}
	checkEmpty(t, st)
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "E"
	}
	return out
}

// setAggregate points every event of c at c's aggregate.
func setAggregate(c *evento.Commit) {
	for _, e := range c.Events {
		e.AggregateID = c.AggregateID
	}
}

func testBadInputInvalidSubscriptions(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	var rec recorder
	for what, sub := range map[string]*evento.Subscription{
		"empty key":        evento.NewSubscription("", rec.handlers()...),
		"no handler":       evento.NewSubscription("k"),
		"chunk size 0":     evento.NewSubscription("k", rec.handlers()...).ChunkSize(0),
		"negative retries": evento.NewSubscription("k", rec.handlers()...).Retry(-1, time.Millisecond),
		"tiny lease TTL":   evento.NewSubscription("k", rec.handlers()...).LeaseTTL(time.Millisecond),
		"zero poll":        evento.NewSubscription("k", rec.handlers()...).PollInterval(0),
		"oversized chunk":  evento.NewSubscription("k", rec.handlers()...).ChunkSize(1 << 30),
		"negative delay":   evento.NewSubscription("k", rec.handlers()...).Delay(-time.Second),
		"oversized key":    evento.NewSubscription(strings.Repeat("k", evento.MaxNameLen+1), rec.handlers()...),
		"negative backoff": evento.NewSubscription("k", rec.handlers()...).Retry(1, -time.Second),
	} {
		wantErr(t, fmt.Sprintf("Execute with %s", what), sub.Execute(ctx, st), evento.ErrInvalidArgument)
		_, err := sub.Start(ctx, st)
		wantErr(t, fmt.Sprintf("Start with %s", what), err, evento.ErrInvalidArgument)
	}
}
