// Command bank runs the bank domain of package bank on an evento store and
// prints what it does: owners registered, accounts opened, deposits,
// withdrawals and transfers, commands the domain refuses, a read model built
// by a subscription, and the final balances.
//
//	go run ./examples/bank                          # SQLite file in a new temp directory
//	go run ./examples/bank -store sqlite:./bank.db  # SQLite file of your choice
//	go run ./examples/bank -store pebble:./bankdir  # Pebble (embedded LSM) directory
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/examples/bank/bank"
	"github.com/eventogo/evento/stores"
)

func main() {
	storeFlag := flag.String("store", "", "where the events live: sqlite:PATH, pebble:DIR, or any spec of package stores (default: a SQLite file in a new temp directory)")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	exec, where, cleanup, err := open(ctx, *storeFlag)
	if err != nil {
		log.Fatalf("bank: %v", err)
	}
	defer cleanup()
	fmt.Println("store:", where)

	if err := run(ctx, evento.New(exec)); err != nil {
		log.Fatalf("bank: %v", err)
	}
}

// open returns the executor the -store flag names (any spec package stores
// reads), or a SQLite file in a new temp directory.
func open(ctx context.Context, spec string) (evento.Executor, string, func(), error) {
	if spec == "" {
		dir, err := os.MkdirTemp("", "evento-bank-")
		if err != nil {
			return nil, "", nil, err
		}
		spec = "sqlite:" + filepath.Join(dir, "bank.db")
	}
	exec, closeStore, err := stores.Open(ctx, spec)
	if err != nil {
		return nil, "", nil, err
	}
	return exec, stores.Redact(spec), func() { closeStore() }, nil
}

func run(ctx context.Context, store *evento.Store) error {
	svc := &bank.Service{Store: store}

	// A read model kept by a subscription: balance per account, updated
	// from the events rather than by loading aggregates.
	model := newBalances()
	sub := model.subscription()

	alice, err := svc.RegisterOwner(ctx, "Alice", "alice@example.com")
	if err != nil {
		return err
	}
	bob, err := svc.RegisterOwner(ctx, "Bob", "bob@example.com")
	if err != nil {
		return err
	}
	fmt.Println("registered owners Alice and Bob")

	aliceAcc, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: alice.AggregateID, Currency: "EUR",
		InitialBalance: 1000, DailyWithdrawalLimit: 500, OverdraftLimit: 100, RoutingKey: "eu"})
	if err != nil {
		return err
	}
	bobAcc, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: bob.AggregateID, Currency: "EUR",
		InitialBalance: 200, RoutingKey: "eu"})
	if err != nil {
		return err
	}
	savings, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: bob.AggregateID, Currency: "EUR"})
	if err != nil {
		return err
	}
	fmt.Println("opened accounts: Alice 1000 EUR, Bob 200 EUR, Bob's savings 0 EUR")

	steps := []struct {
		what string
		do   func() error
	}{
		{"deposit 250 to Alice", func() error { _, err := svc.Deposit(ctx, aliceAcc.AggregateID, 250); return err }},
		{"withdraw 100 from Bob", func() error { _, err := svc.Withdraw(ctx, bobAcc.AggregateID, 100); return err }},
		{"transfer 300 from Alice to Bob", func() error {
			_, err := svc.Transfer(ctx, aliceAcc.AggregateID, bobAcc.AggregateID, 300)
			return err
		}},
		{"change Alice's overdraft limit to 200", func() error {
			_, err := svc.ChangeOverdraftLimit(ctx, aliceAcc.AggregateID, 200)
			return err
		}},
		{"change Alice's daily withdrawal limit to 1000", func() error {
			_, err := svc.ChangeDailyWithdrawalLimit(ctx, aliceAcc.AggregateID, 1000)
			return err
		}},
		{"freeze Bob's account", func() error { _, err := svc.Freeze(ctx, bobAcc.AggregateID, "suspicious activity"); return err }},
		{"withdraw 50 from Bob's frozen account", func() error { _, err := svc.Withdraw(ctx, bobAcc.AggregateID, 50); return err }},
		{"unfreeze Bob's account", func() error { _, err := svc.Unfreeze(ctx, bobAcc.AggregateID); return err }},
		{"withdraw 50 from Bob", func() error { _, err := svc.Withdraw(ctx, bobAcc.AggregateID, 50); return err }},
		{"close Bob's savings", func() error { _, err := svc.Close(ctx, savings.AggregateID); return err }},
		{"deposit 10 to Bob's closed savings", func() error { _, err := svc.Deposit(ctx, savings.AggregateID, 10); return err }},
		{"withdraw 5000 from Alice", func() error { _, err := svc.Withdraw(ctx, aliceAcc.AggregateID, 5000); return err }},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case err == nil:
			fmt.Println("ok      ", s.what)
		case errors.Is(err, bank.ErrAccountFrozen), errors.Is(err, bank.ErrAccountClosed),
			errors.Is(err, bank.ErrInsufficientFunds), errors.Is(err, bank.ErrDailyLimitExceeded):
			fmt.Println("refused ", s.what+":", err)
		default:
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}

	if err := sub.Execute(ctx, store); err != nil {
		return err
	}
	status, err := store.Executor().SubscriptionStatus(ctx, sub.Key())
	if err != nil {
		return err
	}
	fmt.Printf("read model %q (lag %v at its last acknowledgement):\n", sub.Key(), status.Lag.Round(time.Microsecond))
	names := map[string]string{aliceAcc.AggregateID: "Alice", bobAcc.AggregateID: "Bob", savings.AggregateID: "Bob's savings"}
	model.print(names)

	fmt.Println("final balances, loaded from the events:")
	for _, id := range []string{aliceAcc.AggregateID, bobAcc.AggregateID, savings.AggregateID} {
		acc, err := svc.AccountWithOwner(ctx, id)
		if err != nil {
			return err
		}
		a := acc.State.Account
		fmt.Printf("  %-14s owner %-5s %6d %s  %-6s version %d\n", names[id], acc.State.Owner.Name, a.Balance, a.Currency, a.Status, acc.Version)
	}
	return nil
}

// balances is a read model: the balance of each account, kept up to date by
// a subscription.
type balances struct {
	mu sync.Mutex
	m  map[string]int64
}

func newBalances() *balances { return &balances{m: make(map[string]int64)} }

func (b *balances) add(id string, amount int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[id] += amount
	return nil
}

func (b *balances) subscription() *evento.Subscription {
	return evento.NewSubscription("bank-balances",
		evento.On(func(_ context.Context, ev evento.Typed[bank.AccountOpened]) error {
			return b.add(ev.AggregateID, ev.Data.InitialBalance)
		}),
		evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyDeposited]) error {
			return b.add(ev.AggregateID, ev.Data.Amount)
		}),
		evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyWithdrawn]) error {
			return b.add(ev.AggregateID, -ev.Data.Amount)
		}),
		evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyTransferredOut]) error {
			return b.add(ev.AggregateID, -ev.Data.Amount)
		}),
		evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyTransferredIn]) error {
			return b.add(ev.AggregateID, ev.Data.Amount)
		}),
	)
}

func (b *balances) print(names map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.m))
	for id := range b.m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return names[ids[i]] < names[ids[j]] })
	for _, id := range ids {
		fmt.Printf("  %-14s %6d\n", names[id], b.m[id])
	}
}
