package mysql

import (
	"context"
	"time"

	"github.com/eventogo/evento"
)

// AppendUncommitted runs Append up to, and not including, its COMMIT and
// leaves the transaction open, holding the position counter: tests use it
// to stand for a writer that is slow to commit. Exactly one of commit and
// rollback must be called.
func (x *Executor) AppendUncommitted(ctx context.Context, c *evento.Commit) (commit func() error, rollback func(), err error) {
	p, err := x.begin(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return func() error { return p.commit(ctx) }, func() { p.rollback(ctx) }, nil
}

// RenewLeaseTo sets l's expiry to exactly at, through the fenced write of
// RenewLease: tests use it to write a value that is already stored.
func (x *Executor) RenewLeaseTo(ctx context.Context, l *evento.Lease, at time.Time) error {
	current, err := x.fenced(ctx, l, x.stmt.leases.Renew, at.UnixMicro(), l.Key, l.Owner, l.Epoch)
	if err == nil && !current {
		err = evento.ErrLeaseLost
	}
	return err
}
