package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

func TestReadRejectsMalformedCursors(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "a", 0, 3))
	bad := []cursor.Value{
		"not a cursor!",
		"AQ",                                   // truncated
		cursor.Encode(cursor.Position{Seq: 1}), // from a single-counter store
		cursor.Encode(cursor.Position{Tx: 900, Seq: 1 << 63}),                             // beyond an SQL bigint
		cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Tx: 1, Seq: 1}}}), // a composite store's cursor
		cursor.Value(string(make([]byte, cursor.MaxLen+1))),                               // oversized
	}
	for _, v := range bad {
		for _, args := range []cursor.Args{cursor.Forward(10, v), cursor.Backward(10, v)} {
			for _, filters := range [][]evento.Filter{nil, {{AggregateType: "t", AggregateID: "a"}}} {
				_, err := x.Read(ctx, evento.Query{Filters: filters, Args: args})
				if !errors.Is(err, cursor.ErrInvalid) {
					t.Errorf("cursor %.20q: err = %v, want cursor.ErrInvalid", v, err)
				}
			}
		}
	}
	// The largest transaction id is a valid position: nothing comes after it.
	page, err := x.Read(ctx, evento.Query{Args: cursor.Forward(10, cursor.Encode(cursor.Position{Tx: 1<<64 - 1, Seq: 1}))})
	if err != nil || len(page.Edges) != 0 {
		t.Errorf("read after the largest position: %d events, %v; want none", len(page.Edges), err)
	}
}
