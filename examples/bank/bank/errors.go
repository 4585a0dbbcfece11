package bank

import "errors"

// Domain errors. Commands return them wrapped with the details of the
// refused request; match them with errors.Is.
var (
	// ErrAccountFrozen refuses a withdrawal or an outgoing transfer from a
	// frozen account.
	ErrAccountFrozen = errors.New("bank: account is frozen")
	// ErrAccountClosed refuses any change to a closed account, a deposit
	// or an incoming transfer included.
	ErrAccountClosed = errors.New("bank: account is closed")
	// ErrInsufficientFunds refuses a withdrawal or transfer above the
	// balance plus the overdraft limit.
	ErrInsufficientFunds = errors.New("bank: insufficient funds")
	// ErrDailyLimitExceeded refuses a withdrawal or transfer that would take
	// the money sent out today (UTC) above the daily withdrawal limit.
	ErrDailyLimitExceeded = errors.New("bank: daily withdrawal limit exceeded")
	// ErrInvalidAmount refuses an amount that is zero or negative, or a
	// negative balance or limit.
	ErrInvalidAmount = errors.New("bank: invalid amount")
	// ErrNonZeroBalance refuses to close an account that still holds or
	// owes money.
	ErrNonZeroBalance = errors.New("bank: balance is not zero")
	// ErrSameAccount refuses a transfer from an account to itself.
	ErrSameAccount = errors.New("bank: transfer to the same account")
	// ErrCurrencyMismatch refuses a transfer between accounts in different
	// currencies.
	ErrCurrencyMismatch = errors.New("bank: currencies differ")
	// ErrOwnerNotFound refuses to open an account for an owner who was never
	// registered.
	ErrOwnerNotFound = errors.New("bank: owner not found")
	// ErrInvalidName refuses an empty owner name or currency.
	ErrInvalidName = errors.New("bank: invalid name")
)
