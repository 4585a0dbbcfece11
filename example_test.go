package evento_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/sqlite"
)

// accountEvent gives every account event its aggregate type.
type accountEvent struct{}

func (accountEvent) AggregateType() string { return "example/Account" }

type AccountOpened struct {
	accountEvent
	Owner string
}

func (AccountOpened) EventName() string { return "AccountOpened" }

type MoneyDeposited struct {
	accountEvent
	Amount int64
}

func (MoneyDeposited) EventName() string { return "MoneyDeposited" }

// AccountView is the state a projection builds from the events.
type AccountView struct {
	Owner   string
	Balance int64
}

var accountView = evento.NewProjection("example/Account",
	evento.Apply(func(_ context.Context, ev evento.Typed[AccountOpened], s *AccountView) error {
		s.Owner = ev.Data.Owner
		return nil
	}),
	evento.Apply(func(_ context.Context, ev evento.Typed[MoneyDeposited], s *AccountView) error {
		s.Balance += ev.Data.Amount
		return nil
	}),
)

// openStore opens a SQLite store in a temporary directory.
func openStore(ctx context.Context) (*evento.Store, func()) {
	dir, err := os.MkdirTemp("", "evento-example")
	if err != nil {
		log.Fatal(err)
	}
	exec, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		log.Fatal(err)
	}
	return evento.New(exec), func() { exec.Close(); os.RemoveAll(dir) }
}

// Append events: create an aggregate, then add to it with the version seen.
func Example() {
	ctx := context.Background()
	store, done := openStore(ctx)
	defer done()

	res, err := store.Create().
		Event(AccountOpened{Owner: "Alice"}).
		RoutingKey("eu").
		Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res, err = store.Aggregate(res.AggregateID, res.Version).
		Event(MoneyDeposited{Amount: 100}).
		Event(MoneyDeposited{Amount: 50}).
		Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version:", res.Version)

	// A writer that still believes the version is 1 loses.
	_, err = store.Aggregate(res.AggregateID, 1).Event(MoneyDeposited{Amount: 1}).Commit(ctx)
	fmt.Println("stale writer:", errors.Is(err, evento.ErrVersionConflict))
	// Output:
	// version: 3
	// stale writer: true
}

// Load the current state of an aggregate by replaying its events.
func ExampleProjection_Load() {
	ctx := context.Background()
	store, done := openStore(ctx)
	defer done()

	res, _ := store.Create().Event(AccountOpened{Owner: "Bob"}).Event(MoneyDeposited{Amount: 70}).Commit(ctx)

	acc, err := accountView.Load(ctx, store, res.AggregateID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s has %d at version %d\n", acc.State.Owner, acc.State.Balance, acc.Version)

	_, err = accountView.Load(ctx, store, "no-such-account")
	fmt.Println("missing:", errors.Is(err, evento.ErrNotFound))
	// Output:
	// Bob has 70 at version 2
	// missing: true
}

// Process every deposit once, in order, resuming where the last run stopped.
func ExampleSubscription_Execute() {
	ctx := context.Background()
	store, done := openStore(ctx)
	defer done()

	var total int64
	deposits := evento.NewSubscription("deposit-totals",
		evento.On(func(_ context.Context, ev evento.Typed[MoneyDeposited]) error {
			total += ev.Data.Amount
			return nil
		}),
	).ChunkSize(100)

	res, _ := store.Create().Event(AccountOpened{Owner: "Carol"}).Event(MoneyDeposited{Amount: 5}).Commit(ctx)
	if err := deposits.Execute(ctx, store); err != nil {
		log.Fatal(err)
	}
	store.Aggregate(res.AggregateID, res.Version).Event(MoneyDeposited{Amount: 7}).Commit(ctx)
	if err := deposits.Execute(ctx, store); err != nil { // sees only the new deposit
		log.Fatal(err)
	}
	fmt.Println("total:", total)
	// Output:
	// total: 12
}

// Page through the log backward, newest first page, with opaque cursors.
func ExampleStore_Read() {
	ctx := context.Background()
	store, done := openStore(ctx)
	defer done()

	for _, owner := range []string{"Dan", "Eve", "Fay"} {
		store.Create().Event(AccountOpened{Owner: owner}).Commit(ctx)
	}
	q := evento.Query{
		Filters: []evento.Filter{{AggregateType: "example/Account", Name: "AccountOpened"}},
		Args:    cursor.Backward(2, ""),
	}
	for {
		page, err := store.Read(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		var owners []string
		for _, edge := range page.Edges {
			var ev AccountOpened
			if err := store.Decode(edge.Node, &ev); err != nil {
				log.Fatal(err)
			}
			owners = append(owners, ev.Owner)
		}
		fmt.Println(strings.Join(owners, " "))
		if !page.PageInfo.HasPreviousPage {
			break
		}
		q.Args = cursor.Backward(2, page.PageInfo.StartCursor)
	}
	// Output:
	// Eve Fay
	// Dan
}
