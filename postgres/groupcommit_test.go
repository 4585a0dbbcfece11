package postgres_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/groupcommit/groupcommittest"
	"github.com/eventogo/evento/postgres"
)

func TestGroupCommit(t *testing.T) {
	groupcommittest.Run(t, groupcommittest.Harness{
		Open: func(t *testing.T) (evento.Executor, evento.Executor) {
			schema := freshSchema(t)
			return openIn(t, schema), openIn(t, schema)
		},
		Hold:   func(x evento.Executor) func() { return x.(*postgres.Executor).HoldAppends() },
		Queued: func(x evento.Executor) int { return x.(*postgres.Executor).QueuedAppends() },
		// A batch is one statement: its events share a transaction id.
		OneTransaction: func(events []*evento.Event) bool {
			for _, e := range events {
				if e.Position.Tx != events[0].Position.Tx {
					return false
				}
			}
			return true
		},
	})
}
