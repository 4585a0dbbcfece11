package postgres_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
	"github.com/jackc/pgx/v5"
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

// TestConformanceQueryExecModes runs the evtest suite over pools in the
// pgx modes that send no prepared statement, as behind a pooler in
// transaction mode: there pgx encodes each argument from its Go type
// alone, without the statement's parameter types.
func TestConformanceQueryExecModes(t *testing.T) {
	connect(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			inMode := func(t *testing.T, schema string) evento.Executor {
				return openInMode(t, schema, mode)
			}
			evtest.Run(t, func(t *testing.T) evento.Executor {
				return inMode(t, freshSchema(t))
			}, evtest.Features{
				Shared: func(t *testing.T) (a, b evento.Executor) {
					schema := freshSchema(t)
					return inMode(t, schema), inMode(t, schema)
				},
			})
		})
	}
}
