package evento

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento/cursor"
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
	// Error is the handler's last error, followed by the event's
	// aggregate, name and version in parentheses.
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
	// DeleteDeadLetterTx begins a transaction, deletes the dead letter of
	// key and eventID in it (an error matching ErrNotFound, and nothing
	// else done, when there is none), calls fn with a context that carries
	// the transaction, and commits when fn returns nil; otherwise it rolls
	// back. [Subscription.Replay] uses it for a transactional subscription.
	DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(ctx context.Context) error) error
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

// innermost returns the executor that keeps leases and acknowledgements
// for exec: the write store of an Rw, the first member of a Group.
func innermost(exec Executor) Executor {
	for {
		switch x := exec.(type) {
		case *Rw:
			exec = x.write
		case *Group:
			exec = x.members[0]
		default:
			return exec
		}
	}
}

// DeadLetters lists the write store's parked events.
func (r *Rw) DeadLetters(ctx context.Context, key string, limit int) ([]*DeadLetter, error) {
	return deadLetters(ctx, r.write, key, limit)
}

// DeleteDeadLetter deletes a parked event from the write store.
func (r *Rw) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	return deleteDeadLetter(ctx, r.write, key, eventID)
}

// AcknowledgeTx acknowledges in a transaction of the write store.
func (r *Rw) AcknowledgeTx(ctx context.Context, l *Lease, ack Ack, fn func(context.Context) error) error {
	return acknowledgeTx(ctx, r.write, l, ack, fn)
}

// DeleteDeadLetterTx deletes a dead letter in a transaction of the write
// store.
func (r *Rw) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(context.Context) error) error {
	return deleteDeadLetterTx(ctx, r.write, key, eventID, fn)
}

// DeadLetters lists the first member's parked events.
func (g *Group) DeadLetters(ctx context.Context, key string, limit int) ([]*DeadLetter, error) {
	return deadLetters(ctx, g.members[0], key, limit)
}

// DeleteDeadLetter deletes a parked event from the first member.
func (g *Group) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	return deleteDeadLetter(ctx, g.members[0], key, eventID)
}

// AcknowledgeTx acknowledges in a transaction of the first member.
func (g *Group) AcknowledgeTx(ctx context.Context, l *Lease, ack Ack, fn func(context.Context) error) error {
	return acknowledgeTx(ctx, g.members[0], l, ack, fn)
}

// DeleteDeadLetterTx deletes a dead letter in a transaction of the first
// member.
func (g *Group) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(context.Context) error) error {
	return deleteDeadLetterTx(ctx, g.members[0], key, eventID, fn)
}

func deleteDeadLetterTx(ctx context.Context, exec Executor, key, eventID string, fn func(context.Context) error) error {
	t, ok := exec.(TxAcknowledger)
	if !ok {
		return fmt.Errorf("%w: %T has no transactions", ErrUnsupported, exec)
	}
	return t.DeleteDeadLetterTx(ctx, key, eventID, fn)
}

func deadLetters(ctx context.Context, exec Executor, key string, limit int) ([]*DeadLetter, error) {
	d, ok := exec.(DeadLetterStore)
	if !ok {
		return nil, fmt.Errorf("%w: %T keeps no dead letters", ErrUnsupported, exec)
	}
	return d.DeadLetters(ctx, key, limit)
}

func deleteDeadLetter(ctx context.Context, exec Executor, key, eventID string) error {
	d, ok := exec.(DeadLetterStore)
	if !ok {
		return fmt.Errorf("%w: %T keeps no dead letters", ErrUnsupported, exec)
	}
	return d.DeleteDeadLetter(ctx, key, eventID)
}

func acknowledgeTx(ctx context.Context, exec Executor, l *Lease, ack Ack, fn func(context.Context) error) error {
	t, ok := exec.(TxAcknowledger)
	if !ok {
		return fmt.Errorf("%w: %T has no transactions", ErrUnsupported, exec)
	}
	return t.AcknowledgeTx(ctx, l, ack, fn)
}

// ParkedEvent is a decoded dead letter.
type ParkedEvent struct {
	// Event is the parked event.
	*Event
	// Error is the handler's last error when the event was parked,
	// followed by the event's aggregate, name and version in parentheses.
	Error string
	// ParkedAt is when it was parked.
	ParkedAt time.Time
}

