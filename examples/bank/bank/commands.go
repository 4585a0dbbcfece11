package bank

import (
	"context"
	"fmt"
	"time"

	"github.com/eventogo/evento"
)

// NewAccount describes an account to open.
type NewAccount struct {
	// OwnerID is the id of a registered owner.
	OwnerID string
	// Currency is the account's currency, e.g. "EUR".
	Currency string
	// InitialBalance is the opening balance; it may not be negative.
	InitialBalance int64
	// DailyWithdrawalLimit caps the money leaving the account per UTC day;
	// zero means no limit.
	DailyWithdrawalLimit int64
	// OverdraftLimit is how far below zero the balance may go.
	OverdraftLimit int64
	// RoutingKey, when set, is the routing key of every event of the
	// account, e.g. a region that its own subscriptions serve.
	RoutingKey string
}

// OpenAccount opens an account with a generated id; the result's
// AggregateID is that id.
func (s *Service) OpenAccount(ctx context.Context, a NewAccount) (evento.Result, error) {
	switch {
	case a.Currency == "":
		return evento.Result{}, fmt.Errorf("bank: open account: %w: empty currency", ErrInvalidName)
	case a.InitialBalance < 0 || a.DailyWithdrawalLimit < 0 || a.OverdraftLimit < 0:
		return evento.Result{}, fmt.Errorf("bank: open account: %w: negative balance or limit", ErrInvalidAmount)
	}
	if a.OwnerID == "" {
		return evento.Result{}, fmt.Errorf("bank: open account: %w: no owner", ErrOwnerNotFound)
	}
	registered, err := evento.HasEvent[OwnerRegistered](ctx, s.Store, a.OwnerID)
	if err != nil {
		return evento.Result{}, fmt.Errorf("bank: open account: %w", err)
	}
	if !registered {
		return evento.Result{}, fmt.Errorf("bank: open account: %w: %s", ErrOwnerNotFound, a.OwnerID)
	}
	b := s.Store.Create()
	if a.RoutingKey != "" {
		b.RoutingKey(a.RoutingKey)
	}
	return b.Event(AccountOpened{
		OwnerID:              a.OwnerID,
		Currency:             a.Currency,
		InitialBalance:       a.InitialBalance,
		DailyWithdrawalLimit: a.DailyWithdrawalLimit,
		OverdraftLimit:       a.OverdraftLimit,
	}).Commit(ctx)
}

// Deposit adds amount to an account that is not closed; a frozen account
// still accepts deposits.
func (s *Service) Deposit(ctx context.Context, id string, amount int64) (evento.Result, error) {
	if amount <= 0 {
		return evento.Result{}, fmt.Errorf("bank: deposit %d to %s: %w", amount, id, ErrInvalidAmount)
	}
	res, err := update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		if a.Status == StatusClosed {
			return nil, ErrAccountClosed
		}
		return one(MoneyDeposited{Amount: amount})
	})
	if err != nil {
		return res, fmt.Errorf("bank: deposit %d to %s: %w", amount, id, err)
	}
	return res, nil
}

// Withdraw takes amount from an open account, within its balance plus
// overdraft and its daily withdrawal limit.
func (s *Service) Withdraw(ctx context.Context, id string, amount int64) (evento.Result, error) {
	if amount <= 0 {
		return evento.Result{}, fmt.Errorf("bank: withdraw %d from %s: %w", amount, id, ErrInvalidAmount)
	}
	res, err := update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		if err := a.checkDebit(amount, time.Now()); err != nil {
			return nil, err
		}
		return one(MoneyWithdrawn{Amount: amount})
	})
	if err != nil {
		return res, fmt.Errorf("bank: withdraw %d from %s: %w", amount, id, err)
	}
	return res, nil
}

