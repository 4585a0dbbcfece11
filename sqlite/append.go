package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/groupcommit"
	"github.com/oklog/ulid/v2"
)

// Append writes the events of c atomically and on success sets Position,
// RoutingKey and Timestamp (to the stored microsecond, or to now when it
// was zero) on each of them.
//
// Appends of one process share transactions (group commit): the first
// appender to get the write turn writes every commit queued at that
// moment in one BEGIN IMMEDIATE transaction, each commit under a savepoint
// of its own, so that a commit that fails (a version conflict, say) is
// rolled back alone and the others commit together, with one sync of the
// database file. A lone append is one plain transaction.
//
// The version check reads the aggregate's current version under SQLite's
// write lock, so no other writer can move it before the commit; the
// UNIQUE(aggregate_type, aggregate_id, version) constraint enforces the
// same rule in the database. A commit that creates its aggregate
// (expected version 0) leaves the check to that constraint, and reads the
// version only when it fails, to tell why. A context cancelled before the commit is
// written withdraws it (Append returns the context's error, nothing is
// stored); once it is written, Append reports its transaction's outcome.
// After Close, Append fails.
func (x *Executor) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := x.heldByCaller(ctx); err != nil {
		return err
	}
	req := x.queue.Add(ctx, c)
	return x.queue.Wait(req, x.writer, func() bool { return x.writeBatch(ctx) }, func() error {
		if x.closed {
			return errClosed
		}
		return nil
	})
}

// Group commit bounds: one transaction takes at most this many commits,
// and stops taking more once it holds this many events.
const (
	maxBatchCommits = 256
	maxBatchEvents  = 10_000
)

// writeBatch writes the commits waiting in the queue in one transaction
// and finishes each of them; it reports whether there were any. The caller
// holds the writer lock.
func (x *Executor) writeBatch(ctx context.Context) bool {
	batch := x.queue.Take(groupcommit.Limits{MaxCommits: maxBatchCommits, MaxEvents: maxBatchEvents})
	if len(batch) == 0 {
		return false
	}
	// The transaction serves every commit of the batch, so it runs whatever
	// happens to the context of the appender that leads it.
	tctx := context.WithoutCancel(ctx)
	fail := func(err error) {
		for _, r := range batch {
			if !r.Finished() {
				r.Fail(err)
			}
		}
	}
	wc, err := x.writerConn(tctx)
	if err != nil {
		fail(err)
		return true
	}
	if _, err := wc.begin.ExecContext(tctx); err != nil {
		x.rollback(tctx)
		fail(fmt.Errorf("begin: %w", err))
		return true
	}
	results := make([]written, len(batch))
	stored := 0
	if len(batch) == 1 {
		// Alone, the commit needs no savepoint: it fails with the whole
		// transaction.
		r := batch[0]
		if results[0], err = x.write(r.Ctx, wc, r.Commit, &aggregateState{}); err != nil {
			x.rollback(tctx)
			r.Finish(err)
			return true
		}
		stored = 1
	} else if stored, err = x.writeEach(tctx, wc, batch, results); err != nil {
		x.rollback(tctx)
		fail(err)
		return true
	}
	if stored == 0 {
		// Nothing was written: no refusal depended on the batch.
		x.rollback(tctx)
		finishRefused(batch, results)
		return true
	}
	if _, err := wc.commit.ExecContext(tctx); err != nil {
		x.rollback(tctx)
		fail(fmt.Errorf("commit: %w", err))
		return true
	}
	finishRefused(batch, results)
	for i, r := range batch {
		if r.Finished() {
			continue
		}
		w := results[i]
		for j, e := range r.Commit.Events {
			e.Position = cursor.Position{Seq: uint64(w.positions[j])}
			e.RoutingKey = w.routingKey
			e.Timestamp = time.UnixMicro(w.timestamps[j]).UTC()
		}
		r.Finish(nil)
	}
	x.wake.Fire()
	return true
}

// finishRefused finishes the commits of a batch that were refused, once
// the batch's transaction has its outcome (see writeEach).
func finishRefused(batch []*groupcommit.Request, results []written) {
	for i, r := range batch {
		if results[i].refused != nil {
			r.Finish(results[i].refused)
		}
	}
}

