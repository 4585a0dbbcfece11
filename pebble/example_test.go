package pebble_test

import (
	"context"
	"fmt"
	"log"
	"os"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
)

type AccountOpened struct{ Owner string }

func (AccountOpened) AggregateType() string { return "bank/Account" }
func (AccountOpened) EventName() string     { return "AccountOpened" }

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "evento")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	exec, err := pebble.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	ctx := context.Background()
	store := evento.New(exec)
	res, err := store.CreateWithID("acc-1").Event(AccountOpened{Owner: "ada"}).Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.AggregateID, "at version", res.Version, "position", res.Position)

	page, err := store.Read(ctx, evento.Query{Filters: []evento.Filter{{AggregateType: "bank/Account"}}})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page.Nodes() {
		fmt.Println(e.AggregateID, e.Name, e.Version)
	}
	// Output:
	// acc-1 at version 1 position 1
	// acc-1 AccountOpened 1
}

// An application that already keeps data in Pebble runs the executor on
// its own database, under a key prefix of its choice.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "evento")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := pebbledb.Open(dir, &pebbledb.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // after the executor's Close, which leaves db open

	exec, err := pebble.New(db, pebble.WithKeyPrefix("ledger"))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	res, err := evento.New(exec).Create().Event(AccountOpened{Owner: "grace"}).Commit(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", res.Version)
	// Output:
	// version 1
}