// checkDebit reports why amount may not leave the account at now, if it
// may not.
func (a *Account) checkDebit(amount int64, now time.Time) error {
	switch {
	case a.Status == StatusClosed:
		return ErrAccountClosed
	case a.Status == StatusFrozen:
		return ErrAccountFrozen
	case amount > a.Balance+a.OverdraftLimit:
		return fmt.Errorf("%w: balance %d, overdraft %d", ErrInsufficientFunds, a.Balance, a.OverdraftLimit)
	case a.DailyWithdrawalLimit > 0 && a.withdrawnOn(now)+amount > a.DailyWithdrawalLimit:
		return fmt.Errorf("%w: %d already out today, limit %d",
			ErrDailyLimitExceeded, a.withdrawnOn(now), a.DailyWithdrawalLimit)
	}
	return nil
}

// Freeze stops money from leaving an account. Freezing a frozen account
// changes nothing.
func (s *Service) Freeze(ctx context.Context, id, reason string) (evento.Result, error) {
	res, err := update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		switch a.Status {
		case StatusClosed:
			return nil, ErrAccountClosed
		case StatusFrozen:
			return nil, nil
		}
		return one(AccountFrozen{Reason: reason})
	})
	if err != nil {
		return res, fmt.Errorf("bank: freeze %s: %w", id, err)
	}
	return res, nil
}

// Unfreeze lifts a freeze. Unfreezing an account that is not frozen
// changes nothing.
func (s *Service) Unfreeze(ctx context.Context, id string) (evento.Result, error) {
	res, err := update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		switch a.Status {
		case StatusClosed:
			return nil, ErrAccountClosed
		case StatusOpen:
			return nil, nil
		}
		return one(AccountUnfrozen{})
	})
	if err != nil {
		return res, fmt.Errorf("bank: unfreeze %s: %w", id, err)
	}
	return res, nil
}

// ChangeDailyWithdrawalLimit sets the daily withdrawal limit of an account
// that is not closed; zero means no limit.
func (s *Service) ChangeDailyWithdrawalLimit(ctx context.Context, id string, limit int64) (evento.Result, error) {
	res, err := s.changeLimit(ctx, id, limit, func(a *Account) (int64, evento.EventData) {
		return a.DailyWithdrawalLimit, DailyWithdrawalLimitChanged{Limit: limit}
	})
	if err != nil {
		return res, fmt.Errorf("bank: change daily withdrawal limit of %s: %w", id, err)
	}
	return res, nil
}

// ChangeOverdraftLimit sets the overdraft limit of an account that is not
// closed. Lowering it below the current overdraft is allowed: it only stops
// further withdrawals.
func (s *Service) ChangeOverdraftLimit(ctx context.Context, id string, limit int64) (evento.Result, error) {
	res, err := s.changeLimit(ctx, id, limit, func(a *Account) (int64, evento.EventData) {
		return a.OverdraftLimit, OverdraftLimitChanged{Limit: limit}
	})
	if err != nil {
		return res, fmt.Errorf("bank: change overdraft limit of %s: %w", id, err)
	}
	return res, nil
}

// changeLimit commits the event change returns unless the limit stays the
// same.
func (s *Service) changeLimit(ctx context.Context, id string, limit int64,
	change func(*Account) (current int64, e evento.EventData)) (evento.Result, error) {
	if limit < 0 {
		return evento.Result{}, ErrInvalidAmount
	}
	return update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		if a.Status == StatusClosed {
			return nil, ErrAccountClosed
		}
		current, e := change(a)
		if current == limit {
			return nil, nil
		}
		return one(e)
	})
}

// Close ends an account whose balance is zero. Closing a closed account
// changes nothing.
func (s *Service) Close(ctx context.Context, id string) (evento.Result, error) {
	res, err := update(ctx, s.Store, accounts, id, func(a *Account) ([]evento.EventData, error) {
		switch {
		case a.Status == StatusClosed:
			return nil, nil
		case a.Balance != 0:
			return nil, fmt.Errorf("%w: %d", ErrNonZeroBalance, a.Balance)
		}
		return one(AccountClosed{})
	})
	if err != nil {
		return res, fmt.Errorf("bank: close %s: %w", id, err)
	}
	return res, nil
}
