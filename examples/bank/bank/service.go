package bank

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/eventogo/evento"
)

// maxAttempts bounds how often a command reloads the state and decides
// again after another writer changed the aggregate first.
const maxAttempts = 10

// Projections the service loads with. They are configured once and shared:
// Load is safe for concurrent use.
var (
	accounts          = AccountProjection()
	owners            = OwnerProjection()
	accountsWithOwner = AccountWithOwnerProjection()
)

// Service runs the bank's commands and queries on an evento store. It is
// safe for concurrent use.
type Service struct {
	// Store is where the bank's events live.
	Store *evento.Store
}

// Account loads an account. It fails with an error matching
// evento.ErrNotFound when the account does not exist.
func (s *Service) Account(ctx context.Context, id string) (*evento.Loaded[Account], error) {
	return accounts.Load(ctx, s.Store, id)
}

// Owner loads an owner. It fails with an error matching evento.ErrNotFound
// when the owner does not exist.
func (s *Service) Owner(ctx context.Context, id string) (*evento.Loaded[Owner], error) {
	return owners.Load(ctx, s.Store, id)
}

// AccountWithOwner loads an account together with its owner. The returned
// version is the account's.
func (s *Service) AccountWithOwner(ctx context.Context, accountID string) (*evento.Loaded[AccountWithOwner], error) {
	account, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return accountsWithOwner.Load(ctx, s.Store, accountID,
		evento.Ref{AggregateType: OwnerType, AggregateID: account.State.OwnerID})
}

// update is the shape of every command on an existing aggregate: load the
// state, let decide check the rules and name the events, and commit them
// expecting the loaded version. A version conflict means another writer
// changed the aggregate in between, so the state is reloaded and decide runs
// again, at most maxAttempts times, after a short random pause that keeps
// contending writers from colliding in lockstep. When decide returns no events the
// aggregate is left as it is and the result carries its current version.
func update[S any](ctx context.Context, st *evento.Store, p *evento.Projection[S], id string,
	decide func(*S) ([]evento.EventData, error)) (evento.Result, error) {
	for attempt := 1; ; attempt++ {
		loaded, err := p.Load(ctx, st, id)
		if err != nil {
			return evento.Result{}, err
		}
		events, err := decide(&loaded.State)
		if err != nil {
			return evento.Result{}, err
		}
		if len(events) == 0 {
			return evento.Result{AggregateID: id, Version: loaded.Version}, nil
		}
		b := st.Aggregate(id, loaded.Version)
		for _, e := range events {
			b.Event(e)
		}
		res, err := b.Commit(ctx)
		if !errors.Is(err, evento.ErrVersionConflict) || attempt == maxAttempts {
			return res, err
		}
		pause := time.NewTimer(rand.N(time.Duration(attempt) * time.Millisecond))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			return evento.Result{}, ctx.Err()
		}
	}
}

// one is the decision that commits a single event.
func one(e evento.EventData) ([]evento.EventData, error) { return []evento.EventData{e}, nil }
