package mysql_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
)

// TestConformance runs the evtest suite with a fresh database per scenario;
// Shared opens the same database twice, as two processes would.
func TestConformance(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor {
		return open(t)
	}, evtest.Features{
		Shared: func(t *testing.T) (a, b evento.Executor) {
			dsn := freshDatabase(t)
			return openDSN(t, dsn), openDSN(t, dsn)
		},
	})
}
