package evento

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento/cursor"
)

// MaxStatusCount bounds how many pending events [Subscription.Status]
// counts; beyond it the count is reported as a lower bound.
const MaxStatusCount = 100_000

// Status is a subscription's state as seen from outside its workers: the
// stored state plus how far behind the log it is.
type Status struct {
	SubscriptionStatus
	// Running says a worker holds an unexpired lease.
	Running bool
	// Stopped says the subscription stopped on a handler failure and no
	// worker runs it (see SubscriptionStatus.Stopped).
	Stopped bool
	// Pending counts the events after the cursor that the subscription
	// reads, at most MaxStatusCount.
	Pending int64
	// PendingCapped says there are more than Pending.
	PendingCapped bool
	// Behind is the age of the oldest pending event: how long it has been
	// waiting. Zero when nothing is pending.
	Behind time.Duration
	// Parked counts the subscription's dead letters, at most 10,000; -1
	// when the executor keeps none.
	Parked int
}

// maxParkedCount bounds the parked events Status counts.
const maxParkedCount = 10_000

// Status reports the subscription's stored state (owner, lease expiry,
// epoch, cursor, last error) and its lag: the events still to handle and
// how long the oldest of them has waited. It fails with an error matching
// ErrNotFound when no worker ever ran the subscription.
func (s *Subscription) Status(ctx context.Context, st *Store) (*Status, error) {
	stored, err := st.exec.SubscriptionStatus(ctx, s.key)
	if err != nil {
		return nil, fmt.Errorf("evento: subscription %s: status: %w", s.key, err)
	}
	now := time.Now()
	out := &Status{
		SubscriptionStatus: *stored,
		Running:            stored.Owner != "" && now.Before(stored.ExpiresAt),
		Stopped:            stored.Stopped(now),
		Parked:             -1,
	}
	q := Query{Filters: s.d.filters(), RoutingKey: s.routingKey}
	after := stored.Cursor
	for out.Pending < MaxStatusCount {
		q.Args = cursor.Forward(min(cursor.MaxLimit, MaxStatusCount-int(out.Pending)), after)
		page, err := st.exec.Read(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("evento: subscription %s: status: %w", s.key, err)
		}
		if out.Pending == 0 && len(page.Edges) > 0 {
			out.Behind = max(now.Sub(page.Edges[0].Node.Timestamp), 0)
		}
		out.Pending += int64(len(page.Edges))
		if !page.PageInfo.HasNextPage {
			break
		}
		if out.Pending >= MaxStatusCount {
			out.PendingCapped = true
			break
		}
		after = page.Edges[len(page.Edges)-1].Cursor
	}
	parked, err := deadLetters(ctx, innermost(st.exec), s.key, maxParkedCount)
	switch {
	case errors.Is(err, ErrUnsupported):
	case err != nil:
		return nil, fmt.Errorf("evento: subscription %s: status: %w", s.key, err)
	default:
		out.Parked = len(parked)
	}
	return out, nil
}
