package bank_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/examples/bank/bank"
	"github.com/eventogo/evento/sqlite"
)

// Example runs the bank on the embedded SQLite store: two accounts, a
// transfer, a freeze that refuses a withdrawal, and the account loaded
// with its owner.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bank")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	exec, err := sqlite.Open(ctx, filepath.Join(dir, "bank.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	svc := &bank.Service{Store: evento.New(exec)}

	owner, err := svc.RegisterOwner(ctx, "Ada Lovelace", "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	open := func(balance int64) string {
		res, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: owner.AggregateID, Currency: "EUR", InitialBalance: balance})
		if err != nil {
			log.Fatal(err)
		}
		return res.AggregateID
	}
	checking, savings := open(100_00), open(0)

	if _, err := svc.Transfer(ctx, checking, savings, 30_00); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Freeze(ctx, checking, "card lost"); err != nil {
		log.Fatal(err)
	}
	_, err = svc.Withdraw(ctx, checking, 10_00)
	fmt.Println("withdrawal from a frozen account refused:", errors.Is(err, bank.ErrAccountFrozen))

	l, err := svc.AccountWithOwner(ctx, checking)
	if err != nil {
		log.Fatal(err)
	}
	a := l.State.Account
	fmt.Printf("%s's account: %d.%02d %s, %s, version %d\n",
		l.State.Owner.Name, a.Balance/100, a.Balance%100, a.Currency, a.Status, l.Version)
	// Output:
	// withdrawal from a frozen account refused: true
	// Ada Lovelace's account: 70.00 EUR, frozen, version 3
}
