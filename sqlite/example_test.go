package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
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

	ctx := context.Background()
	exec, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

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
