package pebble_test

import (
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
)

// FuzzRecords feeds damaged records to the decoders, which must report
// them, never panic.
func FuzzRecords(f *testing.F) {
	e := newCommit("bank/Account", "a", 0, 1).Events[0]
	e.Timestamp = time.Now()
	e.RoutingKey = "eu"
	f.Add(pebble.EncodeEventRecord(e))
	e.Metadata = evento.Metadata{}
	e.Data = nil
	f.Add(pebble.EncodeEventRecord(e))
	// A released lease with cursor "c" and a fatal last error.
	f.Add([]byte{1, 0, 3, 0, 1, 'c', 4, 8, 1, 'e', 1, 'm', 8, 1})
	// A dead letter record.
	f.Add([]byte{1, 1, 'm', 2, 1, 2})
	f.Add([]byte{1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) { pebble.DecodeRecords(b) })
}

// A decoded event owns its memory: the buffer it came from may be reused,
// and a handler may write into or append to Data, without changing any
// other field.
func TestDecodedEventOwnsItsMemory(t *testing.T) {
	e := newCommit("bank/Account", "account-7", 0, 1).Events[0]
	e.Timestamp = time.UnixMicro(1_700_000_000_000_001).UTC()
	e.RoutingKey = "eu"
	e.Metadata = evento.Metadata{}
	e.Data = []byte(`{"amount":10}`)
	b := pebble.EncodeEventRecord(e)
	got, err := pebble.DecodeEventRecord(9, b)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if got.Position.Seq != 9 || got.ID != e.ID || got.AggregateType != e.AggregateType ||
			got.AggregateID != e.AggregateID || got.Version != e.Version || got.Name != e.Name ||
			got.RoutingKey != e.RoutingKey || !got.Timestamp.Equal(e.Timestamp) {
			t.Fatalf("%s: decoded %+v, want %+v", when, got, e)
		}
	}
	check("decoded")
	if string(got.Data) != string(e.Data) {
		t.Fatalf("data %q, want %q", got.Data, e.Data)
	}
	for i := range b {
		b[i] = 0xFF
	}
	check("after the record's buffer was overwritten")
	if string(got.Data) != string(e.Data) {
		t.Fatalf("after the record's buffer was overwritten: data %q, want %q", got.Data, e.Data)
	}
	for i := range got.Data {
		got.Data[i] = 'x'
	}
	got.Data = append(got.Data, "more data than the record had room for"...)
	check("after writing into and appending to Data")
}

// Keeping a decoded event's strings does not keep its payload alive.
func TestDecodedStringsHoldNoPayload(t *testing.T) {
	e := newCommit("bank/Account", "account-7", 0, 1).Events[0]
	e.Metadata = evento.Metadata{ID: "01J8Z3", RequestedBy: "test"}
	e.Data = make([]byte, 256<<10)
	b := pebble.EncodeEventRecord(e)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make([]string, 200)
	for i := range 100 {
		got, err := pebble.DecodeEventRecord(uint64(i+1), b)
		if err != nil {
			t.Fatal(err)
		}
		kept[2*i], kept[2*i+1] = got.AggregateID, got.Metadata.ID
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 5<<20 {
		t.Errorf("100 aggregate and metadata ids of decoded 256 KiB events hold %d KiB of heap", grown>>10)
	}
	runtime.KeepAlive(kept)
}

// Events decode whole whatever their data's size (each allocation size
// newEvent picks, and past them) and whatever their metadata's form: the
// string fields only, which share the strings' allocation, or with
// values, which the general decoder reads.
func TestDecodeEventSizesAndMetadata(t *testing.T) {
	metadata := []evento.Metadata{
		{},
		{ID: "01J8Z3"},
		{ID: "a", RequestedBy: "b", RequestedAs: "c", CorrelationID: "d", CausationID: "é"},
		{CausationID: "only the last"},
		evento.Metadata{RequestedBy: "x"}.Set("n", int64(-3)),
	}
	for _, size := range []int{0, 1, 48, 49, 112, 113, 208, 209, 5000} {
		for _, md := range metadata {
			e := newCommit("bank/Account", "account-7", 0, 1).Events[0]
			e.Timestamp = time.UnixMicro(1_700_000_000_000_001).UTC()
			e.RoutingKey = "eu"
			e.Metadata = md
			e.Data = nil
			for i := range size {
				e.Data = append(e.Data, byte(i))
			}
			b := pebble.EncodeEventRecord(e)
			got, err := pebble.DecodeEventRecord(3, b)
			if err != nil {
				t.Fatalf("size %d, metadata %+v: %v", size, md, err)
			}
			for i := range b {
				b[i] = 0
			}
			e.Position.Seq = 3
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("size %d: decoded\n%+v\nwant\n%+v", size, got, e)
			}
			if cap(got.Data) != len(got.Data) {
				t.Fatalf("size %d: data has capacity %d past its length %d", size, cap(got.Data), len(got.Data))
			}
		}
	}
}

// Keeping a decoded event's data keeps neither the event nor its strings.
func TestDecodedDataHoldsNoEvent(t *testing.T) {
	e := newCommit("bank/Account", "account-7", 0, 1).Events[0]
	e.Metadata = evento.Metadata{ID: "01J8Z3", RequestedBy: "test"}
	e.Data = []byte("sixteen bytes...")
	b := pebble.EncodeEventRecord(e)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make([][]byte, 10_000)
	for i := range kept {
		got, err := pebble.DecodeEventRecord(uint64(i+1), b)
		if err != nil {
			t.Fatal(err)
		}
		kept[i] = got.Data
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// 16 bytes of data each, and the slice headers: 40 bytes an event.
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64*int64(len(kept)) {
		t.Errorf("the data of %d decoded events holds %d bytes of heap, %d an event", len(kept), grown, grown/int64(len(kept)))
	}
	runtime.KeepAlive(kept)
}
