package bank

// Aggregate types of the bank domain.
const (
	// AccountType is the aggregate type of accounts.
	AccountType = "bank/Account"
	// OwnerType is the aggregate type of account owners.
	OwnerType = "bank/Owner"
)

// accountEvent gives every account event its aggregate type.
type accountEvent struct{}

func (accountEvent) AggregateType() string { return AccountType }

// ownerEvent gives every owner event its aggregate type.
type ownerEvent struct{}

func (ownerEvent) AggregateType() string { return OwnerType }

// AccountOpened starts an account. Amounts are in the currency's minor unit
// (cents). A limit of zero means no limit for the daily withdrawal limit and
// no overdraft for the overdraft limit.
type AccountOpened struct {
	accountEvent
	OwnerID              string
	Currency             string
	InitialBalance       int64
	DailyWithdrawalLimit int64
	OverdraftLimit       int64
}

// EventName implements evento.EventData.
func (AccountOpened) EventName() string { return "AccountOpened" }

// MoneyDeposited adds Amount to the balance.
type MoneyDeposited struct {
	accountEvent
	Amount int64
}

// EventName implements evento.EventData.
func (MoneyDeposited) EventName() string { return "MoneyDeposited" }

// MoneyWithdrawn takes Amount from the balance.
type MoneyWithdrawn struct {
	accountEvent
	Amount int64
}

// EventName implements evento.EventData.
func (MoneyWithdrawn) EventName() string { return "MoneyWithdrawn" }

// MoneyTransferredOut takes Amount from the balance, as the first half of
// transfer TransferID to account ToAccount.
type MoneyTransferredOut struct {
	accountEvent
	ToAccount  string
	Amount     int64
	TransferID string
}

// EventName implements evento.EventData.
func (MoneyTransferredOut) EventName() string { return "MoneyTransferredOut" }

// MoneyTransferredIn adds Amount to the balance, as the second half of
// transfer TransferID from account FromAccount.
type MoneyTransferredIn struct {
	accountEvent
	FromAccount string
	Amount      int64
	TransferID  string
}

// EventName implements evento.EventData.
func (MoneyTransferredIn) EventName() string { return "MoneyTransferredIn" }

// AccountFrozen stops money from leaving the account.
type AccountFrozen struct {
	accountEvent
	Reason string
}

// EventName implements evento.EventData.
func (AccountFrozen) EventName() string { return "AccountFrozen" }

// AccountUnfrozen lifts a freeze.
type AccountUnfrozen struct{ accountEvent }

// EventName implements evento.EventData.
func (AccountUnfrozen) EventName() string { return "AccountUnfrozen" }

// DailyWithdrawalLimitChanged sets the daily withdrawal limit.
type DailyWithdrawalLimitChanged struct {
	accountEvent
	Limit int64
}

// EventName implements evento.EventData.
func (DailyWithdrawalLimitChanged) EventName() string { return "DailyWithdrawalLimitChanged" }

// OverdraftLimitChanged sets how far below zero the balance may go.
type OverdraftLimitChanged struct {
	accountEvent
	Limit int64
}

// EventName implements evento.EventData.
func (OverdraftLimitChanged) EventName() string { return "OverdraftLimitChanged" }

// AccountClosed ends the account; nothing changes it afterwards.
type AccountClosed struct{ accountEvent }

// EventName implements evento.EventData.
func (AccountClosed) EventName() string { return "AccountClosed" }

// OwnerRegistered starts an owner.
type OwnerRegistered struct {
	ownerEvent
	Name  string
	Email string
}

// EventName implements evento.EventData.
func (OwnerRegistered) EventName() string { return "OwnerRegistered" }

// OwnerNameChanged renames an owner.
type OwnerNameChanged struct {
	ownerEvent
	Name string
}

// EventName implements evento.EventData.
func (OwnerNameChanged) EventName() string { return "OwnerNameChanged" }
