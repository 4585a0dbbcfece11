package evtest

import (
	"slices"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/examples/bank/bank"
)

var bankScenarios = []scenario{
	{"Lifecycle", testBankLifecycle},
	{"Limits", testBankLimits},
	{"Refusals", testBankRefusals},
	{"AccountWithOwner", testBankAccountWithOwner},
}

// bankFixture is a service with one registered owner.
type bankFixture struct {
	svc   *bank.Service
	owner string
}

func newBank(t *testing.T, h *harness) *bankFixture {
	st, _ := h.open(t)
	svc := &bank.Service{Store: st}
	owner := must(svc.RegisterOwner(t.Context(), "Ada Lovelace", "ada@example.com"))(t)
	return &bankFixture{svc: svc, owner: owner.AggregateID}
}

func (b *bankFixture) open(t *testing.T, balance int64) string {
	t.Helper()
	res := must(b.svc.OpenAccount(t.Context(), bank.NewAccount{OwnerID: b.owner, Currency: "EUR", InitialBalance: balance}))(t)
	if res.Version != 1 || res.AggregateID == "" {
		t.Fatalf("OpenAccount = %+v, want version 1 and an id", res)
	}
	return res.AggregateID
}

// expect runs a command and checks the version it leaves the account at.
func expect(t *testing.T, what string, version int64, res evento.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Version != version {
		t.Fatalf("%s: version %d, want %d", what, res.Version, version)
	}
}

// account loads an account and checks its version, balance and status.
func (b *bankFixture) account(t *testing.T, id string, version, balance int64, status bank.Status) bank.Account {
	t.Helper()
	l := must(b.svc.Account(t.Context(), id))(t)
	if l.Version != version || l.State.Balance != balance || l.State.Status != status {
		t.Fatalf("account %s: version %d, balance %d, status %q; want %d, %d, %q",
			id, l.Version, l.State.Balance, l.State.Status, version, balance, status)
	}
	return l.State
}

