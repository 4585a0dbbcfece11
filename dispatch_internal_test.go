package evento

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

type fn = func()

func TestDispatchFilters(t *testing.T) {
	var d dispatch[fn]
	d.add(EventKey{"acc", "Opened"}, nil)
	d.add(EventKey{"acc", "Closed"}, nil)
	d.add(EventKey{"own", "Registered"}, nil)
	d.addType("log", nil)
	want := []Filter{{AggregateType: "acc", Name: "Closed"}, {AggregateType: "acc", Name: "Opened"},
		{AggregateType: "log"}, {AggregateType: "own", Name: "Registered"}}
	if got := d.filters(); !reflect.DeepEqual(got, want) {
		t.Errorf("filters = %v, want %v", got, want)
	}
	d.safety = true
	want = []Filter{{AggregateType: "acc"}, {AggregateType: "log"}, {AggregateType: "own"}}
	if got := d.filters(); !reflect.DeepEqual(got, want) {
		t.Errorf("safety filters = %v, want %v", got, want)
	}
}

type skipped struct{}

func (skipped) AggregateType() string { return "acc" }
func (skipped) EventName() string     { return "Frozen" }

func TestDispatchLookup(t *testing.T) {
	var d dispatch[string]
	d.add(EventKey{"acc", "Opened"}, "opened")
	d.addType("acc", "any")
	d.addSkip([]EventData{skipped{}})
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"Opened", "opened", true}, {"Frozen", "", false}, {"Other", "any", true}} {
		f, ok, err := d.lookup(&Event{AggregateType: "acc", Name: c.name})
		if f != c.want || ok != c.ok || err != nil {
			t.Errorf("lookup(%s) = %q %v %v", c.name, f, ok, err)
		}
	}
	d.safety = true
	if _, ok, err := d.lookup(&Event{AggregateType: "own", Name: "X"}); ok || !errors.Is(err, ErrUnhandledEvent) {
		t.Errorf("safety lookup of unknown event: ok=%v err=%v", ok, err)
	}
	if _, ok, err := d.lookup(&Event{AggregateType: "acc", Name: "Frozen"}); ok || err != nil {
		t.Errorf("safety lookup of skipped event: ok=%v err=%v", ok, err)
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	got := []time.Duration{backoff(time.Second, 0), backoff(time.Second, 1), backoff(time.Second, 3), backoff(time.Second, 60)}
	want := []time.Duration{time.Second, 2 * time.Second, 8 * time.Second, maxBackoff}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
}
