package mysql_test

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/groupcommit/groupcommittest"
	"github.com/eventogo/evento/mysql"
)

func TestGroupCommit(t *testing.T) {
	groupcommittest.Run(t, groupcommittest.Harness{
		Open: func(t *testing.T) (evento.Executor, evento.Executor) {
			dsn := freshDatabase(t)
			return openDSN(t, dsn), openDSN(t, dsn)
		},
		Hold:   func(x evento.Executor) func() { return x.(*mysql.Executor).HoldAppends() },
		Queued: func(x evento.Executor) int { return x.(*mysql.Executor).QueuedAppends() },
	})
}
