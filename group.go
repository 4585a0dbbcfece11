package evento

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eventogo/evento/cursor"
)

// maxGroupMembers bounds the members of a Group, and so the size of its
// cursors.
const maxGroupMembers = 16

// Group is an executor that reads from several stores as one log and writes
// to the first of them: appends, snapshots, leases and acknowledgements go
// to member 0.
//
// A read asks every member for its matching events and merges them by
// timestamp (ties go to the lower member index), keeping each member's own
// order. A Group cursor holds, per member, the position of the last event
// consumed from it, and which member the cursor's own event came from.
// Paging after a cursor reads each member after its position; paging before
// it reads each member up to and including its position, except for the
// cursor's own event. So paging resumes every member exactly where it
// stopped: a forward or backward walk sees
// each member's events once, in that member's order. When timestamps within
// a member disagree with its order (clocks of concurrent writers), the
// interleaving of members can differ between a forward and a backward walk;
// no event is lost or repeated either way.
//
// An event read through a Group keeps the Position it has in its member
// store; use the edge cursors, not Event.Cursor, to page through a Group.
// Members must be single stores (or Rw pairs), not Groups.
type Group struct {
	members []Executor
}

var _ Executor = (*Group)(nil)

// NewGroup returns a group over members; writes go to members[0].
func NewGroup(members ...Executor) (*Group, error) {
	if len(members) == 0 || len(members) > maxGroupMembers {
		return nil, fmt.Errorf("%w: a group needs 1 to %d members, got %d", ErrInvalidArgument, maxGroupMembers, len(members))
	}
	for i, m := range members {
		if m == nil {
			return nil, fmt.Errorf("%w: group member %d is nil", ErrInvalidArgument, i)
		}
		if _, ok := m.(*Group); ok {
			return nil, fmt.Errorf("%w: group member %d is a group", ErrInvalidArgument, i)
		}
	}
	return &Group{members: members}, nil
}

// Append appends to the first member.
func (g *Group) Append(ctx context.Context, c *Commit) error { return g.members[0].Append(ctx, c) }

// groupEdge is one member event during a merge.
type groupEdge struct {
	member int
	event  *Event
}

// before orders merged events: by timestamp, then by member index.
func (a groupEdge) before(b groupEdge) bool {
	if c := a.event.Timestamp.Compare(b.event.Timestamp); c != 0 {
		return c < 0
	}
	return a.member < b.member
}

