package mysql_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
)

type AccountOpened struct{ Owner string }

func (AccountOpened) AggregateType() string { return "bank/Account" }
func (AccountOpened) EventName() string     { return "AccountOpened" }

// Open needs a running server, so this example is compiled but not run.
func ExampleOpen() {
	ctx := context.Background()
	exec, err := mysql.Open(ctx, "app:secret@tcp(127.0.0.1:3306)/app", mysql.WithTablePrefix("bank_"))
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
}
