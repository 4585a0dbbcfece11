package sqlite

import (
	"context"

	"github.com/eventogo/evento"
)

// Dead letters live in the dead_letters table, one row per subscription key
// and event id, with the encoded event, the handler's error and the time
// it was parked (unix microseconds). They are written by Acknowledge, in
// the transaction that moves the cursor past them.

var (
	_ evento.DeadLetterStore = (*Executor)(nil)
	_ evento.TxAcknowledger  = (*Executor)(nil)
)

// DeadLetters returns up to limit (1 to 10000) events parked under key,
// oldest first: by parked time, then event id. Another limit fails with an
// error matching evento.ErrInvalidArgument.
func (x *Executor) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	return x.leases.DeadLetters(ctx, key, limit)
}

// DeleteDeadLetter removes the event eventID parked under key. It fails
// with an error matching evento.ErrNotFound when there is none.
func (x *Executor) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	return x.leases.DeleteDeadLetter(ctx, key, eventID)
}

// AcknowledgeTx stores ack as Acknowledge does, in a transaction that fn
// shares: it begins the transaction, runs the fenced acknowledgement in it
// first, calls fn with a context that carries the transaction, and commits
// when fn returns nil. When the lease is no longer current it fails with
// an error matching evento.ErrLeaseLost without calling fn; when fn fails
// it returns fn's error. Either way it rolls back, and nothing of ack or of
// fn's writes remains. It sets l.Cursor on success only.
//
// The handler reaches the transaction with
//
//	tx, ok := evento.TxFrom[*sql.Tx](ctx)
//
// and writes through it. It must not commit or roll back tx itself, and
// must not write through other connections to the same database, this
// executor's Append included: SQLite admits one writer at a time, and the
// transaction holds the database's write lock, and this executor's write
// turn, until AcknowledgeTx returns. Another write from this process waits
// for the turn (a write through this executor from inside fn, on fn's
// context, fails at once with an error matching evento.ErrInvalidArgument
// rather than wait for itself); a writer in another process waits in SQLite's busy handler, up to
// busy_timeout, so keep fn short.
//
// The transaction is a plain (deferred) BEGIN whose first statement is the
// fenced UPDATE: database/sql gives no way to start a *sql.Tx with BEGIN
// IMMEDIATE on a connection whose DSN does not ask for it. A deferred
// transaction that writes before it reads takes the write lock at that
// first statement, retrying in the busy handler while another process
// holds it, exactly as BEGIN IMMEDIATE does; only a transaction that read
// first could fail with SQLITE_BUSY at once when it tries to write. Within
// this process the write turn is taken before BEGIN, so the transaction
// never waits for an append of its own process, nor one for it.
func (x *Executor) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(ctx context.Context) error) error {
	return x.leases.AcknowledgeTx(ctx, l, ack, x.holdingWriter(fn))
}

// DeleteDeadLetterTx deletes the dead letter of key and eventID in a
// transaction, calls fn with a context that carries it (a *sql.Tx, see
// evento.TxFrom) and commits when fn returns nil. It fails with an error
// matching evento.ErrNotFound, having called nothing, when there is none.
// The transaction holds the write lock as AcknowledgeTx's does.
func (x *Executor) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(ctx context.Context) error) error {
	return x.leases.DeleteDeadLetterTx(ctx, key, eventID, x.holdingWriter(fn))
}

// holdingWriter marks the context fn runs on as holding x's write lock;
// a nil fn stays nil.
func (x *Executor) holdingWriter(fn func(context.Context) error) func(context.Context) error {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context) error { return fn(context.WithValue(ctx, writerHeld{}, x)) }
}
