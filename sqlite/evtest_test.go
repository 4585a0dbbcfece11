package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
	"github.com/eventogo/evento/sqlite"
)

// TestConformance runs the evtest suite on a database file per scenario;
// Shared opens the same file twice, as two processes would.
func TestConformance(t *testing.T) {
	open := func(t *testing.T, path string) evento.Executor {
		x, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := x.Close(); err != nil {
				t.Error(err)
			}
		})
		return x
	}
	evtest.Run(t, func(t *testing.T) evento.Executor {
		return open(t, filepath.Join(t.TempDir(), "events.db"))
	}, evtest.Features{
		Shared: func(t *testing.T) (a, b evento.Executor) {
			path := filepath.Join(t.TempDir(), "events.db")
			return open(t, path), open(t, path)
		},
	})
}