// ParkedEvents returns up to limit (1..10,000) events that subscription key
// parked, oldest first. It fails with ErrUnsupported when the store keeps
// no dead letters.
func ParkedEvents(ctx context.Context, st *Store, key string, limit int) ([]*ParkedEvent, error) {
	if err := checkName("subscription key", key); err != nil {
		return nil, err
	}
	letters, err := deadLetters(ctx, innermost(st.exec), key, limit)
	if err != nil {
		return nil, fmt.Errorf("evento: parked events of %s: %w", key, err)
	}
	out := make([]*ParkedEvent, len(letters))
	for i, dl := range letters {
		e := new(Event)
		if err := e.UnmarshalBinary(dl.Event); err != nil {
			return nil, fmt.Errorf("evento: parked event %s of %s: %w", dl.EventID, key, err)
		}
		out[i] = &ParkedEvent{Event: e, Error: dl.Error, ParkedAt: dl.ParkedAt}
	}
	return out, nil
}

// Replay runs the subscription's handlers again on its parked events,
// oldest first, with its retries, and removes each event whose handler now
// succeeds. Events that still fail stay parked. It returns how many events
// it removed, and the failures joined (each a *HandlerError).
//
// Replay does not take the subscription's lease: it may run while a worker
// processes new events, and a parked event is by nature handled out of
// order. Fix the handler (or the data it depends on) first.
func (s *Subscription) Replay(ctx context.Context, st *Store) (int, error) {
	if err := s.check(st.exec); err != nil {
		return 0, err
	}
	store := innermost(st.exec)
	r := s.newRun(st)
	// Page by what is left: removed events drop out, and failed ones are
	// remembered so that the next page skips them.
	var (
		replayed int
		failures []error
		failed   = make(map[string]bool)
	)
	for {
		// A store lists at most maxParkedCount at a time, so Replay gives
		// up on the rest once that many have failed in one call.
		limit := min(len(failed)+cursor.MaxLimit, maxParkedCount)
		letters, err := deadLetters(ctx, store, s.key, limit)
		if err != nil {
			return replayed, errors.Join(append(failures, fmt.Errorf("evento: replay %s: %w", s.key, err))...)
		}
		progress := false
		for _, dl := range letters {
			if failed[dl.EventID] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return replayed, errors.Join(append(failures, err)...)
			}
			progress = true
			e := new(Event)
			if err := e.UnmarshalBinary(dl.Event); err != nil {
				failed[dl.EventID] = true
				failures = append(failures, fmt.Errorf("evento: replay %s: parked event %s: %w", s.key, dl.EventID, err))
				continue
			}
			err := r.replayOne(ctx, store, dl.EventID, e)
			var he *HandlerError
			switch {
			case errors.As(err, &he):
				failed[dl.EventID] = true
				failures = append(failures, err)
				continue
			case errors.Is(err, ErrNotFound):
				continue // replayed meanwhile by someone else
			case err != nil:
				return replayed, errors.Join(append(failures, fmt.Errorf("evento: replay %s: %w", s.key, err))...)
			}
			replayed++
		}
		if !progress || len(letters) < limit {
			return replayed, errors.Join(failures...)
		}
	}
}

// replayOne runs the handler for a parked event with the subscription's
// retries, and removes the dead letter once it succeeds: for a
// transactional subscription in the transaction the handler writes in, so
// that its writes and the removal commit together. It returns a
// *HandlerError when the handler still fails, and an error matching
// ErrNotFound when the dead letter is gone.
func (r *run) replayOne(ctx context.Context, store Executor, eventID string, e *Event) error {
	fn, ok, err := r.sub.d.lookup(e)
	if err != nil {
		return &HandlerError{Key: r.sub.key, Event: e, Err: err}
	}
	try := func(ctx context.Context) error { return handlerCall(ctx, r.st, e, fn) }
	switch {
	case !ok:
		try = func(context.Context) error { return nil }
	case r.sub.transactional:
		try = func(ctx context.Context) error {
			t, ok := store.(TxAcknowledger)
			if !ok {
				return fmt.Errorf("%w: %T has no transactions", ErrUnsupported, store)
			}
			return t.DeleteDeadLetterTx(ctx, r.sub.key, eventID, func(txCtx context.Context) error {
				return handlerCall(txCtx, r.st, e, fn)
			})
		}
	}
	hctx, op := r.st.tel.startHandle(ctx, r.sub.key, e)
	err = r.attempts(hctx, ctx, e, try, &op)
	op.end(err)
	switch {
	case errors.Is(err, errInterrupted):
		return ctx.Err()
	case err != nil || r.sub.transactional && ok:
		return err
	}
	return deleteDeadLetter(ctx, store, r.sub.key, eventID)
}
