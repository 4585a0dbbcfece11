package evtest_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/evtest"
	"github.com/eventogo/evento/internal/wake"
	"github.com/oklog/ulid/v2"
)

// TestMemory runs the suite against memory, the simplest executor that
// keeps the contract, to check the suite itself.
func TestMemory(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor { return newMemory() }, evtest.Features{
		Shared: func(t *testing.T) (a, b evento.Executor) {
			m := newMemory()
			return m, &memory{state: m.state, bug: m.bug} // b has its own waker, like another process
		},
	})
}

// memory is a reference executor: a slice in global order under a mutex.
// It can carry one deliberate bug (see TestSuiteCatchesBugs).
type memory struct {
	state *memState
	wake  wake.Signal
	bug   string
}

// has reports whether m was built with the named bug.
func (m *memory) has(bug string) bool { return m.bug == bug }

type memState struct {
	mu      sync.Mutex
	events  []evento.Event
	ids     map[ulid.ULID]bool
	aggs    map[[2]string]*memAggregate
	snaps   map[evento.SnapshotKey]evento.Snapshot
	leases  map[string]*evento.SubscriptionStatus
	dead    map[string][]*evento.DeadLetter // by subscription key, oldest first
	nextSeq uint64
}

type memAggregate struct {
	version    int64
	routingKey string
}

func newMemory() *memory {
	return &memory{bug: os.Getenv(bugEnv), state: &memState{
		ids:    make(map[ulid.ULID]bool),
		aggs:   make(map[[2]string]*memAggregate),
		snaps:  make(map[evento.SnapshotKey]evento.Snapshot),
		leases: make(map[string]*evento.SubscriptionStatus),
		dead:   make(map[string][]*evento.DeadLetter),
	}}
}

// MonotonicReads reports true: every read sees the one slice.
func (m *memory) MonotonicReads() bool { return true }

func (m *memory) Wake() <-chan struct{} {
	if m.has("no-wake") {
		return nil
	}
	return m.wake.C()
}

func (m *memory) Append(ctx context.Context, c *evento.Commit) error {
	if err := c.Validate(); err != nil && !m.has("no-commit-validation") {
		return err
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[ulid.ULID]bool, len(c.Events))
	for _, e := range c.Events {
		if seen[e.ID] && !m.has("no-commit-validation") {
			return fmt.Errorf("%w: event id %s repeated in one commit", evento.ErrInvalidArgument, e.ID)
		}
		seen[e.ID] = true
	}
	key := [2]string{c.AggregateType, c.AggregateID}
	agg := s.aggs[key]
	current := int64(0)
	if agg != nil {
		current = agg.version
	}
	// The version check comes first; a commit that fails it is a retry
	// when its first event is stored at its place.
	if current != c.ExpectedVersion && !m.has("no-version-check") {
		if len(c.Events) > 0 && !m.has("no-idempotency") && s.storedAt(c.Events[0].ID, key, c.Events[0].Version) {
			return fmt.Errorf("%w: event %s", evento.ErrAlreadyAppended, c.Events[0].ID)
		}
		return fmt.Errorf("%w: %s/%s is at %d, expected %d", evento.ErrVersionConflict, c.AggregateType, c.AggregateID, current, c.ExpectedVersion)
	}
	for _, e := range c.Events {
		if s.ids[e.ID] && !m.has("no-idempotency") && !m.has("partial-commit") {
			return fmt.Errorf("%w: event id %s is taken", evento.ErrInvalidArgument, e.ID)
		}
	}
	if agg == nil {
		agg = &memAggregate{routingKey: c.RoutingKey}
		s.aggs[key] = agg
	}
	if m.has("routing-not-inherited") {
		agg.routingKey = c.RoutingKey
	}
	for _, e := range c.Events {
		if m.has("partial-commit") && s.ids[e.ID] {
			return fmt.Errorf("%w: event %s", evento.ErrAlreadyAppended, e.ID)
		}
		s.nextSeq++
		e.Position = cursor.Position{Seq: s.nextSeq}
		e.RoutingKey = agg.routingKey
		s.ids[e.ID] = true
		stored := *e
		switch {
		case m.has("millisecond-timestamps"):
			stored.Timestamp = stored.Timestamp.Truncate(time.Millisecond)
		case m.has("drop-metadata"):
			stored.Metadata = evento.Metadata{}
		case m.has("16-bit-versions"):
			stored.Version = int64(uint16(stored.Version))
		}
		s.events = append(s.events, stored)
	}
	agg.version = c.Events[len(c.Events)-1].Version
	m.wake.Fire()
	return nil
}

