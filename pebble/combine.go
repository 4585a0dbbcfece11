package pebble

// union yields every position that any of its streams yields, once: the
// OR of a query's filters, merged by position like the merge step of a
// merge sort.
type union struct {
	streams  []stream
	live     []bool
	backward bool
	cur      uint64
	e        error
}

func newUnion(streams []stream, backward bool) *union {
	return &union{streams: streams, live: make([]bool, len(streams)), backward: backward}
}

func (u *union) seek(p uint64) bool {
	for i, s := range u.streams {
		u.live[i] = s.seek(p)
	}
	return u.pick()
}

func (u *union) next() bool {
	for i, s := range u.streams {
		if u.live[i] && s.pos() == u.cur {
			u.live[i] = s.next()
		}
	}
	return u.pick()
}

// pick makes the nearest position of the live streams current.
func (u *union) pick() bool {
	found := false
	for i, s := range u.streams {
		if err := s.err(); err != nil {
			u.e = err
			return false
		}
		if !u.live[i] {
			continue
		}
		if p := s.pos(); !found || beyond(u.cur, p, u.backward) {
			u.cur, found = p, true
		}
	}
	return found
}

func (u *union) pos() uint64 { return u.cur }
func (u *union) err() error  { return u.e }

// intersection yields the positions both of its streams yield: the AND of
// a filter and a routing key, or of an aggregate and an event name. Each
// stream in turn seeks the other's position (a leapfrog join), so a
// selective stream skips through a large one instead of reading it all.
type intersection struct {
	a, b stream
}

func (x *intersection) seek(p uint64) bool {
	if !x.a.seek(p) {
		return false
	}
	return x.align()
}

func (x *intersection) next() bool {
	if !x.a.next() {
		return false
	}
	return x.align()
}

// align moves both streams forward until they stand on the same position.
func (x *intersection) align() bool {
	for {
		if !x.b.seek(x.a.pos()) {
			return false
		}
		if x.b.pos() == x.a.pos() {
			return true
		}
		if !x.a.seek(x.b.pos()) {
			return false
		}
		if x.a.pos() == x.b.pos() {
			return true
		}
	}
}

func (x *intersection) pos() uint64 { return x.a.pos() }

func (x *intersection) err() error {
	if err := x.a.err(); err != nil {
		return err
	}
	return x.b.err()
}
