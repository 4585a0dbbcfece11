package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/eventogo/evento"
	"github.com/oklog/ulid/v2"
)

// group is one round of the committer: the batch being built and the
// aggregates and event ids it changes, so that commits of one group are
// checked against each other in queue order as well as against the
// database.
type group struct {
	c     *committer
	batch *pebbledb.Batch
	// versions reads the aggregate index of the database, which nothing
	// else writes while the group is open; it is opened on first use.
	versions   *pebbledb.Iterator
	aggregates map[aggregateRef]aggregateState
	ids        map[ulid.ULID]eventPlace
	// value is scratch space for event records; the batch copies them.
	value []byte
}

type aggregateRef struct{ typ, id string }

// aggregateState is an aggregate's last version and routing key; version 0
// means it has no events. pending marks a state set by a commit of the
// group.
type aggregateState struct {
	version    int64
	routingKey string
	pending    bool
}

// verdict is the committer's decision on one request. dependsOnGroup marks
// a rejection that rests on a commit of the same group, which stands only
// if the group's batch is written.
type verdict struct {
	err            error
	dependsOnGroup bool
}

func (c *committer) newGroup() *group {
	return &group{
		c:          c,
		batch:      c.db.NewBatch(),
		aggregates: make(map[aggregateRef]aggregateState),
		ids:        make(map[ulid.ULID]eventPlace),
	}
}

func (g *group) close() {
	if g.versions != nil {
		g.versions.Close()
	}
	g.batch.Close()
}

// admit checks r against the aggregate's last version and the event ids
// already stored, and reports why it cannot be written, if it cannot.
func (g *group) admit(r *request) verdict {
	c := r.commit
	st, err := g.aggregate(c.AggregateType, c.AggregateID)
	if err != nil {
		return verdict{err: fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)}
	}
	if st.version != c.ExpectedVersion {
		return g.versionConflict(c, st)
	}
	var inCommit map[ulid.ULID]int
	if len(c.Events) > 1 {
		inCommit = make(map[ulid.ULID]int, len(c.Events))
	}
	for i, e := range c.Events {
		if j, dup := inCommit[e.ID]; dup {
			return verdict{err: fmt.Errorf("%w: event id %s is used by versions %d and %d of the commit to %s/%s",
				evento.ErrInvalidArgument, e.ID, c.Events[j].Version, e.Version, c.AggregateType, c.AggregateID)}
		}
		if inCommit != nil {
			inCommit[e.ID] = i
		}
		place, found, fromGroup, err := g.place(e.ID)
		switch {
		case err != nil:
			return verdict{err: fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)}
		case found:
			return verdict{dependsOnGroup: fromGroup, err: fmt.Errorf(
				"%w: event id %s of %s/%s version %d is already used by %s/%s version %d",
				evento.ErrInvalidArgument, e.ID, c.AggregateType, c.AggregateID, e.Version,
				place.aggregateType, place.aggregateID, place.version)}
		}
	}
	return verdict{}
}

// versionConflict explains why the aggregate is not at the commit's
// expected version: this very commit was stored before (a retry), or
// another writer moved the aggregate on.
func (g *group) versionConflict(c *evento.Commit, st aggregateState) verdict {
	first := c.Events[0]
	place, found, fromGroup, err := g.place(first.ID)
	switch {
	case err != nil:
		return verdict{err: fmt.Errorf("evento: append to %s/%s: %w", c.AggregateType, c.AggregateID, err)}
	case found && place.is(first):
		return verdict{dependsOnGroup: fromGroup, err: fmt.Errorf("%w: %s/%s already holds event %s at version %d",
			evento.ErrAlreadyAppended, c.AggregateType, c.AggregateID, first.ID, first.Version)}
	}
	return verdict{dependsOnGroup: st.pending, err: fmt.Errorf("%w: %s/%s is at version %d, the commit expected %d",
		evento.ErrVersionConflict, c.AggregateType, c.AggregateID, st.version, c.ExpectedVersion)}
}

// aggregate returns the aggregate's state after the group's commits so
// far.
func (g *group) aggregate(typ, id string) (aggregateState, error) {
	ref := aggregateRef{typ, id}
	if st, ok := g.aggregates[ref]; ok {
		return st, nil
	}
	if st, ok := g.c.known[ref]; ok {
		g.aggregates[ref] = st
		return st, nil
	}
	st, err := g.storedAggregate(typ, id)
	if err != nil {
		return aggregateState{}, err
	}
	g.aggregates[ref] = st
	return st, nil
}

