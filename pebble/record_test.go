package pebble_test

import (
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
