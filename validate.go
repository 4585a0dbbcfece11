package evento

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits every executor enforces on names.
const (
	// MaxNameLen is the longest aggregate type, aggregate id, event name or
	// routing key, in bytes.
	MaxNameLen = 255
	// MaxCommitEvents is the most events one commit may hold.
	MaxCommitEvents = 10_000
	// MaxFilters is the most filters one query may hold.
	MaxFilters = 256
)

// The range of event timestamps every executor stores as given: years 1
// to 9999 in UTC (stores keep microseconds since 1970 in 64 bits, or
// PostgreSQL's timestamptz, and would wrap or refuse times far outside it).
// The zero time, which asks for the time of the append, is its first
// instant.
var (
	minTimestamp = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC)
)

func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidArgument, what)
	case len(s) > MaxNameLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidArgument, what, MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	return nil
}

// Validate reports a commit that no executor may store: no events, bad
// names, events of another aggregate, versions that do not follow
// ExpectedVersion, missing ids, or timestamps outside years 1 to 9999
// (UTC).
// Executors call it before writing.
func (c *Commit) Validate() error {
	if len(c.Events) == 0 {
		return ErrNoEvents
	}
	if len(c.Events) > MaxCommitEvents {
		return fmt.Errorf("%w: %d events in one commit, limit %d", ErrInvalidArgument, len(c.Events), MaxCommitEvents)
	}
	if err := checkName("aggregate type", c.AggregateType); err != nil {
		return err
	}
	if err := checkName("aggregate id", c.AggregateID); err != nil {
		return err
	}
	if c.RoutingKey != "" {
		if err := checkName("routing key", c.RoutingKey); err != nil {
			return err
		}
	}
	if c.ExpectedVersion < 0 {
		return fmt.Errorf("%w: negative expected version %d", ErrInvalidArgument, c.ExpectedVersion)
	}
	seen := make(map[[16]byte]bool, len(c.Events))
	for i, e := range c.Events {
		if e == nil {
			return fmt.Errorf("%w: nil event at index %d", ErrInvalidArgument, i)
		}
		if e.AggregateType != c.AggregateType || e.AggregateID != c.AggregateID {
			return fmt.Errorf("%w: event %d belongs to %s/%s, commit is for %s/%s",
				ErrInvalidArgument, i, e.AggregateType, e.AggregateID, c.AggregateType, c.AggregateID)
		}
		if want := c.ExpectedVersion + int64(i) + 1; e.Version != want {
			return fmt.Errorf("%w: event %d has version %d, want %d", ErrInvalidArgument, i, e.Version, want)
		}
		if err := checkName("event name", e.Name); err != nil {
			return err
		}
		if e.ID.IsZero() {
			return fmt.Errorf("%w: event %d has no id", ErrInvalidArgument, i)
		}
		if e.Timestamp.Before(minTimestamp) || e.Timestamp.After(maxTimestamp) {
			return fmt.Errorf("%w: event %d has timestamp %s, outside years 1 to 9999 UTC", ErrInvalidArgument, i, e.Timestamp)
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: event id %s appears twice in one commit", ErrInvalidArgument, e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}

// Validate reports a query no executor can answer: a filter without an
// aggregate type, too many filters, or bad page arguments.
func (q *Query) Validate() error {
	if len(q.Filters) > MaxFilters {
		return fmt.Errorf("%w: %d filters, limit %d", ErrInvalidArgument, len(q.Filters), MaxFilters)
	}
	for _, f := range q.Filters {
		if f.AggregateType == "" {
			return fmt.Errorf("%w: filter without aggregate type", ErrInvalidArgument)
		}
	}
	if err := q.Args.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// Match reports whether e satisfies the query's filters and routing key. It
// is the reference semantics every executor's Read implements.
func (q *Query) Match(e *Event) bool {
	switch q.RoutingKey.mode {
	case routingNone:
		if e.RoutingKey != "" {
			return false
		}
	case routingValue:
		if e.RoutingKey != q.RoutingKey.value {
			return false
		}
	}
	if len(q.Filters) == 0 {
		return true
	}
	for _, f := range q.Filters {
		if f.AggregateType == e.AggregateType &&
			(f.AggregateID == "" || f.AggregateID == e.AggregateID) &&
			(f.Name == "" || f.Name == e.Name) {
			return true
		}
	}
	return false
}
