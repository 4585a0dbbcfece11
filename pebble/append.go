package pebble

import (
	"context"
	"fmt"

	"github.com/eventogo/evento"
)

// maxCommitBytes bounds the encoded size of one commit, well below
// Pebble's 4 GiB batch limit even once a group adds other commits and the
// index keys.
const maxCommitBytes = 1 << 30

// Append writes the events of c atomically and, on success, sets Position,
// RoutingKey and Timestamp (to the stored microsecond, or to the commit
// time when it was zero) on each of them.
//
// The calling goroutine encodes the events and queues the commit; the
// committer checks it against the aggregate's last version under the
// store's single write path, numbers its events and writes it in one
// synced Pebble batch with every other commit queued meanwhile (see the
// package documentation). A context that ends before the commit is queued
// stops it; once queued, Append waits for the outcome and reports it, so
// that an acknowledged commit is always stored and a failed one never is.
func (x *Executor) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	r, err := newRequest(c)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	}
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if err := x.committer.push(r); err != nil {
		return err
	}
	return <-r.done
}

// request is a commit on its way through the committer.
type request struct {
	commit *evento.Commit
	// bodies holds each event's encoded record body.
	bodies [][]byte
	// size estimates the bytes the commit adds to a batch.
	size int
	// done receives the outcome, once.
	done chan error

	// Set by the committer when it admits the commit, and copied onto the
	// events only once the batch holding them is durable.
	first      uint64
	routingKey string
	timestamps []int64
}

// newRequest encodes what it can of c's records before c is queued, so
// that the committer, which every append goes through, does little more
// than check versions and copy bytes.
func newRequest(c *evento.Commit) (*request, error) {
	r := &request{
		commit:     c,
		bodies:     make([][]byte, len(c.Events)),
		timestamps: make([]int64, len(c.Events)),
		done:       make(chan error, 1),
	}
	for i, e := range c.Events {
		metadata, err := e.Metadata.MarshalBinary()
		if err != nil {
			return nil, err
		}
		n := 16 + len(c.AggregateType) + len(c.AggregateID) + len(e.Name) + len(metadata) + len(e.Data) + 6*10
		r.bodies[i] = appendEventBody(make([]byte, 0, n), e, metadata)
		// The record's header and the five index entries add about
		// as much again as the names, up to their length limits.
		r.size += len(r.bodies[i]) + 4*evento.MaxNameLen
		if r.size > maxCommitBytes {
			return nil, fmt.Errorf("%w: commit to %s/%s encodes to more than %d bytes",
				evento.ErrPayloadTooLarge, c.AggregateType, c.AggregateID, maxCommitBytes)
		}
	}
	return r, nil
}

// apply copies what the store assigned onto the commit's events.
func (r *request) apply() {
	for i, e := range r.commit.Events {
		e.Position.Seq = r.first + uint64(i)
		e.Position.Tx = 0
		e.RoutingKey = r.routingKey
		e.Timestamp = unixMicro(r.timestamps[i])
	}
}