// storedAt reports whether the event stored at version of aggregate key
// has the given id. The caller holds s.mu.
func (s *memState) storedAt(id ulid.ULID, key [2]string, version int64) bool {
	if !s.ids[id] {
		return false
	}
	for i := range s.events {
		e := &s.events[i]
		if e.ID == id {
			return e.AggregateType == key[0] && e.AggregateID == key[1] && e.Version == version
		}
	}
	return false
}

func (m *memory) Read(ctx context.Context, q evento.Query) (*cursor.Page[*evento.Event], error) {
	if err := q.Validate(); err != nil && !m.has("no-query-validation") {
		return nil, err
	}
	if m.has("panic-on-bad-cursor") {
		if _, err := cursor.Decode(q.Args.After + q.Args.Before); err != nil {
			panic(err)
		}
	}
	if m.has("none-is-any") && q.RoutingKey.IsNone() {
		q.RoutingKey = evento.AnyRoutingKey()
	}
	s := m.state
	s.mu.Lock()
	var matched []*evento.Event
	for i := range s.events {
		if q.Match(&s.events[i]) {
			e := s.events[i]
			matched = append(matched, &e)
		}
	}
	s.mu.Unlock()
	if m.has("skip-every-50th") && q.Args.After != "" {
		matched = slices.DeleteFunc(matched, func(e *evento.Event) bool { return e.Position.Seq%50 == 0 })
	}
	page, err := cursor.Paginate(matched, func(e *evento.Event) cursor.Position { return e.Position }, q.Args)
	if err == nil && m.has("no-previous-page") {
		page.PageInfo.HasPreviousPage = false
	}
	return page, err
}

func (m *memory) LoadSnapshot(ctx context.Context, key evento.SnapshotKey) (*evento.Snapshot, error) {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.snaps[key]
	if !ok || m.has("no-snapshots") {
		return nil, evento.ErrNotFound
	}
	snap.Data = slices.Clone(snap.Data)
	return &snap, nil
}

func (m *memory) SaveSnapshot(ctx context.Context, snap *evento.Snapshot) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *snap
	c.Data = slices.Clone(c.Data)
	c.UpdatedAt = time.Now()
	s.snaps[c.Key] = c
	return nil
}

func (m *memory) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (*evento.Lease, error) {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.leases[key]
	if st == nil {
		st = &evento.SubscriptionStatus{Key: key}
		s.leases[key] = st
	}
	now := time.Now()
	if st.Owner != "" && st.Owner != owner && now.Before(st.ExpiresAt) && !m.has("lease-never-held") {
		return nil, evento.ErrLeaseHeld
	}
	st.Owner, st.Epoch, st.ExpiresAt = owner, st.Epoch+1, now.Add(ttl)
	return &evento.Lease{Key: key, Owner: owner, Epoch: st.Epoch, Cursor: st.Cursor, ExpiresAt: st.ExpiresAt}, nil
}

// current returns the lease row when l still holds it; the caller holds mu.
func (s *memState) current(l *evento.Lease) (*evento.SubscriptionStatus, error) {
	st := s.leases[l.Key]
	if st == nil || st.Epoch != l.Epoch || st.Owner != l.Owner {
		return nil, evento.ErrLeaseLost
	}
	return st, nil
}

func (m *memory) RenewLease(ctx context.Context, l *evento.Lease, ttl time.Duration) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.current(l)
	if err != nil {
		return err
	}
	st.ExpiresAt = time.Now().Add(ttl)
	l.ExpiresAt = st.ExpiresAt
	return nil
}

