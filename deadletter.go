package evento

import (
	"context"
	"time"
)

// DeadLetter is an event a subscription parked: its handler still failed
// after the subscription's retries, and the subscription was configured to
// set such events aside and go on (see [Subscription.Park]).
type DeadLetter struct {
	// Key is the subscription key.
	Key string
	// EventID is the parked event's id; a key parks an event at most once.
	EventID string
	// Event is the whole event, encoded by [Event.MarshalBinary].
	Event []byte
	// Error is the handler's last error.
	Error string
	// ParkedAt is when the event was parked; the executor sets it.
	ParkedAt time.Time
}

// DeadLetterStore is implemented by executors that keep parked events.
// Parking itself rides on [LeaseStore.Acknowledge] (see [Ack.Park]), so that
// an event is parked in the same write that moves the cursor past it.
type DeadLetterStore interface {
	// DeadLetters returns up to limit events parked under key, oldest
	// first (by ParkedAt, then EventID).
	DeadLetters(ctx context.Context, key string, limit int) ([]*DeadLetter, error)
	// DeleteDeadLetter removes one parked event. It fails with an error
	// matching ErrNotFound when key has no such event.
	DeleteDeadLetter(ctx context.Context, key, eventID string) error
}

// TxAcknowledger is implemented by executors whose acknowledgements can
// share a database transaction with a handler's own writes, which makes a
// handler that writes a read model in the same database effectively-once
// (see [Subscription.Transactional]).
type TxAcknowledger interface {
	// AcknowledgeTx begins a transaction, stores ack in it fenced by l's
	// epoch, calls fn with a context that carries the transaction (see
	// [TxFrom]), and commits when fn returns nil. When fn fails, or the
	// lease is no longer current (ErrLeaseLost), it rolls back and nothing
	// of fn's writes or of ack remains. The fenced write comes first, so the
	// lease's row stays locked while fn runs and no successor can take the
	// lease half-way. On success it sets l.Cursor.
	AcknowledgeTx(ctx context.Context, l *Lease, ack Ack, fn func(ctx context.Context) error) error
}

type txKey struct{}

// ContextWithTx returns a context carrying tx, for an executor to hand its
// transaction to a handler.
func ContextWithTx(ctx context.Context, tx any) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// TxFrom returns the transaction a transactional subscription runs the
// handler in: a *sql.Tx on the sqlite and mysql executors, a pgx.Tx on the
// postgres executor. It reports false outside such a handler, or when the
// transaction is not a T.
func TxFrom[T any](ctx context.Context) (T, bool) {
	tx, ok := ctx.Value(txKey{}).(T)
	return tx, ok
}
