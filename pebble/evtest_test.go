package pebble_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
	"github.com/eventogo/evento/pebble"
)

// TestConformance runs the evtest suite on a fresh directory per scenario.
// Features.Shared stays nil: Pebble locks its directory, so two processes
// never share one store, and one process runs one executor per key prefix.
func TestConformance(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor {
		x, err := pebble.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := x.Close(); err != nil {
				t.Error(err)
			}
		})
		return x
	}, evtest.Features{})
}