// Read merges one page from every member.
func (g *Group) Read(ctx context.Context, q Query) (*cursor.Page[*Event], error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	n := len(g.members)
	// One less than the largest page, so that members can be asked for one
	// event more than the page holds (see readBackward).
	limit := min(q.Args.Limit(), cursor.MaxLimit-1)
	if q.Args.IsBackward() {
		return g.readBackward(ctx, q, n, limit)
	}
	start, err := cursor.DecodeVector(q.Args.After, n)
	if err != nil {
		return nil, err
	}
	pages, err := g.readMembers(ctx, q, func(i int) cursor.Args {
		if p := start.Positions[i]; !p.IsZero() {
			return cursor.Forward(limit, cursor.Encode(p))
		}
		return cursor.Forward(limit, "")
	})
	if err != nil {
		return nil, err
	}
	// Merge ascending: repeatedly take the earliest head.
	heads := make([]int, n)
	vec := slices.Clone(start.Positions)
	page := &cursor.Page[*Event]{}
	for len(page.Edges) < limit {
		best := -1
		for i, p := range pages {
			if heads[i] < len(p.Edges) && (best < 0 || (groupEdge{i, p.Edges[heads[i]].Node}).before(groupEdge{best, pages[best].Edges[heads[best]].Node})) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		e := pages[best].Edges[heads[best]].Node
		heads[best]++
		vec[best] = e.Position
		page.Edges = append(page.Edges, cursor.Edge[*Event]{Cursor: cursor.EncodeVector(cursor.Vector{Positions: vec, Head: best}), Node: e})
	}
	for i, p := range pages {
		if heads[i] < len(p.Edges) || p.PageInfo.HasNextPage {
			page.PageInfo.HasNextPage = true
		}
	}
	fillEnds(page)
	return page, nil
}

// readBackward reads the last limit events before the cursor. Each member is
// asked for limit+1 events, so that every member that has events before the
// page still has one left over after the merge; that event's position is
// where the member stands at the page's start.
func (g *Group) readBackward(ctx context.Context, q Query, n, limit int) (*cursor.Page[*Event], error) {
	end, err := cursor.DecodeVector(q.Args.Before, n)
	if err != nil {
		return nil, err
	}
	fromEnd := q.Args.Before == ""
	pages, err := g.readMembers(ctx, q, func(i int) cursor.Args {
		p := end.Positions[i]
		switch {
		case fromEnd:
			return cursor.Backward(limit+1, "")
		case p.IsZero():
			return cursor.Args{} // nothing of member i comes before the cursor
		case i == end.Head:
			return cursor.Backward(limit+1, cursor.Encode(p)) // the cursor's own event is excluded
		}
		return cursor.Backward(limit+1, cursor.Encode(p.Next())) // p itself is included
	})
	if err != nil {
		return nil, err
	}
	// Merge descending: repeatedly take the latest tail.
	tails := make([]int, n)
	for i, p := range pages {
		tails[i] = len(p.Edges)
	}
	taken := make([]groupEdge, 0, limit)
	for len(taken) < limit {
		best := -1
		for i, p := range pages {
			if tails[i] > 0 && (best < 0 || (groupEdge{best, pages[best].Edges[tails[best]-1].Node}).before(groupEdge{i, p.Edges[tails[i]-1].Node})) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		tails[best]--
		taken = append(taken, groupEdge{best, pages[best].Edges[tails[best]].Node})
	}
	page := &cursor.Page[*Event]{Edges: make([]cursor.Edge[*Event], len(taken))}
	vec := make([]cursor.Position, n)
	for i, p := range pages {
		if tails[i] > 0 {
			vec[i] = p.Edges[tails[i]-1].Node.Position
		}
		if tails[i] > 0 || p.PageInfo.HasPreviousPage {
			page.PageInfo.HasPreviousPage = true
		}
	}
	for k := len(taken) - 1; k >= 0; k-- {
		ge := taken[k]
		vec[ge.member] = ge.event.Position
		page.Edges[len(taken)-1-k] = cursor.Edge[*Event]{Cursor: cursor.EncodeVector(cursor.Vector{Positions: vec, Head: ge.member}), Node: ge.event}
	}
	fillEnds(page)
	return page, nil
}

// readMembers reads one page from every member, with the arguments args
// gives for it; a member whose arguments ask for nothing is not read.
func (g *Group) readMembers(ctx context.Context, q Query, args func(i int) cursor.Args) ([]*cursor.Page[*Event], error) {
	pages := make([]*cursor.Page[*Event], len(g.members))
	for i, m := range g.members {
		a := args(i)
		if a == (cursor.Args{}) {
			pages[i] = &cursor.Page[*Event]{}
			continue
		}
		mq := q
		mq.Args = a
		p, err := m.Read(ctx, mq)
		if err != nil {
			return nil, fmt.Errorf("evento: group member %d: %w", i, err)
		}
		pages[i] = p
	}
	return pages, nil
}

func fillEnds(p *cursor.Page[*Event]) {
	if n := len(p.Edges); n > 0 {
		p.PageInfo.StartCursor = p.Edges[0].Cursor
		p.PageInfo.EndCursor = p.Edges[n-1].Cursor
	}
}

// LoadSnapshot loads from the first member.
func (g *Group) LoadSnapshot(ctx context.Context, key SnapshotKey) (*Snapshot, error) {
	return g.members[0].LoadSnapshot(ctx, key)
}

// SaveSnapshot saves to the first member.
func (g *Group) SaveSnapshot(ctx context.Context, s *Snapshot) error {
	return g.members[0].SaveSnapshot(ctx, s)
}

// AcquireLease acquires on the first member.
func (g *Group) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error) {
	return g.members[0].AcquireLease(ctx, key, owner, ttl)
}

// RenewLease renews on the first member.
func (g *Group) RenewLease(ctx context.Context, l *Lease, ttl time.Duration) error {
	return g.members[0].RenewLease(ctx, l, ttl)
}

// ReleaseLease releases on the first member.
func (g *Group) ReleaseLease(ctx context.Context, l *Lease) error {
	return g.members[0].ReleaseLease(ctx, l)
}

// Acknowledge acknowledges on the first member.
func (g *Group) Acknowledge(ctx context.Context, l *Lease, ack Ack) error {
	return g.members[0].Acknowledge(ctx, l, ack)
}

// SubscriptionStatus reads the status from the first member.
func (g *Group) SubscriptionStatus(ctx context.Context, key string) (*SubscriptionStatus, error) {
	return g.members[0].SubscriptionStatus(ctx, key)
}

// Wake returns the first member's wake-up channel, or nil (never fires) when
// it has none. Appends to other members are found by polling.
func (g *Group) Wake() <-chan struct{} {
	if w, ok := g.members[0].(Waker); ok {
		return w.Wake()
	}
	return nil
}
