package bank

import (
	"context"
	"time"

	"github.com/eventogo/evento"
)

// Status is the lifecycle state of an account.
type Status string

// Account statuses.
const (
	// StatusOpen accepts every operation.
	StatusOpen Status = "open"
	// StatusFrozen accepts deposits and incoming transfers only.
	StatusFrozen Status = "frozen"
	// StatusClosed accepts nothing.
	StatusClosed Status = "closed"
)

// Account is the state of an account, replayed from its events.
type Account struct {
	// ID is the account's aggregate id.
	ID string
	// OwnerID is the aggregate id of the account's owner.
	OwnerID string
	// Currency is the currency of every amount of the account.
	Currency string
	// Balance is the money held, in minor units; negative when overdrawn.
	Balance int64
	// Status tells whether the account is open, frozen or closed.
	Status Status
	// FreezeReason says why a frozen account was frozen.
	FreezeReason string
	// DailyWithdrawalLimit caps the money that may leave the account per
	// UTC day; zero means no limit.
	DailyWithdrawalLimit int64
	// OverdraftLimit is how far below zero the balance may go.
	OverdraftLimit int64
	// WithdrawnToday is the money that left the account (withdrawals and
	// outgoing transfers) on WithdrawalDay.
	WithdrawnToday int64
	// WithdrawalDay is the UTC date, as 2006-01-02, that WithdrawnToday
	// counts.
	WithdrawalDay string
}

// withdrawnOn returns the money that left the account on the UTC day of t.
func (a *Account) withdrawnOn(t time.Time) int64 {
	if a.WithdrawalDay != day(t) {
		return 0
	}
	return a.WithdrawnToday
}

// debit records money leaving the account at t.
func (a *Account) debit(amount int64, t time.Time) {
	a.WithdrawnToday = a.withdrawnOn(t) + amount
	a.WithdrawalDay = day(t)
	a.Balance -= amount
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// AccountProjection returns a new projection of accounts, in safety mode: an
// account event it does not know fails the load. Each call returns a fresh
// projection, so that callers can configure snapshots on their own.
func AccountProjection() *evento.Projection[Account] {
	return evento.NewProjection(AccountType, accountHandlers(func(a *Account) *Account { return a })...).Safety()
}

// accountHandlers returns the handlers of every account event for a state S
// that holds an Account, so that the same rules build Account and
// AccountWithOwner.
func accountHandlers[S any](account func(*S) *Account) []evento.ProjectionHandler[S] {
	return []evento.ProjectionHandler[S]{
		applyTo(account, func(a *Account, ev evento.Typed[AccountOpened]) {
			*a = Account{
				ID:                   ev.AggregateID,
				OwnerID:              ev.Data.OwnerID,
				Currency:             ev.Data.Currency,
				Balance:              ev.Data.InitialBalance,
				Status:               StatusOpen,
				DailyWithdrawalLimit: ev.Data.DailyWithdrawalLimit,
				OverdraftLimit:       ev.Data.OverdraftLimit,
			}
		}),
		applyTo(account, func(a *Account, ev evento.Typed[MoneyDeposited]) { a.Balance += ev.Data.Amount }),
		applyTo(account, func(a *Account, ev evento.Typed[MoneyWithdrawn]) { a.debit(ev.Data.Amount, ev.Timestamp) }),
		applyTo(account, func(a *Account, ev evento.Typed[MoneyTransferredOut]) { a.debit(ev.Data.Amount, ev.Timestamp) }),
		applyTo(account, func(a *Account, ev evento.Typed[MoneyTransferredIn]) { a.Balance += ev.Data.Amount }),
		applyTo(account, func(a *Account, ev evento.Typed[AccountFrozen]) {
			a.Status, a.FreezeReason = StatusFrozen, ev.Data.Reason
		}),
		applyTo(account, func(a *Account, _ evento.Typed[AccountUnfrozen]) { a.Status, a.FreezeReason = StatusOpen, "" }),
		applyTo(account, func(a *Account, ev evento.Typed[DailyWithdrawalLimitChanged]) {
			a.DailyWithdrawalLimit = ev.Data.Limit
		}),
		applyTo(account, func(a *Account, ev evento.Typed[OverdraftLimitChanged]) { a.OverdraftLimit = ev.Data.Limit }),
		applyTo(account, func(a *Account, _ evento.Typed[AccountClosed]) { a.Status, a.FreezeReason = StatusClosed, "" }),
	}
}

// applyTo adapts a rule on *Account to a projection handler of any state S
// that holds one.
func applyTo[E evento.EventData, S any](part func(*S) *Account, fn func(*Account, evento.Typed[E])) evento.ProjectionHandler[S] {
	return evento.Apply(func(_ context.Context, ev evento.Typed[E], s *S) error {
		fn(part(s), ev)
		return nil
	})
}
