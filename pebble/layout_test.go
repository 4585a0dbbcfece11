package pebble_test

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
)

// countKeys returns the number of keys of db under prefix.
func countKeys(t *testing.T, db *pebbledb.DB, prefix []byte) int {
	t.Helper()
	it, err := db.NewIter(&pebbledb.IterOptions{LowerBound: prefix, UpperBound: pebble.PrefixEnd(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return n
}

// routedEvents returns the positions of the events a read of routing key r
// returns, in order.
func routedEvents(t *testing.T, x *pebble.Executor, r evento.RoutingKey, filters ...evento.Filter) []uint64 {
	t.Helper()
	var out []uint64
	for _, e := range readAll(t, x, evento.Query{RoutingKey: r, Filters: filters}) {
		out = append(out, e.Position.Seq)
	}
	return out
}

// The routing key index holds only the events that have a key (layout 2).
// A namespace of layout 1, which also indexed the others under the empty
// key, is upgraded when an executor opens it: those entries go, the
// layout becomes 2, and every read by routing key returns what it did.
// Layouts this build does not know are refused.
func TestLayoutUpgrade(t *testing.T) {
	ctx := context.Background()
	db, err := pebbledb.Open(t.TempDir(), &pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x, err := pebble.New(db)
	if err != nil {
		t.Fatal(err)
	}
	// Positions 1–3 keyed k1, 4–5 unkeyed, 6–7 keyed k2, 8–10 unkeyed.
	mustAppend(t, x, withRoutingKey(newCommit("T", "a", 0, 3), "k1"))
	mustAppend(t, x, newCommit("T", "b", 0, 2))
	mustAppend(t, x, withRoutingKey(newCommit("U", "c", 0, 2), "k2"))
	mustAppend(t, x, newCommit("U", "d", 0, 3))
	unkeyed := pebble.RoutingIndexKey(pebble.DefaultKeyPrefix, "")
	if n := countKeys(t, db, unkeyed); n != 0 {
		t.Errorf("%d routing index entries for unkeyed events, want none", n)
	}
	if n := countKeys(t, db, pebble.RoutingIndexKey(pebble.DefaultKeyPrefix, "k1")); n != 3 {
		t.Errorf("%d routing index entries for k1, want 3", n)
	}
	want := map[string][]uint64{
		"none":                {4, 5, 8, 9, 10},
		"k1":                  {1, 2, 3},
		"k2":                  {6, 7},
		"none, type U":        {8, 9, 10},
		"k2, type U":          {6, 7},
		"none, aggregate U/c": nil,
	}
	check := func(when string) {
		t.Helper()
		got := map[string][]uint64{
			"none":                routedEvents(t, x, evento.NoRoutingKey()),
			"k1":                  routedEvents(t, x, evento.RoutingKeyOf("k1")),
			"k2":                  routedEvents(t, x, evento.RoutingKeyOf("k2")),
			"none, type U":        routedEvents(t, x, evento.NoRoutingKey(), evento.Filter{AggregateType: "U"}),
			"k2, type U":          routedEvents(t, x, evento.RoutingKeyOf("k2"), evento.Filter{AggregateType: "U"}),
			"none, aggregate U/c": routedEvents(t, x, evento.NoRoutingKey(), evento.Filter{AggregateType: "U", AggregateID: "c"}),
		}
		for k, w := range want {
			if !slices.Equal(got[k], w) {
				t.Errorf("%s: read of %s = %v, want %v", when, k, got[k], w)
			}
		}
	}
	check("layout 2")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	// What layout 1 wrote for the same events: an entry under the empty
	// key for every unkeyed event, and layout 1.
	b := db.NewBatch()
	for _, pos := range want["none"] {
		if err := b.Set(binary.BigEndian.AppendUint64(slices.Clone(unkeyed), pos), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Set(pebble.LayoutKey(pebble.DefaultKeyPrefix), []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if x, err = pebble.New(db); err != nil {
		t.Fatalf("opening layout 1: %v", err)
	}
	if v, err := x.SchemaVersion(ctx); err != nil || v != (evento.SchemaVersion{Applied: 2, Latest: 2}) {
		t.Errorf("SchemaVersion after the upgrade = %+v, %v; want 2 of 2", v, err)
	}
	if n := countKeys(t, db, unkeyed); n != 0 {
		t.Errorf("the upgrade left %d routing index entries for unkeyed events", n)
	}
	if n := countKeys(t, db, pebble.RoutingIndexKey(pebble.DefaultKeyPrefix, "k1")); n != 3 {
		t.Errorf("after the upgrade, %d routing index entries for k1, want 3", n)
	}
	check("upgraded")
	// The log goes on.
	mustAppend(t, x, newCommit("T", "b", 2, 1))
	want["none"] = append(want["none"], 11)
	check("upgraded, after an append")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	for _, layout := range [][]byte{{3}, {0}, {2, 0}} {
		if err := db.Set(pebble.LayoutKey(pebble.DefaultKeyPrefix), layout, pebbledb.Sync); err != nil {
			t.Fatal(err)
		}
		if x, err := pebble.New(db); !errors.Is(err, pebble.ErrCorrupt) {
			if err == nil {
				x.Close()
			}
			t.Errorf("layout %v: New: %v; want it refused as corrupt", layout, err)
		}
	}
}
