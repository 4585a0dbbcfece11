package cursor

import (
	"errors"
	"fmt"
)

// DefaultLimit is the page size used when [Args] names neither First nor Last.
const DefaultLimit = 100

// MaxLimit is the largest page size a store accepts.
const MaxLimit = 10_000

// ErrInvalidArgs is matched by errors that report unusable [Args].
var ErrInvalidArgs = errors.New("cursor: invalid page arguments")

// Args asks for one page. Set First (and optionally After) to page forward in
// global order, or Last (and optionally Before) to page backward. The zero
// value asks for the first DefaultLimit items.
type Args struct {
	// First is the number of items wanted after After.
	First int
	// After is the cursor the forward page starts after; empty = the start.
	After Value
	// Last is the number of items wanted before Before.
	Last int
	// Before is the cursor the backward page ends before; empty = the end.
	Before Value
}

// Forward asks for the first n items after the cursor after.
func Forward(n int, after Value) Args { return Args{First: n, After: after} }

// Backward asks for the last n items before the cursor before.
func Backward(n int, before Value) Args { return Args{Last: n, Before: before} }

// IsBackward reports whether the arguments page backward.
func (a Args) IsBackward() bool { return a.Last > 0 || a.Before != "" }

// Limit returns the page size asked for, after validation.
func (a Args) Limit() int {
	n := a.First
	if a.IsBackward() {
		n = a.Last
	}
	if n == 0 {
		return DefaultLimit
	}
	return n
}

// Validate reports arguments that mix directions or ask for a negative or
// oversized page.
func (a Args) Validate() error {
	switch {
	case a.First < 0 || a.Last < 0:
		return fmt.Errorf("%w: negative page size", ErrInvalidArgs)
	case (a.First > 0 || a.After != "") && (a.Last > 0 || a.Before != ""):
		return fmt.Errorf("%w: First/After and Last/Before cannot be combined", ErrInvalidArgs)
	case a.First > MaxLimit || a.Last > MaxLimit:
		return fmt.Errorf("%w: page size above %d", ErrInvalidArgs, MaxLimit)
	}
	return nil
}

// Edge is one item of a page with the cursor that points at it.
type Edge[T any] struct {
	// Cursor points at Node: a forward page After it starts with the next item.
	Cursor Value
	// Node is the item.
	Node T
}

// PageInfo describes where a page sits in the whole result.
//
// A forward page reports HasNextPage (more items exist after EndCursor) and
// leaves HasPreviousPage false; a backward page reports HasPreviousPage (more
// items exist before StartCursor) and leaves HasNextPage false. This is the
// Relay connection contract, and it lets stores answer both with one query.
type PageInfo struct {
	// HasPreviousPage reports, for a backward page, that items exist before StartCursor.
	HasPreviousPage bool
	// HasNextPage reports, for a forward page, that items exist after EndCursor.
	HasNextPage bool
	// StartCursor is the cursor of the first edge, or empty for an empty page.
	StartCursor Value
	// EndCursor is the cursor of the last edge, or empty for an empty page.
	EndCursor Value
}

// Page is the answer to one read. Edges are always in ascending order,
// whichever direction the page was read in.
type Page[T any] struct {
	// Edges holds the items of the page in ascending order.
	Edges []Edge[T]
	// PageInfo says whether more items exist in the direction of travel.
	PageInfo PageInfo
}

// Nodes returns the page's items without their cursors.
func (p *Page[T]) Nodes() []T {
	out := make([]T, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node
	}
	return out
}

// Build turns the rows a store fetched into a page. Stores fetch one row more
// than [Args.Limit] to learn whether another page exists: for a forward read
// rows are in ascending order, for a backward read in descending order, as the
// store's ORDER BY returned them. Build trims the extra row, restores ascending
// order and fills in the cursors.
func Build[T any](args Args, rows []T, cursorOf func(T) Value) *Page[T] {
	limit := args.Limit()
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	page := &Page[T]{Edges: make([]Edge[T], len(rows))}
	backward := args.IsBackward()
	for i, r := range rows {
		j := i
		if backward {
			j = len(rows) - 1 - i
		}
		page.Edges[j] = Edge[T]{Cursor: cursorOf(r), Node: r}
	}
	if backward {
		page.PageInfo.HasPreviousPage = more
	} else {
		page.PageInfo.HasNextPage = more
	}
	if n := len(page.Edges); n > 0 {
		page.PageInfo.StartCursor = page.Edges[0].Cursor
		page.PageInfo.EndCursor = page.Edges[n-1].Cursor
	}
	return page
}

// Paginate pages through items held in memory. items must be in ascending
// position order and already filtered; positionOf gives each item's position.
// The result is exactly what a store holding the same items returns.
func Paginate[T any](items []T, positionOf func(T) Position, args Args) (*Page[T], error) {
	if err := args.Validate(); err != nil {
		return nil, err
	}
	limit := args.Limit()
	cursorOf := func(t T) Value { return Encode(positionOf(t)) }
	var rows []T
	if args.IsBackward() {
		end := len(items)
		if args.Before != "" {
			before, err := Decode(args.Before)
			if err != nil {
				return nil, err
			}
			end = searchFirst(items, positionOf, before, false)
		}
		for i := end - 1; i >= 0 && len(rows) <= limit; i-- {
			rows = append(rows, items[i])
		}
		return Build(args, rows, cursorOf), nil
	}
	start := 0
	if args.After != "" {
		after, err := Decode(args.After)
		if err != nil {
			return nil, err
		}
		start = searchFirst(items, positionOf, after, true)
	}
	for i := start; i < len(items) && len(rows) <= limit; i++ {
		rows = append(rows, items[i])
	}
	return Build(args, rows, cursorOf), nil
}

// searchFirst returns the index of the first item whose position is after p
// (strict) or not before p (!strict).
func searchFirst[T any](items []T, positionOf func(T) Position, p Position, strict bool) int {
	lo, hi := 0, len(items)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		c := positionOf(items[mid]).Compare(p)
		if c < 0 || (strict && c == 0) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
