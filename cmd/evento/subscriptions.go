package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

var subscriptionsCommand = &command{
	name:    "subscriptions",
	args:    "[list | status KEY | parked KEY | reset KEY] [flags]",
	summary: "list subscriptions with their leases, lag and last error; list parked events; reset one",
	help: `
evento subscriptions [list]
    Every subscription the store keeps: its key; the worker that holds (or
    last held) its lease and the lease's state; the epoch (one more per
    takeover); the position of its cursor; its lag; and when it last
    acknowledged. Needs a store that can list subscriptions (exit 5 if not;
    'status KEY' works on every store).

evento subscriptions status KEY
    The same for one subscription. Exits 3 when the store has no such key.

evento subscriptions parked KEY [--limit N]
    The events the subscription parked (its handler kept failing and the
    subscription sets such events aside): id, aggregate, version, name, when
    and the error, oldest first. Needs a store that keeps dead letters
    (exit 5 if not). Run them again with Subscription.Replay from the
    program that owns the handlers.

evento subscriptions reset KEY [--to start|end|CURSOR] [--force] [--follow]
    Moves the subscription's cursor: to the start of the log (the default),
    so that its next worker replays every event; to the end, so that it
    skips everything committed so far; or to a cursor or position that
    'evento events' printed, so that it resumes after that event. A reset
    takes the subscription's lease the way a worker does, so it is refused
    (exit 4) while a live worker holds it: stop the workers, wait for the
    lease to expire, or pass --force, which takes the lease away from the
    worker (it stops at its next acknowledgement, then resumes from the new
    cursor; events it handled since its last acknowledgement are handled
    again). --force needs a store that can break leases (exit 5 if not).
    --follow then shows the replay's progress until the subscription has
    caught up with the log as it was at the reset, until its cursor stops
    moving for --idle, or until interrupted.

Lag: LAG counts the events in the whole log after the subscription's
cursor, whatever its filters: the command does not know which events the
subscription's handlers cover. On a single store a worker moves its
cursor over the events it does not handle, while it runs at most once per
acknowledgement interval, so a subscription caught up with its own events
may still count events of other types or routing keys committed since (and
always does when it runs over a read/write split or a group). LAG TIME is how long ago the first event after the cursor was
committed (0 when no event follows it). JSON also gives acknowledged_lag,
the lag the worker reported at its last acknowledgement. Lease states:
held (a live worker), expired (its worker stopped renewing: a new worker
may take over), released (no worker), stopped (no worker, and the last
acknowledgement recorded a handler failure that stopped the subscription).
LAST ERROR is the last handler failure recorded: "fatal" when it stopped
the subscription, "passed" when the event was parked or passed over.`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		var (
			to     = fs.String("to", "start", "reset: where to move the cursor: start, end, or a cursor or position")
			force  = fs.Bool("force", false, "reset: break the lease of a live worker")
			follow = fs.Bool("follow", false, "reset: show the replay's progress")
			idle   = fs.Duration("idle", 30*time.Second, "reset --follow: give up when the cursor has not moved for this long")
			poll   = fs.Duration("interval", 200*time.Millisecond, "reset --follow: how often to check progress")
			limit  = fs.Int("limit", 100, "parked: how many events to list (1..10000)")
		)
		return func(ctx context.Context, c *cli, args []string) error {
			sub := "list"
			if len(args) > 0 {
				sub, args = args[0], args[1:]
			}
			switch {
			case sub == "list" && len(args) == 0:
				return listSubscriptions(ctx, c)
			case sub == "status" && len(args) == 1:
				return subscriptionStatus(ctx, c, args[0])
			case sub == "parked" && len(args) == 1:
				return listParked(ctx, c, args[0], *limit)
			case sub == "reset" && len(args) == 1:
				if *poll <= 0 || *idle <= 0 {
					return usageErrorf("--interval and --idle must be positive")
				}
				r := reset{key: args[0], to: *to, force: *force, follow: *follow, idle: *idle, poll: *poll}
				return r.run(ctx, c)
			case sub == "list" || sub == "status" || sub == "parked" || sub == "reset":
				return usageErrorf("subscriptions %s: wrong number of arguments", sub).hint("run 'evento help subscriptions'")
			}
			return usageErrorf("subscriptions: unknown subcommand %q", sub).hint("want list, status KEY, parked KEY or reset KEY")
		}
	},
}

