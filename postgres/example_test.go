package postgres_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/postgres"
)

type AccountOpened struct{ Owner string }

func (AccountOpened) AggregateType() string { return "bank/Account" }
func (AccountOpened) EventName() string     { return "AccountOpened" }

// Open needs a running server, so this example is compiled but not run.
func ExampleOpen() {
	ctx := context.Background()
	exec, err := postgres.Open(ctx, "postgres://app@127.0.0.1:5432/app", postgres.WithSchema("bank"))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	store := evento.New(exec)
	res, err := store.CreateWithID("acc-1").Event(AccountOpened{Owner: "ada"}).Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.AggregateID, "at version", res.Version)
}

// HorizonLag shows whether a long transaction is holding subscribers back.
func ExampleExecutor_HorizonLag() {
	ctx := context.Background()
	exec, err := postgres.Open(ctx, "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	lag, err := exec.HorizonLag(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if lag.Held > 0 {
		log.Printf("%d events held back by server process %d, open for %v", lag.Held, lag.PID, lag.Oldest)
	}
}
