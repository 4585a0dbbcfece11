package evento_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

func commitOf(n int) *evento.Commit {
	c := &evento.Commit{AggregateType: "t", AggregateID: "a", ExpectedVersion: 2}
	for i := range n {
		c.Events = append(c.Events, &evento.Event{ID: ulid.Make(), AggregateType: "t", AggregateID: "a", Version: int64(3 + i), Name: "E"})
	}
	return c
}

func TestCommitValidate(t *testing.T) {
	if err := commitOf(3).Validate(); err != nil {
		t.Fatalf("valid commit: %v", err)
	}
	if err := commitOf(0).Validate(); !errors.Is(err, evento.ErrNoEvents) {
		t.Errorf("empty commit: %v", err)
	}
	cases := map[string]func(*evento.Commit){
		"gap in versions":  func(c *evento.Commit) { c.Events[1].Version = 9 },
		"other aggregate":  func(c *evento.Commit) { c.Events[0].AggregateID = "b" },
		"missing id":       func(c *evento.Commit) { c.Events[2].ID = ulid.ULID{} },
		"empty name":       func(c *evento.Commit) { c.Events[0].Name = "" },
		"long type":        func(c *evento.Commit) { c.AggregateType = strings.Repeat("x", evento.MaxNameLen+1) },
		"bad utf8 id":      func(c *evento.Commit) { c.AggregateID = "\xff" },
		"negative version": func(c *evento.Commit) { c.ExpectedVersion = -1 },
		"nil event":        func(c *evento.Commit) { c.Events[1] = nil },
		"year 10000":       func(c *evento.Commit) { c.Events[1].Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 294250":      func(c *evento.Commit) { c.Events[1].Timestamp = time.Date(294250, 1, 1, 0, 0, 0, 0, time.UTC) },
		"before year 1":    func(c *evento.Commit) { c.Events[0].Timestamp = time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC) },
	}
	for _, ts := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("east", 3600)).Add(time.Hour), time.Now()} {
		c := commitOf(3)
		c.Events[0].Timestamp = ts
		if err := c.Validate(); err != nil {
			t.Errorf("timestamp %s: %v", ts, err)
		}
	}
	for name, mutate := range cases {
		c := commitOf(3)
		mutate(c)
		if err := c.Validate(); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestQueryMatch(t *testing.T) {
	e := &evento.Event{AggregateType: "bank/Account", AggregateID: "a1", Name: "Deposited", RoutingKey: "eu"}
	bare := &evento.Event{AggregateType: "bank/Account", AggregateID: "a2", Name: "Opened"}
	cases := []struct {
		q         evento.Query
		want, raw bool
	}{
		{evento.Query{}, true, true},
		{evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account"}}}, true, true},
		{evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Owner"}}}, false, false},
		{evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account", AggregateID: "a1"}}}, true, false},
		{evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account", Name: "Opened"}}}, false, true},
		{evento.Query{Filters: []evento.Filter{{AggregateType: "x"}, {AggregateType: "bank/Account", AggregateID: "a1", Name: "Deposited"}}}, true, false},
		{evento.Query{RoutingKey: evento.NoRoutingKey()}, false, true},
		{evento.Query{RoutingKey: evento.RoutingKeyOf("eu")}, true, false},
		{evento.Query{RoutingKey: evento.RoutingKeyOf("us")}, false, false},
		{evento.Query{RoutingKey: evento.RoutingKeyOf("")}, false, true},
	}
	for i, c := range cases {
		if got := c.q.Match(e); got != c.want {
			t.Errorf("case %d on keyed event: Match = %v, want %v", i, got, c.want)
		}
		if got := c.q.Match(bare); got != c.raw {
			t.Errorf("case %d on bare event: Match = %v, want %v", i, got, c.raw)
		}
	}
}

func TestQueryValidate(t *testing.T) {
	if err := (&evento.Query{Filters: []evento.Filter{{AggregateID: "a"}}}).Validate(); !errors.Is(err, evento.ErrInvalidArgument) {
		t.Errorf("filter without type: %v", err)
	}
}

func TestDerivedIDIsStableAndUnambiguous(t *testing.T) {
	a := evento.DerivedID("ab", "c")
	if a != evento.DerivedID("ab", "c") {
		t.Error("DerivedID not stable")
	}
	if a == evento.DerivedID("a", "bc") {
		t.Error(`DerivedID("ab","c") == DerivedID("a","bc")`)
	}
	if len(a) != 32 {
		t.Errorf("DerivedID length %d", len(a))
	}
}