// subscriptionView is a subscription in JSON.
type subscriptionView struct {
	Key            string       `json:"key"`
	Owner          string       `json:"owner,omitempty"`
	Lease          string       `json:"lease"`
	LeaseExpiresAt *time.Time   `json:"lease_expires_at,omitempty"`
	Epoch          int64        `json:"epoch"`
	Cursor         cursor.Value `json:"cursor"`
	Position       *string      `json:"position"`
	LagEvents      int64        `json:"lag_events"`
	LagSeconds     float64      `json:"lag_seconds"`
	AckedLag       float64      `json:"acknowledged_lag_seconds"`
	UpdatedAt      *time.Time   `json:"updated_at,omitempty"`
	LastError      *errorView   `json:"last_error,omitempty"`
}

// errorView is a recorded handler failure in JSON.
type errorView struct {
	EventID string    `json:"event_id"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	Fatal   bool      `json:"fatal"`
}

// leaseState names the state of a subscription's lease at now.
func leaseState(st *evento.SubscriptionStatus, now time.Time) string {
	switch {
	case st.Stopped(now):
		return "stopped"
	case st.Owner == "":
		return "released"
	case st.ExpiresAt.Before(now):
		return "expired"
	}
	return "held"
}

// viewSubscription adds the lag to a subscription's stored state.
func viewSubscription(ctx context.Context, exec evento.Executor, st *evento.SubscriptionStatus, now time.Time) (subscriptionView, error) {
	events, age, err := lag(ctx, exec, st.Cursor, now)
	if err != nil {
		return subscriptionView{}, fmt.Errorf("subscription %s: lag: %w", st.Key, err)
	}
	v := subscriptionView{
		Key:        st.Key,
		Owner:      st.Owner,
		Lease:      leaseState(st, now),
		Epoch:      st.Epoch,
		Cursor:     st.Cursor,
		Position:   positionJSON(st.Cursor),
		LagEvents:  events,
		LagSeconds: age.Seconds(),
		AckedLag:   st.Lag.Seconds(),
	}
	if !st.ExpiresAt.IsZero() && st.Owner != "" {
		t := st.ExpiresAt
		v.LeaseExpiresAt = &t
	}
	if !st.UpdatedAt.IsZero() {
		t := st.UpdatedAt
		v.UpdatedAt = &t
	}
	if e := st.LastError; e != nil {
		v.LastError = &errorView{EventID: e.EventID, Message: e.Message, At: e.At, Fatal: e.Fatal}
	}
	return v, nil
}

// lag measures how far the log runs past after: the number of events after
// it, and how long ago the first of them was committed.
func lag(ctx context.Context, exec evento.Executor, after cursor.Value, now time.Time) (int64, time.Duration, error) {
	n, err := countAfter(ctx, exec, after)
	if err != nil {
		return 0, 0, err
	}
	page, err := exec.Read(ctx, evento.Query{Args: cursor.Forward(1, after)})
	if err != nil {
		return 0, 0, err
	}
	if len(page.Edges) == 0 {
		return n, 0, nil
	}
	return n, max(now.Sub(page.Edges[0].Node.Timestamp), 0), nil
}

// countAfter counts the events after a cursor: at once on a store that
// counts, else by paging through the log.
func countAfter(ctx context.Context, exec evento.Executor, after cursor.Value) (int64, error) {
	if s, ok := exec.(evento.Statistician); ok {
		return s.CountAfter(ctx, after)
	}
	var n int64
	for {
		page, err := exec.Read(ctx, evento.Query{Args: cursor.Forward(cursor.MaxLimit, after)})
		if err != nil {
			return 0, err
		}
		n += int64(len(page.Edges))
		if !page.PageInfo.HasNextPage {
			return n, nil
		}
		after = page.PageInfo.EndCursor
	}
}

func listSubscriptions(ctx context.Context, c *cli) error {
	exec, done, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	return printSubscriptionList(ctx, c, exec)
}

func printSubscriptionList(ctx context.Context, c *cli, exec evento.Executor) error {
	lister, ok := exec.(evento.SubscriptionLister)
	if !ok {
		return wrap(exitUnsupported, fmt.Errorf("%w: listing subscriptions", evento.ErrUnsupported)).
			hint("this store cannot list its subscriptions; ask for one: evento subscriptions status KEY")
	}
	list, err := lister.Subscriptions(ctx)
	if err != nil {
		return err
	}
	return printSubscriptions(ctx, c, exec, list)
}

func subscriptionStatus(ctx context.Context, c *cli, key string) error {
	exec, done, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	st, err := exec.SubscriptionStatus(ctx, key)
	if err != nil {
		return subscriptionError(err)
	}
	return printSubscriptions(ctx, c, exec, []*evento.SubscriptionStatus{st})
}

// subscriptionError adds advice to an error about one subscription.
func subscriptionError(err error) error {
	if errors.Is(err, evento.ErrNotFound) {
		return wrap(exitNotFound, err).hint("'evento subscriptions' lists the keys the store knows; a subscription appears once it has run")
	}
	return err
}

func printSubscriptions(ctx context.Context, c *cli, exec evento.Executor, list []*evento.SubscriptionStatus) error {
	now := time.Now()
	views := make([]subscriptionView, 0, len(list))
	for _, st := range list {
		v, err := viewSubscription(ctx, exec, st, now)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	if c.json() {
		return writeJSON(c.stdout, views)
	}
	if len(views) == 0 {
		fmt.Fprintln(c.stderr, "no subscriptions")
		return nil
	}
	t := newTable(c.stdout, "KEY", "OWNER", "LEASE", "EPOCH", "POSITION", "LAG", "LAG TIME", "ACKNOWLEDGED", "LAST ERROR")
	for i, v := range views {
		st := list[i]
		lease := v.Lease
		switch v.Lease {
		case "held":
			lease = "held, expires " + formatAgo(st.ExpiresAt, now)
		case "expired":
			lease = "expired " + formatAgo(st.ExpiresAt, now)
		}
		t.row(v.Key, orDash(v.Owner), lease, strconv.FormatInt(v.Epoch, 10), formatPosition(v.Cursor),
			strconv.FormatInt(v.LagEvents, 10), roundDuration(time.Duration(v.LagSeconds*float64(time.Second))).String(),
			formatAgo(st.UpdatedAt, now), lastError(st.LastError, now))
	}
	return t.flush()
}

// lastError summarises a recorded failure for the table.
func lastError(e *evento.SubscriptionError, now time.Time) string {
	if e == nil {
		return "-"
	}
	kind := "passed"
	if e.Fatal {
		kind = "fatal"
	}
	return fmt.Sprintf("%s %s, event %s: %s", kind, formatAgo(e.At, now), e.EventID, truncate(e.Message, 60))
}

// parkedView is a parked event in JSON.
type parkedView struct {
	EventID       string    `json:"event_id"`
	AggregateType string    `json:"aggregate_type"`
	AggregateID   string    `json:"aggregate_id"`
	Version       int64     `json:"version"`
	Name          string    `json:"name"`
	ParkedAt      time.Time `json:"parked_at"`
	Error         string    `json:"error"`
}

func listParked(ctx context.Context, c *cli, key string, limit int) error {
	if limit < 1 || limit > 10000 {
		return usageErrorf("--limit must be within 1..10000")
	}
	exec, done, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	parked, err := evento.ParkedEvents(ctx, evento.New(exec), key, limit)
	if err != nil {
		return err
	}
	views := make([]parkedView, len(parked))
	for i, p := range parked {
		views[i] = parkedView{EventID: p.ID.String(), AggregateType: p.AggregateType, AggregateID: p.AggregateID,
			Version: p.Version, Name: p.Name, ParkedAt: p.ParkedAt, Error: p.Error}
	}
	if c.json() {
		return writeJSON(c.stdout, views)
	}
	if len(views) == 0 {
		fmt.Fprintf(c.stderr, "subscription %s has no parked events\n", key)
		return nil
	}
	now := time.Now()
	t := newTable(c.stdout, "EVENT", "AGGREGATE", "VERSION", "NAME", "PARKED", "ERROR")
	for _, v := range views {
		t.row(v.EventID, v.AggregateType+"/"+v.AggregateID, strconv.FormatInt(v.Version, 10), v.Name,
			formatAgo(v.ParkedAt, now), truncate(v.Error, 80))
	}
	return t.flush()
}
