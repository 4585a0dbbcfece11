package bank

import (
	"context"

	"github.com/eventogo/evento"
)

// Owner is the state of an account owner, replayed from its events.
type Owner struct {
	// ID is the owner's aggregate id.
	ID string
	// Name is the owner's current name.
	Name string
	// Email is the owner's email address.
	Email string
}

// OwnerProjection returns a new projection of owners, in safety mode.
func OwnerProjection() *evento.Projection[Owner] {
	return evento.NewProjection(OwnerType, ownerHandlers(func(o *Owner) *Owner { return o })...).Safety()
}

// AccountWithOwner is an account together with its owner, loaded in one
// pass over both aggregates' events.
type AccountWithOwner struct {
	// Account is the account's state.
	Account Account
	// Owner is the state of the account's owner.
	Owner Owner
}

// AccountWithOwnerProjection returns a new projection of an account and its
// owner, in safety mode. Load it with the account's id and an evento.Ref to
// the owner (see Service.AccountWithOwner).
func AccountWithOwnerProjection() *evento.Projection[AccountWithOwner] {
	handlers := accountHandlers(func(s *AccountWithOwner) *Account { return &s.Account })
	handlers = append(handlers, ownerHandlers(func(s *AccountWithOwner) *Owner { return &s.Owner })...)
	return evento.NewProjection(AccountType, handlers...).Safety()
}

// ownerHandlers returns the handlers of every owner event for a state S
// that holds an Owner.
func ownerHandlers[S any](owner func(*S) *Owner) []evento.ProjectionHandler[S] {
	return []evento.ProjectionHandler[S]{
		evento.Apply(func(_ context.Context, ev evento.Typed[OwnerRegistered], s *S) error {
			*owner(s) = Owner{ID: ev.AggregateID, Name: ev.Data.Name, Email: ev.Data.Email}
			return nil
		}),
		evento.Apply(func(_ context.Context, ev evento.Typed[OwnerNameChanged], s *S) error {
			owner(s).Name = ev.Data.Name
			return nil
		}),
	}
}
