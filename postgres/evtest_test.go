package postgres_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
)

// TestConformance runs the evtest suite with a schema of its own per
// scenario, dropped when the scenario ends; Shared opens the same schema
// twice, as two processes would.
func TestConformance(t *testing.T) {
	connect(t) // skip, or fail in CI, before the suite when no server answers
	evtest.Run(t, func(t *testing.T) evento.Executor {
		return open(t)
	}, evtest.Features{
		Shared: func(t *testing.T) (a, b evento.Executor) {
			schema := freshSchema(t)
			return openIn(t, schema), openIn(t, schema)
		},
	})
}
