package evtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/examples/bank/bank"
)

var loadScenarios = []scenario{
	{"SeveralAggregates", testLoadSeveralAggregates},
	{"PagesThroughAllEvents", testLoadPagesThroughAllEvents},
	{"VersionAbove65535", testLoadVersionAbove65535},
	{"NotFound", testLoadNotFound},
	{"SafetyAndSkip", testLoadSafetyAndSkip},
	{"HandlerErrorAndData", testLoadHandlerErrorAndData},
}

// testLoadSeveralAggregates loads an account and its owner into one state,
// their events interleaved, and nothing of other aggregates.
func testLoadSeveralAggregates(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	owner := must(st.Create().Event(bank.OwnerRegistered{Name: "Ada", Email: "ada@example.com"}).Commit(ctx))(t)
	acct := must(st.Create().Event(bank.AccountOpened{OwnerID: owner.AggregateID, Currency: "EUR", InitialBalance: 5}).Commit(ctx))(t)
	noise := must(st.Create().Event(bank.OwnerRegistered{Name: "Noise"}).Commit(ctx))(t)
	owner = must(st.Aggregate(owner.AggregateID, owner.Version).Event(bank.OwnerNameChanged{Name: "Ada K"}).Commit(ctx))(t)
	acct = must(st.Aggregate(acct.AggregateID, acct.Version).Event(bank.MoneyDeposited{Amount: 7}).Commit(ctx))(t)
	must(st.Aggregate(noise.AggregateID, noise.Version).Event(bank.OwnerNameChanged{Name: "Louder"}).Commit(ctx))(t)
	must(st.Create().Event(bank.AccountOpened{OwnerID: noise.AggregateID, Currency: "EUR", InitialBalance: 99}).Commit(ctx))(t)

	// The last handler run decides the final name, so interleaving matters:
	// a projection that applied the owner's events after the account's, or
	// the noise owner's, would show another name.
	var order []string
	p := evento.NewProjection(bank.AccountType,
		evento.Apply(func(_ context.Context, ev evento.Typed[bank.AccountOpened], s *bank.AccountWithOwner) error {
			order = append(order, "opened")
			s.Account.Balance = ev.Data.InitialBalance
			return nil
		}),
		evento.Apply(func(_ context.Context, ev evento.Typed[bank.MoneyDeposited], s *bank.AccountWithOwner) error {
			order = append(order, "deposited")
			s.Account.Balance += ev.Data.Amount
			return nil
		}),
		evento.Apply(func(_ context.Context, ev evento.Typed[bank.OwnerRegistered], s *bank.AccountWithOwner) error {
			order = append(order, "registered")
			s.Owner.Name = ev.Data.Name
			return nil
		}),
		evento.Apply(func(_ context.Context, ev evento.Typed[bank.OwnerNameChanged], s *bank.AccountWithOwner) error {
			order = append(order, "renamed")
			s.Owner.Name = ev.Data.Name
			return nil
		}),
	).Safety()
	l := must(p.Load(ctx, st, acct.AggregateID, evento.Ref{AggregateType: bank.OwnerType, AggregateID: owner.AggregateID}))(t)
	if want := []string{"registered", "opened", "renamed", "deposited"}; !slices.Equal(order, want) {
		t.Errorf("handlers ran in order %v, want global order %v", order, want)
	}
	if l.State.Owner.Name != "Ada K" || l.State.Account.Balance != 12 || l.Version != 2 || l.Replayed != 4 {
		t.Errorf("load = name %q, balance %d, version %d, replayed %d; want Ada K, 12, 2 (the account's), 4",
			l.State.Owner.Name, l.State.Account.Balance, l.Version, l.Replayed)
	}
	if want := cursorOf(t, readAggregate(t, st, bank.AccountType, acct.AggregateID)[1]); l.Cursor != want {
		t.Errorf("load cursor = %q, want the cursor of the last event %q", l.Cursor, want)
	}

	full := must(bank.AccountWithOwnerProjection().Load(ctx, st, acct.AggregateID,
		evento.Ref{AggregateType: bank.OwnerType, AggregateID: owner.AggregateID}))(t)
	if full.State.Owner.Name != "Ada K" || full.State.Account.Balance != 12 || full.State.Account.OwnerID != owner.AggregateID {
		t.Errorf("bank.AccountWithOwnerProjection = %+v", full.State)
	}
}

// testLoadPagesThroughAllEvents loads an aggregate of 2,500 events, more
// than two of the projection's 1,000-event pages.
func testLoadPagesThroughAllEvents(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	const total, perCommit = 2500, 500
	b := st.Create().Event(bank.AccountOpened{OwnerID: "o", Currency: "EUR"})
	var version, want int64
	var id string
	for amount := int64(1); amount < total; amount++ {
		b.Event(bank.MoneyDeposited{Amount: amount})
		want += amount
		if (amount+1)%perCommit == 0 {
			res := must(b.Commit(ctx))(t)
			id, version = res.AggregateID, res.Version
			b = st.Aggregate(id, version)
		}
	}
	if version != total {
		t.Fatalf("appended up to version %d, want %d", version, total)
	}
	l := must(bank.AccountProjection().Load(ctx, st, id))(t)
	if l.Version != total || l.Replayed != total || l.State.Balance != want {
		t.Errorf("load = version %d, replayed %d, balance %d; want %d, %d, %d",
			l.Version, l.Replayed, l.State.Balance, total, total, want)
	}
}

