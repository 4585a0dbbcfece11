package mysql

import (
	"context"

	"github.com/eventogo/evento"
)

// Dead letters live in the dead_letters table, one row per subscription key
// and event id, with the encoded event, the handler's error and the time
// it was parked (unix microseconds, this process's clock). They are
// written by Acknowledge, in the transaction that moves the cursor past
// them.

var (
	_ evento.DeadLetterStore = (*Executor)(nil)
	_ evento.TxAcknowledger  = (*Executor)(nil)
)

// DeadLetters returns up to limit (1 to 10000) events parked under key,
// oldest first: by parked time, then event id, byte by byte. Another limit
// fails with an error matching evento.ErrInvalidArgument.
func (x *Executor) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	dls, err := x.leases.DeadLetters(ctx, key, limit)
	if err != nil {
		return nil, contextCause(ctx, err)
	}
	return dls, nil
}

// DeleteDeadLetter removes the event eventID parked under key. It fails
// with an error matching evento.ErrNotFound when there is none.
func (x *Executor) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	if err := x.leases.DeleteDeadLetter(ctx, key, eventID); err != nil {
		return contextCause(ctx, err)
	}
	return nil
}

// AcknowledgeTx stores ack as Acknowledge does, in a transaction that fn
// shares: it begins the transaction, runs the fenced acknowledgement in it
// first, which locks the subscription's row until the transaction ends,
// calls fn with a context that carries the transaction, and commits when
// fn returns nil. When the lease is no longer current it fails with an
// error matching evento.ErrLeaseLost without calling fn; when fn fails it
// returns fn's error. Either way it rolls back, and nothing of ack or of
// fn's writes remains. It sets l.Cursor on success only.
//
// The handler reaches the transaction with
//
//	tx, ok := evento.TxFrom[*sql.Tx](ctx)
//
// and writes through it. It must not commit or roll back tx itself, and
// must not write the rows it writes through tx through other connections
// too: they would wait for tx's row locks, which are held until fn
// returns. While fn runs, another worker's takeover of the lease waits
// for the subscription's row (up to innodb_lock_wait_timeout), so keep fn
// short.
func (x *Executor) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(ctx context.Context) error) error {
	if err := checkAck(ack); err != nil {
		return err
	}
	return x.leases.AcknowledgeTx(ctx, l, ack, fn)
}

// DeleteDeadLetterTx deletes the dead letter of key and eventID in a
// transaction, calls fn with a context that carries it (a *sql.Tx, see
// evento.TxFrom) and commits when fn returns nil. It fails with an error
// matching evento.ErrNotFound, having called nothing, when there is none.
func (x *Executor) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(ctx context.Context) error) error {
	return x.leases.DeleteDeadLetterTx(ctx, key, eventID, fn)
}
