package evtest

import (
	"testing"

	"github.com/eventogo/evento"
)

var routingScenarios = []scenario{
	{"SetOnCreateAndInherited", testRoutingInherited},
	{"None", testRoutingNone},
	{"FixedByFirstCommit", testRoutingFixed},
}

// routed reads the events of the counter aggregates that r selects.
func routed(t *testing.T, st *evento.Store, r evento.RoutingKey) []*evento.Event {
	t.Helper()
	return readAll(t, st, evento.Query{Filters: []evento.Filter{{AggregateType: counterType}}, RoutingKey: r})
}

func testRoutingInherited(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := must(st.Create().RoutingKey("eu").Event(incremented{By: 1}).Commit(ctx))(t)
	res = must(st.Aggregate(res.AggregateID, res.Version).Event(incremented{By: 2}).Event(counterReset{}).Commit(ctx))(t)
	other := must(st.Create().RoutingKey("us").Event(incremented{By: 3}).Commit(ctx))(t)

	events := readAggregate(t, st, counterType, res.AggregateID)
	checkVersions(t, events, 3)
	for _, e := range events {
		if e.RoutingKey != "eu" {
			t.Errorf("version %d routing key = %q, want eu (set on create, inherited after)", e.Version, e.RoutingKey)
		}
	}
	sameEvents(t, "routing key eu", routed(t, st, evento.RoutingKeyOf("eu")), events)
	us := routed(t, st, evento.RoutingKeyOf("us"))
	if len(us) != 1 || us[0].AggregateID != other.AggregateID || us[0].RoutingKey != "us" {
		t.Errorf("routing key us = %s, want the one event of %s", describe(us), other.AggregateID)
	}
	if none := routed(t, st, evento.NoRoutingKey()); len(none) != 0 {
		t.Errorf("no routing key = %s, want nothing", describe(none))
	}
	if all := routed(t, st, evento.AnyRoutingKey()); len(all) != 4 {
		t.Errorf("any routing key = %d events, want 4", len(all))
	}
	if got := routed(t, st, evento.RoutingKeyOf("asia")); len(got) != 0 {
		t.Errorf("unused routing key = %s, want nothing", describe(got))
	}
}

func testRoutingNone(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := must(st.Create().Event(incremented{By: 1}).Commit(ctx))(t)
	res = must(st.Aggregate(res.AggregateID, res.Version).Event(incremented{By: 1}).Commit(ctx))(t)
	must(st.Create().RoutingKey("eu").Event(incremented{By: 1}).Commit(ctx))(t)

	events := readAggregate(t, st, counterType, res.AggregateID)
	for _, e := range events {
		if e.RoutingKey != "" {
			t.Errorf("version %d routing key = %q, want none", e.Version, e.RoutingKey)
		}
	}
	sameEvents(t, "no routing key", routed(t, st, evento.NoRoutingKey()), events)
	sameEvents(t, "RoutingKeyOf(\"\") is no routing key", routed(t, st, evento.RoutingKeyOf("")), events)
}

// testRoutingFixed checks that a later commit cannot change an aggregate's
// routing key: the Builder refuses, and an executor given one ignores it.
func testRoutingFixed(t *testing.T, h *harness) {
	ctx := t.Context()
	st, exec := h.open(t)
	res := must(st.Create().RoutingKey("eu").Event(incremented{By: 1}).Commit(ctx))(t)
	_, err := st.Aggregate(res.AggregateID, 1).RoutingKey("us").Event(incremented{By: 1}).Commit(ctx)
	wantErr(t, "routing key on a later commit", err, evento.ErrInvalidArgument)

	later := appendRaw(t, exec, counterType, res.AggregateID, 1, "us", "Incremented")
	if later[0].RoutingKey != "eu" {
		t.Errorf("Append set routing key %q on a later commit, want the inherited eu", later[0].RoutingKey)
	}
	events := readAggregate(t, st, counterType, res.AggregateID)
	checkVersions(t, events, 2)
	if events[1].RoutingKey != "eu" {
		t.Errorf("later commit stored with routing key %q, want eu", events[1].RoutingKey)
	}
	if got := routed(t, st, evento.RoutingKeyOf("us")); len(got) != 0 {
		t.Errorf("routing key us = %s, want nothing", describe(got))
	}
}
