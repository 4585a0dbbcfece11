package bank

import (
	"context"
	"fmt"

	"github.com/eventogo/evento"
)

// RegisterOwner registers an owner with a generated id; the result's
// AggregateID is that id.
func (s *Service) RegisterOwner(ctx context.Context, name, email string) (evento.Result, error) {
	if name == "" {
		return evento.Result{}, fmt.Errorf("bank: register owner: %w: empty name", ErrInvalidName)
	}
	return s.Store.Create().Event(OwnerRegistered{Name: name, Email: email}).Commit(ctx)
}

// RenameOwner changes an owner's name. Giving the current name changes
// nothing.
func (s *Service) RenameOwner(ctx context.Context, id, name string) (evento.Result, error) {
	if name == "" {
		return evento.Result{}, fmt.Errorf("bank: rename owner %s: %w: empty name", id, ErrInvalidName)
	}
	res, err := update(ctx, s.Store, owners, id, func(o *Owner) ([]evento.EventData, error) {
		if o.Name == name {
			return nil, nil
		}
		return one(OwnerNameChanged{Name: name})
	})
	if err != nil {
		return res, fmt.Errorf("bank: rename owner %s: %w", id, err)
	}
	return res, nil
}