// testLoadVersionAbove65535 grows one aggregate past 16-bit versions in
// commits of MaxCommitEvents events, and commits and loads beyond it.
func testLoadVersionAbove65535(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	const target = 1<<16 + 1
	id := "big-counter"
	var version int64
	for version < target {
		n := min(evento.MaxCommitEvents, target-int(version))
		version = increments(t, st, id, version, n).Version
	}
	res := must(st.Aggregate(id, version).Event(incremented{By: 1}).Commit(ctx))(t)
	if res.Version != target+1 {
		t.Fatalf("version after the last commit = %d, want %d", res.Version, target+1)
	}
	_, err := st.Aggregate(id, target).Event(incremented{By: 1}).Commit(ctx)
	wantErr(t, "commit expecting a stale version above 65,535", err, evento.ErrVersionConflict)

	page := must(st.Read(ctx, evento.Query{
		Filters: []evento.Filter{{AggregateType: counterType, AggregateID: id}},
		Args:    cursor.Backward(3, ""),
	}))(t)
	for i, e := range page.Edges {
		if want := int64(target - 1 + i); e.Node.Version != want {
			t.Errorf("last events: edge %d has version %d, want %d", i, e.Node.Version, want)
		}
	}
	l := must(counterProjection().Load(ctx, st, id))(t)
	if l.Version != target+1 || l.State.Total != target+1 || l.Replayed != target+1 {
		t.Errorf("load = version %d, total %d, replayed %d; want %d each", l.Version, l.State.Total, l.Replayed, target+1)
	}
}

func testLoadNotFound(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	owner := must(st.Create().Event(bank.OwnerRegistered{Name: "Ada"}).Commit(ctx))(t)
	must(st.Create().Event(bank.AccountOpened{OwnerID: owner.AggregateID, Currency: "EUR"}).Commit(ctx))(t)

	_, err := bank.AccountProjection().Load(ctx, st, "no-such-account")
	wantErr(t, "load of an aggregate with no events", err, evento.ErrNotFound)
	// The owner's id is an account id of no account: another type's events
	// do not make it exist.
	_, err = bank.AccountProjection().Load(ctx, st, owner.AggregateID)
	wantErr(t, "load of an id that exists only under another type", err, evento.ErrNotFound)
	// Related aggregates with events do not make the main one exist.
	_, err = bank.AccountWithOwnerProjection().Load(ctx, st, "no-such-account",
		evento.Ref{AggregateType: bank.OwnerType, AggregateID: owner.AggregateID})
	wantErr(t, "load of a missing account with an existing owner", err, evento.ErrNotFound)
	_, err = bank.AccountProjection().Load(ctx, st, "")
	wantErr(t, "load with an empty id", err, evento.ErrInvalidArgument)
}

// testLoadSafetyAndSkip checks that safety mode refuses an event no handler
// covers, that Skip covers it, and that without safety it is ignored.
func testLoadSafetyAndSkip(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := must(st.Create().Event(bank.AccountOpened{OwnerID: "o", Currency: "EUR", InitialBalance: 10}).
		Event(bank.MoneyDeposited{Amount: 5}).Commit(ctx))(t)
	openedOnly := func() *evento.Projection[bank.Account] {
		return evento.NewProjection(bank.AccountType,
			evento.Apply(func(_ context.Context, ev evento.Typed[bank.AccountOpened], a *bank.Account) error {
				a.Balance = ev.Data.InitialBalance
				return nil
			}))
	}
	_, err := openedOnly().Safety().Load(ctx, st, res.AggregateID)
	wantErr(t, "safety mode with an unhandled event", err, evento.ErrUnhandledEvent)

	for name, p := range map[string]*evento.Projection[bank.Account]{
		"Skip in safety mode": openedOnly().Safety().Skip(bank.MoneyDeposited{}),
		"no safety mode":      openedOnly(),
	} {
		l, err := p.Load(ctx, st, res.AggregateID)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if l.State.Balance != 10 || l.Version != 2 || l.Replayed != 2 {
			t.Errorf("%s: balance %d, version %d, replayed %d; want 10 (deposit ignored), 2, 2",
				name, l.State.Balance, l.Version, l.Replayed)
		}
	}
}

// testLoadHandlerErrorAndData checks that a handler's error fails the load
// and that handlers see the data put in the load's context.
func testLoadHandlerErrorAndData(t *testing.T, h *harness) {
	ctx := t.Context()
	st, _ := h.open(t)
	res := increments(t, st, "c", 0, 3)
	errBoom := errors.New("boom")
	p := evento.NewProjection(counterType,
		evento.Apply(func(ctx context.Context, ev evento.Typed[incremented], c *counter) error {
			limit, ok := evento.DataFrom[int](ctx)
			if !ok {
				return errors.New("no data in the handler's context")
			}
			if ev.Version > int64(limit) {
				return errBoom
			}
			c.Total += ev.Data.By
			return nil
		}))
	l, err := p.Load(evento.WithData(ctx, 10), st, res.AggregateID)
	if err != nil || l.State.Total != 3 {
		t.Fatalf("load with data = %+v, %v; want total 3", l, err)
	}
	_, err = p.Load(evento.WithData(ctx, 2), st, res.AggregateID)
	wantErr(t, "load with a failing handler", err, errBoom)
}
