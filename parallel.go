package evento

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/eventogo/evento/cursor"
)

// slot is one event a parallel worker has read: it is handed to its
// partition and then waits, in read order, until every event before it is
// finished too.
type slot struct {
	edge cursor.Edge[*Event]
	done bool  // the partition has reported back (or there was nothing to do)
	err  error // what handling returned
}

// drainParallel processes events on r.sub.partitions goroutines. The
// coordinator (this goroutine) reads pages ahead while the partitions work,
// keeps the events read in order, and moves the cursor only over the
// gap-free prefix of finished events, acknowledging as the ack interval
// says and once at the end.
func (r *run) drainParallel(ctx, runCtx context.Context, lease *Lease) (int, error) {
	hctx := context.WithoutCancel(ctx)
	n, chunk := r.sub.partitions, r.sub.chunkSize
	window := max(4*chunk, n) // events read but not yet acknowledged
	results := make(chan *slot, window)
	queues := make([]chan *slot, n)
	// A partition that met a failure the subscription does not pass over
	// stops handling: its later events must not run before the failed one.
	halted := make([]bool, n)
	partCtx, stopParts := context.WithCancel(runCtx)
	done := make(chan struct{})
	for i := range queues {
		queues[i] = make(chan *slot, window)
		go func(q <-chan *slot, halted *bool) {
			defer func() { done <- struct{}{} }()
			for s := range q {
				switch {
				case *halted || partCtx.Err() != nil:
					s.err = errInterrupted
				default:
					var p pending
					s.err = r.handle(hctx, partCtx, lease, s.edge, &p)
					// Only a handler failure the policy passes over lets
					// the partition go on.
					var he *HandlerError
					passed := errors.As(s.err, &he) && r.sub.onFailure != failStop
					*halted = s.err != nil && !passed
				}
				results <- s
			}
		}(queues[i], &halted[i])
	}
	defer func() {
		stopParts()
		for _, q := range queues {
			close(q)
		}
		for range queues {
			<-done
		}
	}()

	head := r.head(runCtx)
	seed := maphash.MakeSeed()
	var (
		order    []*slot // read, not yet passed by the cursor
		inFlight int
		readAt   = lease.Cursor
		more     = true
		stopping bool
		failure  error
		p        pending
		read     int
	)
	for {
		// Read ahead while there is room.
		if more && !stopping && len(order) < window {
			q := r.query
			q.Args = cursor.Forward(min(chunk, window-len(order)), readAt)
			page, err := r.st.exec.Read(runCtx, q)
			switch {
			case err != nil && runCtx.Err() != nil:
				stopping = true
			case err != nil:
				failure = fmt.Errorf("evento: subscription %s: read: %w", r.sub.key, err)
				stopping = true
			default:
				read += len(page.Edges)
				more = page.PageInfo.HasNextPage
				for _, edge := range page.Edges {
					s := &slot{edge: edge}
					order = append(order, s)
					readAt = edge.Cursor
					if _, ok, err := r.sub.d.lookup(edge.Node); err == nil && !ok {
						s.done = true // no handler: nothing to wait for
						continue
					}
					inFlight++
					queues[maphash.String(seed, r.sub.partitionKey(edge.Node))%uint64(n)] <- s
				}
			}
		}
		if runCtx.Err() != nil {
			stopping = true
		}
		// Collect what the partitions finished: block for one result when
		// nothing else can progress, then take whatever else is ready.
		if inFlight > 0 && (stopping || !more || len(order) >= window) {
			(<-results).done = true
			inFlight--
		}
	collect:
		for inFlight > 0 {
			select {
			case s := <-results:
				s.done = true
				inFlight--
			default:
				break collect
			}
		}
		// Move the cursor over the finished prefix.
		for len(order) > 0 && order[0].done && failure == nil {
			s := order[0]
			if s.err != nil {
				if errors.Is(s.err, errInterrupted) {
					break
				}
				if failure = r.failed(ctx, &p, s.edge.Node, s.err); failure != nil {
					stopping = true
					stopParts()
					break
				}
			}
			lease.Cursor = s.edge.Cursor
			p.pass(s.edge.Node)
			order = order[1:]
		}
		if inFlight == 0 && !stopping && !more && len(order) == 0 && failure == nil {
			r.skipTo(lease, head, &p)
		}
		finished := inFlight == 0 && (stopping || !more && len(order) == 0)
		if p.any() && (finished || r.ackDue(&p)) {
			if err := r.acknowledge(ctx, lease, &p); err != nil {
				return read, errors.Join(failure, err)
			}
		}
		if finished {
			return read, failure
		}
	}
}