func testBankLifecycle(t *testing.T, h *harness) {
	ctx := t.Context()
	b := newBank(t, h)
	svc := b.svc
	a, c := b.open(t, 1000), b.open(t, 0)

	res, err := svc.Deposit(ctx, a, 500)
	expect(t, "deposit", 2, res, err)
	res, err = svc.Withdraw(ctx, a, 200)
	expect(t, "withdraw", 3, res, err)
	transfer := must(svc.Transfer(ctx, a, c, 300))(t)
	b.account(t, a, 4, 1000, bank.StatusOpen)
	b.account(t, c, 2, 300, bank.StatusOpen)

	res, err = svc.Freeze(ctx, a, "card reported stolen")
	expect(t, "freeze", 5, res, err)
	if got := b.account(t, a, 5, 1000, bank.StatusFrozen); got.FreezeReason != "card reported stolen" {
		t.Errorf("freeze reason = %q", got.FreezeReason)
	}
	_, err = svc.Withdraw(ctx, a, 10)
	wantErr(t, "withdraw from a frozen account", err, bank.ErrAccountFrozen)
	_, err = svc.Transfer(ctx, a, c, 10)
	wantErr(t, "transfer out of a frozen account", err, bank.ErrAccountFrozen)
	res, err = svc.Deposit(ctx, a, 50)
	expect(t, "deposit to a frozen account", 6, res, err)
	res, err = svc.Freeze(ctx, a, "again")
	expect(t, "freeze a frozen account (no change)", 6, res, err)
	res, err = svc.Unfreeze(ctx, a)
	expect(t, "unfreeze", 7, res, err)
	res, err = svc.Withdraw(ctx, a, 1050)
	expect(t, "withdraw everything", 8, res, err)

	_, err = svc.Close(ctx, c)
	wantErr(t, "close with money on it", err, bank.ErrNonZeroBalance)
	must(svc.Transfer(ctx, c, a, 300))(t)
	res, err = svc.Close(ctx, c)
	expect(t, "close", 4, res, err)
	_, err = svc.Deposit(ctx, c, 1)
	wantErr(t, "deposit to a closed account", err, bank.ErrAccountClosed)
	_, err = svc.Transfer(ctx, a, c, 1)
	wantErr(t, "transfer to a closed account", err, bank.ErrAccountClosed)
	_, err = svc.Withdraw(ctx, c, 1)
	wantErr(t, "withdraw from a closed account", err, bank.ErrAccountClosed)
	res, err = svc.Close(ctx, c)
	expect(t, "close a closed account (no change)", 4, res, err)

	b.account(t, a, 9, 300, bank.StatusOpen)
	b.account(t, c, 4, 0, bank.StatusClosed)

	// The refused commands wrote nothing: the logs hold exactly the
	// accepted events, in order, with dense versions.
	wantNames := map[string][]string{
		a: {"AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "MoneyTransferredOut", "AccountFrozen",
			"MoneyDeposited", "AccountUnfrozen", "MoneyWithdrawn", "MoneyTransferredIn"},
		c: {"AccountOpened", "MoneyTransferredIn", "MoneyTransferredOut", "AccountClosed"},
	}
	for id, want := range wantNames {
		events := readAggregate(t, svc.Store, bank.AccountType, id)
		checkVersions(t, events, len(want))
		var names []string
		for _, e := range events {
			names = append(names, e.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("account %s events = %v, want %v", id, names, want)
		}
	}

	// Both halves of the first transfer carry its id.
	var out bank.MoneyTransferredOut
	var in bank.MoneyTransferredIn
	noErr(t, svc.Store.Decode(readAggregate(t, svc.Store, bank.AccountType, a)[3], &out))
	noErr(t, svc.Store.Decode(readAggregate(t, svc.Store, bank.AccountType, c)[1], &in))
	if out.TransferID != transfer || in.TransferID != transfer || out.ToAccount != c || in.FromAccount != a ||
		out.Amount != 300 || in.Amount != 300 {
		t.Errorf("transfer %s: out %+v, in %+v", transfer, out, in)
	}
}

func testBankLimits(t *testing.T, h *harness) {
	ctx := t.Context()
	b := newBank(t, h)
	svc := b.svc
	a := b.open(t, 1000)
	start := time.Now().UTC()

	res, err := svc.ChangeDailyWithdrawalLimit(ctx, a, 100)
	expect(t, "set daily limit", 2, res, err)
	res, err = svc.ChangeDailyWithdrawalLimit(ctx, a, 100)
	expect(t, "set the same daily limit (no change)", 2, res, err)
	res, err = svc.Withdraw(ctx, a, 60)
	expect(t, "withdraw within the daily limit", 3, res, err)
	_, err = svc.Withdraw(ctx, a, 50)
	if err == nil && time.Now().UTC().Format(time.DateOnly) != start.Format(time.DateOnly) {
		t.Skip("UTC midnight passed during the daily limit check")
	}
	wantErr(t, "withdraw above the daily limit", err, bank.ErrDailyLimitExceeded)
	res, err = svc.Withdraw(ctx, a, 40)
	expect(t, "withdraw up to the daily limit", 4, res, err)
	if got := b.account(t, a, 4, 900, bank.StatusOpen); got.DailyWithdrawalLimit != 100 || got.WithdrawnToday != 100 {
		t.Errorf("limit %d, withdrawn today %d; want 100, 100", got.DailyWithdrawalLimit, got.WithdrawnToday)
	}

	res, err = svc.ChangeDailyWithdrawalLimit(ctx, a, 0)
	expect(t, "lift daily limit", 5, res, err)
	_, err = svc.Withdraw(ctx, a, 901)
	wantErr(t, "withdraw beyond the balance", err, bank.ErrInsufficientFunds)
	res, err = svc.ChangeOverdraftLimit(ctx, a, 500)
	expect(t, "set overdraft", 6, res, err)
	res, err = svc.Withdraw(ctx, a, 1400)
	expect(t, "withdraw into the overdraft", 7, res, err)
	_, err = svc.Withdraw(ctx, a, 1)
	wantErr(t, "withdraw beyond the overdraft", err, bank.ErrInsufficientFunds)
	res, err = svc.ChangeOverdraftLimit(ctx, a, 0)
	expect(t, "remove overdraft", 8, res, err)
	_, err = svc.ChangeOverdraftLimit(ctx, a, -1)
	wantErr(t, "negative overdraft", err, bank.ErrInvalidAmount)

	got := b.account(t, a, 8, -500, bank.StatusOpen)
	if got.OverdraftLimit != 0 || got.DailyWithdrawalLimit != 0 {
		t.Errorf("limits = %d, %d; want 0, 0", got.DailyWithdrawalLimit, got.OverdraftLimit)
	}
	res, err = svc.Deposit(ctx, a, 500)
	expect(t, "repay", 9, res, err)
	res, err = svc.Close(ctx, a)
	expect(t, "close", 10, res, err)
	_, err = svc.ChangeOverdraftLimit(ctx, a, 10)
	wantErr(t, "change a closed account's limit", err, bank.ErrAccountClosed)
	b.account(t, a, 10, 0, bank.StatusClosed)
}

func testBankRefusals(t *testing.T, h *harness) {
	ctx := t.Context()
	b := newBank(t, h)
	svc := b.svc
	a, c := b.open(t, 100), b.open(t, 0)
	usd := must(svc.OpenAccount(ctx, bank.NewAccount{OwnerID: b.owner, Currency: "USD"}))(t).AggregateID

	for _, tc := range []struct {
		what   string
		err    error
		target error
	}{
		{"deposit 0", second(svc.Deposit(ctx, a, 0)), bank.ErrInvalidAmount},
		{"withdraw -1", second(svc.Withdraw(ctx, a, -1)), bank.ErrInvalidAmount},
		{"transfer 0", second(svc.Transfer(ctx, a, c, 0)), bank.ErrInvalidAmount},
		{"transfer to itself", second(svc.Transfer(ctx, a, a, 1)), bank.ErrSameAccount},
		{"transfer across currencies", second(svc.Transfer(ctx, a, usd, 1)), bank.ErrCurrencyMismatch},
		{"transfer beyond the balance", second(svc.Transfer(ctx, a, c, 101)), bank.ErrInsufficientFunds},
		{"transfer to an unknown account", second(svc.Transfer(ctx, a, "no-such-account", 1)), evento.ErrNotFound},
		{"deposit to an unknown account", second(svc.Deposit(ctx, "no-such-account", 1)), evento.ErrNotFound},
		{"open for an unknown owner", second(svc.OpenAccount(ctx, bank.NewAccount{OwnerID: "nobody", Currency: "EUR"})), bank.ErrOwnerNotFound},
		{"open without owner", second(svc.OpenAccount(ctx, bank.NewAccount{Currency: "EUR"})), bank.ErrOwnerNotFound},
		{"open with a negative balance", second(svc.OpenAccount(ctx, bank.NewAccount{OwnerID: b.owner, Currency: "EUR", InitialBalance: -1})), bank.ErrInvalidAmount},
		{"register without name", second(svc.RegisterOwner(ctx, "", "x@example.com")), bank.ErrInvalidName},
	} {
		wantErr(t, tc.what, tc.err, tc.target)
	}
	// None of the refusals wrote anything.
	b.account(t, a, 1, 100, bank.StatusOpen)
	b.account(t, c, 1, 0, bank.StatusOpen)
	b.account(t, usd, 1, 0, bank.StatusOpen)
	if n := len(readAll(t, svc.Store, evento.Query{})); n != 4 {
		t.Errorf("store holds %d events after the refusals, want 4", n)
	}
}

func second[T any](_ T, err error) error { return err }

func testBankAccountWithOwner(t *testing.T, h *harness) {
	ctx := t.Context()
	b := newBank(t, h)
	svc := b.svc
	a := b.open(t, 10)
	other := must(svc.RegisterOwner(ctx, "Someone Else", "else@example.com"))(t).AggregateID
	must(svc.Deposit(ctx, a, 5))(t)
	res, err := svc.RenameOwner(ctx, b.owner, "Ada King")
	expect(t, "rename owner", 2, res, err)
	res, err = svc.RenameOwner(ctx, b.owner, "Ada King")
	expect(t, "rename to the same name (no change)", 2, res, err)
	must(svc.RenameOwner(ctx, other, "Not Ada"))(t)

	l := must(svc.AccountWithOwner(ctx, a))(t)
	want := bank.Owner{ID: b.owner, Name: "Ada King", Email: "ada@example.com"}
	if l.State.Owner != want || l.State.Account.Balance != 15 || l.State.Account.OwnerID != b.owner {
		t.Errorf("AccountWithOwner = %+v, want owner %+v and balance 15", l.State, want)
	}
	if l.Version != 2 {
		t.Errorf("AccountWithOwner version = %d, want the account's version 2", l.Version)
	}
	if l.Replayed != 4 {
		t.Errorf("AccountWithOwner replayed %d events, want 4 (2 of the account, 2 of its owner)", l.Replayed)
	}
	owner := must(svc.Owner(ctx, b.owner))(t)
	if owner.State != want || owner.Version != 2 {
		t.Errorf("Owner = %+v at %d, want %+v at 2", owner.State, owner.Version, want)
	}
	_, err = svc.AccountWithOwner(ctx, "no-such-account")
	wantErr(t, "AccountWithOwner of an unknown account", err, evento.ErrNotFound)
}
