package bank

import (
	"context"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

// Transfer moves amount from one account to another in the same currency
// and returns the transfer's id.
//
// A transfer is two commits, not one: MoneyTransferredOut on the source,
// then MoneyTransferredIn on the destination, each with its own optimistic
// concurrency check and retries. It is NOT atomic across the two
// aggregates. If the second commit fails (the destination was closed in
// between, the process died, the store was unreachable), the source stays
// debited and the error says so; the MoneyTransferredOut event, which names
// the destination and the transfer id, is the record to reconcile from. An
// application that must never leave a transfer half done credits the
// destination from a subscription on MoneyTransferredOut, which retries
// until it succeeds and refunds the source when it cannot.
func (s *Service) Transfer(ctx context.Context, from, to string, amount int64) (string, error) {
	switch {
	case amount <= 0:
		return "", fmt.Errorf("bank: transfer %d from %s to %s: %w", amount, from, to, ErrInvalidAmount)
	case from == to:
		return "", fmt.Errorf("bank: transfer %d from %s to %s: %w", amount, from, to, ErrSameAccount)
	}
	dest, err := s.Account(ctx, to)
	if err != nil {
		return "", fmt.Errorf("bank: transfer %d from %s to %s: %w", amount, from, to, err)
	}
	if dest.State.Status == StatusClosed {
		return "", fmt.Errorf("bank: transfer %d from %s to %s: destination: %w", amount, from, to, ErrAccountClosed)
	}

	id := ulid.Make().String()
	_, err = update(ctx, s.Store, accounts, from, func(a *Account) ([]evento.EventData, error) {
		if a.Currency != dest.State.Currency {
			return nil, fmt.Errorf("%w: %s to %s", ErrCurrencyMismatch, a.Currency, dest.State.Currency)
		}
		if err := a.checkDebit(amount, time.Now()); err != nil {
			return nil, err
		}
		return one(MoneyTransferredOut{ToAccount: to, Amount: amount, TransferID: id})
	})
	if err != nil {
		return "", fmt.Errorf("bank: transfer %d from %s to %s: %w", amount, from, to, err)
	}

	_, err = update(ctx, s.Store, accounts, to, func(a *Account) ([]evento.EventData, error) {
		if a.Status == StatusClosed {
			return nil, ErrAccountClosed
		}
		return one(MoneyTransferredIn{FromAccount: from, Amount: amount, TransferID: id})
	})
	if err != nil {
		return id, fmt.Errorf("bank: transfer %s: %s was debited %d but crediting %s failed: %w", id, from, amount, to, err)
	}
	return id, nil
}