func (m *memory) ReleaseLease(ctx context.Context, l *evento.Lease) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, err := s.current(l); err == nil && !m.has("release-noop") {
		st.Owner, st.ExpiresAt = "", time.Time{}
	}
	return nil
}

func (m *memory) Acknowledge(ctx context.Context, l *evento.Lease, ack evento.Ack) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.current(l)
	if m.has("ack-not-fenced") || m.has("park-not-fenced") && len(ack.Park) > 0 {
		st, err = s.leases[l.Key], nil
	}
	if err != nil {
		return err
	}
	m.apply(st, l, ack)
	return nil
}

// apply stores ack on the lease row st; the caller holds mu.
func (m *memory) apply(st *evento.SubscriptionStatus, l *evento.Lease, ack evento.Ack) {
	s := m.state
	now := time.Now()
	st.Cursor, st.Lag, st.UpdatedAt = ack.Cursor, ack.Lag, now
	if ack.Error != nil && !m.has("ack-drops-error") {
		e := *ack.Error
		e.At = now
		st.LastError = &e
	}
	for _, dl := range ack.Park {
		if m.has("ack-drops-park") {
			break
		}
		c := *dl
		c.Key, c.ParkedAt = l.Key, now
		s.dead[l.Key] = slices.DeleteFunc(s.dead[l.Key], func(d *evento.DeadLetter) bool { return d.EventID == c.EventID })
		s.dead[l.Key] = append(s.dead[l.Key], &c)
	}
	l.Cursor = ack.Cursor
}

func (m *memory) DeadLetters(ctx context.Context, key string, limit int) ([]*evento.DeadLetter, error) {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit < 1 || limit > 10000 {
		return nil, evento.ErrInvalidArgument
	}
	var out []*evento.DeadLetter
	for _, d := range s.dead[key] {
		if len(out) == limit {
			break
		}
		c := *d
		out = append(out, &c)
	}
	return out, nil
}

func (m *memory) DeleteDeadLetter(ctx context.Context, key, eventID string) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.dead[key])
	s.dead[key] = slices.DeleteFunc(s.dead[key], func(d *evento.DeadLetter) bool { return d.EventID == eventID })
	if len(s.dead[key]) == n && !m.has("delete-always-ok") {
		return evento.ErrNotFound
	}
	return nil
}

// DeleteDeadLetterTx removes the dead letter only when fn succeeds.
func (m *memory) DeleteDeadLetterTx(ctx context.Context, key, eventID string, fn func(context.Context) error) error {
	s := m.state
	s.mu.Lock()
	found := slices.ContainsFunc(s.dead[key], func(d *evento.DeadLetter) bool { return d.EventID == eventID })
	s.mu.Unlock()
	if !found {
		return evento.ErrNotFound
	}
	if err := fn(evento.ContextWithTx(ctx, memTx{})); err != nil {
		return err
	}
	return m.DeleteDeadLetter(ctx, key, eventID)
}

// memTx is the transaction memory hands to transactional handlers.
type memTx struct{}

// AcknowledgeTx checks the fence, runs fn outside the lock (fn may read the
// store), and applies ack only when fn succeeded and the lease is still
// current.
func (m *memory) AcknowledgeTx(ctx context.Context, l *evento.Lease, ack evento.Ack, fn func(context.Context) error) error {
	s := m.state
	s.mu.Lock()
	_, err := s.current(l)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	fnErr := fn(evento.ContextWithTx(ctx, memTx{}))
	if fnErr != nil && !m.has("tx-commits-on-failure") {
		return fnErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.current(l)
	if err != nil {
		return err
	}
	m.apply(st, l, ack)
	return fnErr
}

func (m *memory) SubscriptionStatus(ctx context.Context, key string) (*evento.SubscriptionStatus, error) {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.leases[key]
	if !ok {
		return nil, evento.ErrNotFound
	}
	c := *st
	if st.LastError != nil {
		e := *st.LastError
		c.LastError = &e
	}
	return &c, nil
}