// writeEach writes the commits of a batch in the open transaction, each
// under a savepoint of its own, and returns how many were stored. A commit
// that is refused gets its error in results, and keeps it only once the
// transaction commits (see finishRefused): the refusal may rest on an
// earlier commit of the batch (a retry of it is ErrAlreadyAppended, a
// commit racing it a version conflict), which a failed COMMIT undoes. An
// error is the transaction's: the caller rolls it back and fails every
// commit not finished yet, the refused ones too.
func (x *Executor) writeEach(ctx context.Context, wc *writer, batch []*groupcommit.Request, results []written) (int, error) {
	stored := 0
	seen := make(map[aggregateKey]*aggregateState)
	for i, r := range batch {
		// An appender that gave up before its turn is left out. Once its
		// commit is written it runs on the batch's context: cancelling an
		// SQLite statement midway can roll back the whole transaction,
		// every other commit of the batch with it.
		if err := r.Ctx.Err(); err != nil {
			r.Fail(err)
			continue
		}
		key := aggregateKey{r.Commit.AggregateType, r.Commit.AggregateID}
		state := seen[key]
		if state == nil {
			state = &aggregateState{}
			seen[key] = state
		} else if err := state.decided(r.Commit); err != nil {
			// A commit that an earlier commit of the batch made stale
			// (appenders racing on one aggregate) fails without a
			// statement.
			results[i].refused = err
			continue
		}
		if _, err := wc.savepoint.ExecContext(ctx); err != nil {
			return 0, fmt.Errorf("savepoint: %w", err)
		}
		var err error
		if results[i], err = x.write(ctx, wc, r.Commit, state); err != nil {
			if _, rerr := wc.rollbackTo.ExecContext(ctx); rerr != nil {
				return 0, fmt.Errorf("rollback to savepoint: %w", rerr)
			}
			results[i].refused = err
		}
		if _, err := wc.release.ExecContext(ctx); err != nil {
			return 0, fmt.Errorf("release savepoint: %w", err)
		}
		if results[i].refused == nil {
			state.stored(r.Commit)
			stored++
		}
	}
	return stored, nil
}

// written is what a successful write assigned to the commit's events; it
// is copied onto them only once the transaction has committed.
type written struct {
	// refused, when set, is why the commit was not written.
	refused    error
	routingKey string
	positions  []int64
	timestamps []int64
}

// write checks the aggregate's version and inserts the events, inside the
// open transaction. The version comes from state when an earlier commit of
// the batch read it; otherwise write reads it and records it there.
//
// A commit that creates its aggregate (expected version 0) skips the read:
// versions are dense from 1, so its first event's version is free exactly
// when the aggregate has no event, and the unique (aggregate_type,
// aggregate_id, version) key checks that as the insert runs. Only when
// the commit fails before anything of it is written (its first insert
// breaks a unique key, say) does write read the version, to answer as the
// read would have (see failed).
func (x *Executor) write(ctx context.Context, wc *writer, c *evento.Commit, state *aggregateState) (written, error) {
	creates := !state.known && c.ExpectedVersion == 0
	if !state.known && !creates {
		if err := x.readState(ctx, wc, c, state); err != nil {
			return written{}, err
		}
	}
	if state.known && state.version != c.ExpectedVersion {
		return written{}, x.versionConflict(ctx, wc, c, state.version)
	}
	// Every event of an aggregate carries its first event's routing key.
	routingKey := sql.NullString{String: c.RoutingKey, Valid: c.RoutingKey != ""}
	if state.known && state.version != 0 {
		routingKey = sql.NullString{String: state.routingKey, Valid: state.routingKey != ""}
	}

	w := written{
		routingKey: routingKey.String,
		positions:  make([]int64, len(c.Events)),
		timestamps: make([]int64, len(c.Events)),
	}
	now := time.Now().UnixMicro()
	for i, e := range c.Events {
		metadata, err := e.Metadata.MarshalBinary()
		if err != nil {
			return written{}, x.failed(ctx, wc, c, state, creates && i == 0, i, err)
		}
		w.timestamps[i] = now
		if !e.Timestamp.IsZero() {
			w.timestamps[i] = e.Timestamp.UnixMicro()
		}
		res, err := wc.event.ExecContext(ctx, e.ID[:], c.AggregateType, c.AggregateID, e.Version, e.Name,
			routingKey, e.Data, metadata, w.timestamps[i])
		if err != nil {
			return written{}, x.failed(ctx, wc, c, state, creates && i == 0, i,
				fmt.Errorf("evento: append to %s/%s: insert version %d: %w", c.AggregateType, c.AggregateID, e.Version, err))
		}
		if w.positions[i], err = res.LastInsertId(); err != nil {
			return written{}, fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
		}
	}
	if creates {
		// The aggregate had no event before this commit.
		state.known, state.base, state.version = true, 0, 0
	}
	return w, nil
}

// failed returns the error of a commit whose event i could not be
// written because of err. A commit that creates its aggregate and failed
// before anything of it was written (unwritten) answers as if the version
// had been read first: a version conflict, or ErrAlreadyAppended for a
// retry, when the aggregate exists. Otherwise a broken unique key is
// explained (see uniqueViolation) and any other error returned as it is.
func (x *Executor) failed(ctx context.Context, wc *writer, c *evento.Commit, state *aggregateState, unwritten bool, i int, err error) error {
	if unwritten {
		if rerr := x.readState(ctx, wc, c, state); rerr != nil {
			return rerr
		}
		if state.version != 0 {
			return x.versionConflict(ctx, wc, c, state.version)
		}
	}
	if isUniqueViolation(err) {
		return x.uniqueViolation(ctx, wc, c, i)
	}
	return err
}