// storedAggregate reads the aggregate's last version from the last key of
// its version index, and its routing key from that version's event.
func (g *group) storedAggregate(typ, id string) (aggregateState, error) {
	if g.versions == nil {
		table := g.c.keys.table(tagAggregate)
		it, err := g.c.db.NewIter(&pebbledb.IterOptions{LowerBound: table, UpperBound: prefixEnd(table)})
		if err != nil {
			return aggregateState{}, err
		}
		g.versions = it
	}
	prefix := g.c.keys.aggregate(typ, id)
	if !g.versions.SeekLT(prefixEnd(prefix)) {
		return aggregateState{}, g.versions.Error()
	}
	key := g.versions.Key()
	if len(key) != len(prefix)+8 || string(key[:len(prefix)]) != string(prefix) {
		return aggregateState{}, nil
	}
	version := binary.BigEndian.Uint64(key[len(prefix):])
	pos, err := g.versions.ValueAndErr()
	if err != nil {
		return aggregateState{}, err
	}
	if len(pos) != 8 || version == 0 || version > 1<<63-1 {
		return aggregateState{}, fmt.Errorf("%w: version entry %d of %s/%s", errCorrupt, version, typ, id)
	}
	v, closer, err := g.c.db.Get(g.c.keys.event(binary.BigEndian.Uint64(pos)))
	if err != nil {
		return aggregateState{}, fmt.Errorf("read event of %s/%s version %d: %w", typ, id, version, err)
	}
	defer closer.Close()
	routingKey, err := decodeRoutingKey(v)
	if err != nil {
		return aggregateState{}, err
	}
	return aggregateState{version: int64(version), routingKey: routingKey}, nil
}

// place returns where an event id is stored, in the group or in the
// database, and whether it was found in the group.
func (g *group) place(id ulid.ULID) (place eventPlace, found, fromGroup bool, err error) {
	if p, ok := g.ids[id]; ok {
		return p, true, true, nil
	}
	if id.Compare(g.c.maxID) > 0 {
		return eventPlace{}, false, false, nil
	}
	pos, closer, err := g.c.db.Get(g.c.keys.eventID(id))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return eventPlace{}, false, false, nil
	}
	if err != nil {
		return eventPlace{}, false, false, fmt.Errorf("look up event id %s: %w", id, err)
	}
	defer closer.Close()
	if len(pos) != 8 {
		return eventPlace{}, false, false, fmt.Errorf("%w: id entry of event %s", errCorrupt, id)
	}
	v, vcloser, err := g.c.db.Get(g.c.keys.event(binary.BigEndian.Uint64(pos)))
	if err != nil {
		return eventPlace{}, false, false, fmt.Errorf("read event %s: %w", id, err)
	}
	defer vcloser.Close()
	place, err = decodeEventPlace(v)
	return place, err == nil, false, err
}

// write adds an admitted commit to the batch, its events numbered from
// first, and records its effect on the group's aggregates and ids.
func (g *group) write(r *request, first uint64, now int64) error {
	c := r.commit
	ref := aggregateRef{c.AggregateType, c.AggregateID}
	st := g.aggregates[ref]
	r.routingKey = st.routingKey
	if st.version == 0 {
		r.routingKey = c.RoutingKey
	}
	r.first = first
	k := g.c.keys
	typeIndex := k.typeIndex(c.AggregateType)
	aggregate := k.aggregate(c.AggregateType, c.AggregateID)
	routingIndex := k.routingIndex(r.routingKey)
	var pos [8]byte
	for i, e := range c.Events {
		p := first + uint64(i)
		binary.BigEndian.PutUint64(pos[:], p)
		r.timestamps[i] = now
		if !e.Timestamp.IsZero() {
			r.timestamps[i] = e.Timestamp.UnixMicro()
		}
		g.value = appendEventRecord(g.value[:0], r.timestamps[i], r.routingKey, r.bodies[i])
		entries := [...]struct{ key, value []byte }{
			{k.event(p), g.value},
			{append(typeIndex, pos[:]...), nil},
			{appendUint64(aggregate, uint64(e.Version)), pos[:]},
			{append(k.nameIndex(c.AggregateType, e.Name), pos[:]...), nil},
			{k.eventID(e.ID), pos[:]},
			{append(routingIndex, pos[:]...), nil},
		}
		n := len(entries)
		if r.routingKey == "" { // only keyed events are indexed by key
			n--
		}
		for _, en := range entries[:n] {
			if err := g.batch.Set(en.key, en.value, nil); err != nil {
				return err
			}
		}
		g.ids[e.ID] = eventPlace{aggregateType: c.AggregateType, aggregateID: c.AggregateID, version: e.Version}
		if e.ID.Compare(g.c.maxID) > 0 {
			g.c.maxID = e.ID
		}
	}
	g.aggregates[ref] = aggregateState{
		version:    c.Events[len(c.Events)-1].Version,
		routingKey: r.routingKey,
		pending:    true,
	}
	return nil
}

// maxKnown bounds the aggregate cache; past it, arbitrary entries go.
const maxKnown = 1 << 16

// remember caches the aggregate states of a group whose batch was applied.
func (g *group) remember() {
	for ref, st := range g.aggregates {
		if _, ok := g.c.known[ref]; !ok && len(g.c.known) >= maxKnown {
			for old := range g.c.known {
				delete(g.c.known, old)
				break
			}
		}
		st.pending = false
		g.c.known[ref] = st
	}
}