// readState reads the aggregate's current version and routing key into
// state.
func (x *Executor) readState(ctx context.Context, wc *writer, c *evento.Commit, state *aggregateState) error {
	var (
		version    int64
		routingKey sql.NullString
	)
	err := wc.state.QueryRowContext(ctx, c.AggregateType, c.AggregateID).Scan(&version, &routingKey)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("evento: append to %s/%s: read version: %w", c.AggregateType, c.AggregateID, err)
	}
	*state = aggregateState{known: true, base: version, version: version, routingKey: routingKey.String}
	return nil
}

// versionConflict explains why the aggregate is not at the commit's
// expected version: this very commit was stored before (a retry), or
// another writer moved the aggregate on.
func (x *Executor) versionConflict(ctx context.Context, wc *writer, c *evento.Commit, current int64) error {
	first := c.Events[0]
	owner, found, err := eventOwnerOf(ctx, wc, first.ID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	case found && owner.is(first):
		return alreadyAppended(c)
	}
	return staleCommit(c, current)
}

// alreadyAppended is the error of a commit whose first event is stored at
// its place: the same commit was appended before.
func alreadyAppended(c *evento.Commit) error {
	first := c.Events[0]
	return fmt.Errorf("%w: %s/%s already holds event %s at version %d",
		evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, first.ID, first.Version)
}

// staleCommit is the error of a commit whose aggregate is at another
// version than it expected.
func staleCommit(c *evento.Commit, current int64) error {
	return fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
}

// uniqueViolation explains the unique constraint that event i of the commit
// broke: its id is taken (by an event stored earlier, or by an earlier event
// of the same commit), or, should the version check ever be bypassed, its
// version is.
func (x *Executor) uniqueViolation(ctx context.Context, wc *writer, c *evento.Commit, i int) error {
	e := c.Events[i]
	owner, found, err := eventOwnerOf(ctx, wc, e.ID)
	switch {
	case err != nil:
		return fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)
	case !found:
		return fmt.Errorf("%w: %s/%s already holds version %d",
			evento.ErrVersionConflict, c.AggregateType, c.AggregateID, e.Version)
	}
	return fmt.Errorf("%w: event id %s of %s/%s version %d is already used by %s/%s version %d",
		evento.ErrInvalidArgument, e.ID, c.AggregateType, c.AggregateID, e.Version,
		owner.aggregateType, owner.aggregateID, owner.version)
}

// eventOwner is where a stored event id sits.
type eventOwner struct {
	aggregateType string
	aggregateID   string
	version       int64
}

// is reports whether the stored event is e's place: same aggregate, same
// version.
func (o eventOwner) is(e *evento.Event) bool {
	return o.aggregateType == e.AggregateType && o.aggregateID == e.AggregateID && o.version == e.Version
}

// eventOwnerOf returns where the event id is stored, and false when no
// event holds it.
func eventOwnerOf(ctx context.Context, wc *writer, id ulid.ULID) (eventOwner, bool, error) {
	var o eventOwner
	err := wc.owner.QueryRowContext(ctx, id[:]).Scan(&o.aggregateType, &o.aggregateID, &o.version)
	if errors.Is(err, sql.ErrNoRows) {
		return eventOwner{}, false, nil
	}
	return o, err == nil, err
}

// aggregateKey names an aggregate within a batch.
type aggregateKey struct{ aggregateType, aggregateID string }

// aggregateState is what a batch's transaction knows of one aggregate. No
// other writer can move the aggregate while the transaction holds SQLite's
// write lock, so once read, its version only changes by the batch's own
// commits.
type aggregateState struct {
	known      bool   // version and routingKey were read
	base       int64  // the version before the batch's commits
	version    int64  // the version after them
	routingKey string // its events' routing key ("" for none)
	// commits are the batch's commits stored to the aggregate, in order:
	// the events of versions base+1 to version.
	commits []*evento.Commit
}

// stored records a commit of the batch stored to the aggregate.
func (s *aggregateState) stored(c *evento.Commit) {
	if s.version == 0 {
		s.routingKey = c.RoutingKey
	}
	s.version = c.Events[len(c.Events)-1].Version
	s.commits = append(s.commits, c)
}

// decided returns the outcome of c when the batch alone decides it, and
// nil when c is to be written (it expects the current version) or checked
// against the table (it expects a version from before the batch, so its
// first event may have been stored by an earlier append: a retry).
func (s *aggregateState) decided(c *evento.Commit) error {
	if !s.known || c.ExpectedVersion == s.version || c.ExpectedVersion < s.base {
		return nil
	}
	// c's first event has a version the batch wrote, or none yet: it is
	// stored only if an earlier commit of the batch stored it.
	first := c.Events[0]
	for _, prev := range s.commits {
		if i := first.Version - prev.ExpectedVersion - 1; i >= 0 && i < int64(len(prev.Events)) {
			if prev.Events[i].ID == first.ID {
				return alreadyAppended(c)
			}
			break
		}
	}
	return staleCommit(c, s.version)
}
