package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// defaultPage is the page size of `evento events` without --first or
// --last; followTail is how many of the newest events --follow shows
// before it waits for new ones.
const (
	defaultPage = 50
	followTail  = 10
	dataWidth   = 60
)

var eventsCommand = &command{
	name:    "events",
	args:    "[flags]",
	summary: "list events, page through the log, or follow new events live",
	help: `
Lists one page of the events that match the filters, in global order, the
way Store.Read does. Filters: --type with optional --id and --name form one
filter; --filter adds more (they are OR-ed); --routing-key or
--no-routing-key narrow further.

Pages: --first N [--after C] reads forward (the default: the first 50
events); --last N [--before C] reads backward (the newest N). C is a cursor
or a position that an earlier listing printed. The table shows positions;
JSON shows each event's cursor and the page's page_info. When more events
exist, a hint on standard error gives the command for the next page.

--follow prints the newest events (10 unless --first/--last say otherwise)
and then every new matching event as it is committed, by any process,
until interrupted (Ctrl-C, which exits 0). It polls the store every
--interval. With -o json it prints one JSON object per line.

Payloads are decoded for humans: CBOR (the default codec) and JSON payloads
are shown as JSON, other bytes as base64 (see data_encoding in JSON).`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		var (
			q        queryFlags
			follow   = fs.Bool("follow", false, "after the page, print new events as they are committed until interrupted")
			interval = fs.Duration("interval", 200*time.Millisecond, "how often --follow polls the store")
			wide     = fs.Bool("wide", false, "show whole payloads and the metadata in the table")
		)
		q.declare(fs)
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) > 0 {
				return usageErrorf("events takes no arguments, got %q", args).hint("filter with --type, --id, --name or --filter")
			}
			query, err := q.query(*follow)
			if err != nil {
				return err
			}
			if *follow && *interval <= 0 {
				return usageErrorf("--interval must be positive")
			}
			exec, done, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer done()
			l := &eventLister{c: c, exec: exec, wide: *wide}
			if *follow {
				return l.follow(ctx, query, *interval)
			}
			return l.page(ctx, query)
		}
	},
}

// queryFlags are the filter and page flags of `evento events`.
type queryFlags struct {
	typ, id, name string
	filters       filterList
	routingKey    string
	noRoutingKey  bool
	first, last   int
	after, before string
}

func (q *queryFlags) declare(fs *flagSet) {
	fs.StringVar(&q.typ, "type", "", "aggregate `type` of the first filter, e.g. bank/Account")
	fs.StringVar(&q.id, "id", "", "aggregate `id` of the first filter (needs --type)")
	fs.StringVar(&q.name, "name", "", "event `name` of the first filter (needs --type)")
	fs.Var(&q.filters, "filter", "one more `filter`, type=T[,id=I][,name=N]; repeatable, filters are OR-ed")
	fs.StringVar(&q.routingKey, "routing-key", "", "only events with this routing `key`")
	fs.BoolVar(&q.noRoutingKey, "no-routing-key", false, "only events without a routing key")
	fs.IntVar(&q.first, "first", 0, "read `N` events forward (default 50)")
	fs.StringVar(&q.after, "after", "", "read forward after this `cursor` or position")
	fs.IntVar(&q.last, "last", 0, "read the last `N` events, backward")
	fs.StringVar(&q.before, "before", "", "read backward before this `cursor` or position")
}

// query builds the store query the flags describe.
func (q *queryFlags) query(follow bool) (evento.Query, error) {
	var query evento.Query
	switch {
	case q.typ != "":
		query.Filters = append(query.Filters, evento.Filter{AggregateType: q.typ, AggregateID: q.id, Name: q.name})
	case q.id != "" || q.name != "":
		return query, usageErrorf("--id and --name need --type")
	}
	query.Filters = append(query.Filters, q.filters...)
	switch {
	case q.routingKey != "" && q.noRoutingKey:
		return query, usageErrorf("--routing-key and --no-routing-key exclude each other")
	case q.routingKey != "":
		query.RoutingKey = evento.RoutingKeyOf(q.routingKey)
	case q.noRoutingKey:
		query.RoutingKey = evento.NoRoutingKey()
	}
	after, err := parseCursor("--after", q.after)
	if err != nil {
		return query, err
	}
	before, err := parseCursor("--before", q.before)
	if err != nil {
		return query, err
	}
	backward := q.last > 0 || before != ""
	switch {
	case q.first < 0 || q.last < 0:
		return query, usageErrorf("--first and --last must not be negative")
	case backward && (q.first > 0 || after != ""):
		return query, usageErrorf("--first/--after read forward and --last/--before backward: use one pair")
	case follow && before != "":
		return query, usageErrorf("--follow continues after the newest event: it does not combine with --before")
	case backward:
		query.Args = cursor.Backward(cmpOr(q.last, defaultPage), before)
	case follow && q.first == 0 && after == "":
		query.Args = cursor.Backward(followTail, "")
	default:
		query.Args = cursor.Forward(cmpOr(q.first, defaultPage), after)
	}
	if err := query.Validate(); err != nil {
		return query, wrap(exitUsage, err)
	}
	return query, nil
}

func cmpOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// positionPattern matches a position as the table prints it: "42" or
// "tx:seq".
var positionPattern = regexp.MustCompile(`^(?:(\d+):)?(\d+)$`)

// parseCursor reads a cursor argument: a position as the table prints it,
// or a cursor as JSON output gives it.
func parseCursor(flagName, s string) (cursor.Value, error) {
	m := positionPattern.FindStringSubmatch(s)
	if m == nil {
		return cursor.Value(s), nil
	}
	var p cursor.Position
	var err error
	if m[1] != "" {
		if p.Tx, err = strconv.ParseUint(m[1], 10, 64); err != nil {
			return "", usageErrorf("%s %s: %v", flagName, s, err)
		}
	}
	if p.Seq, err = strconv.ParseUint(m[2], 10, 64); err != nil {
		return "", usageErrorf("%s %s: %v", flagName, s, err)
	}
	return cursor.Encode(p), nil
}

// filterList is the repeatable --filter flag.
type filterList []evento.Filter

func (f *filterList) String() string { return "" }

func (f *filterList) Set(s string) error {
	var filter evento.Filter
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return fmt.Errorf("%q: want type=T[,id=I][,name=N]", s)
		}
		switch strings.TrimSpace(k) {
		case "type":
			filter.AggregateType = v
		case "id":
			filter.AggregateID = v
		case "name":
			filter.Name = v
		default:
			return fmt.Errorf("%q: unknown field %q, want type, id or name", s, k)
		}
	}
	if filter.AggregateType == "" {
		return fmt.Errorf("%q: a filter needs type=", s)
	}
	*f = append(*f, filter)
	return nil
}

// eventLister prints events as tables or JSON.
type eventLister struct {
	c    *cli
	exec evento.Executor
	wide bool
	tbl  *table
}

// pageView is one page in JSON.
type pageView struct {
	Events   []eventView  `json:"events"`
	PageInfo pageInfoView `json:"page_info"`
}

// pageInfoView is cursor.PageInfo in JSON.
type pageInfoView struct {
	HasPreviousPage bool         `json:"has_previous_page"`
	HasNextPage     bool         `json:"has_next_page"`
	StartCursor     cursor.Value `json:"start_cursor"`
	EndCursor       cursor.Value `json:"end_cursor"`
}

// page prints one page and, in a table, where the next one starts.
func (l *eventLister) page(ctx context.Context, q evento.Query) error {
	page, err := l.exec.Read(ctx, q)
	if err != nil {
		return readError(err)
	}
	if l.c.json() {
		out := pageView{Events: make([]eventView, 0, len(page.Edges)), PageInfo: pageInfoView(page.PageInfo)}
		for _, edge := range page.Edges {
			out.Events = append(out.Events, viewEvent(edge))
		}
		return writeJSON(l.c.stdout, out)
	}
	if err := l.rows(page.Edges); err != nil {
		return err
	}
	switch info := page.PageInfo; {
	case len(page.Edges) == 0:
		fmt.Fprintln(l.c.stderr, "no events")
	case info.HasNextPage:
		fmt.Fprintf(l.c.stderr, "more events: add --after %s\n", formatPosition(info.EndCursor))
	case info.HasPreviousPage:
		fmt.Fprintf(l.c.stderr, "older events: add --before %s\n", formatPosition(info.StartCursor))
	}
	return nil
}

// rows prints events as table rows, the header before the first.
func (l *eventLister) rows(edges []cursor.Edge[*evento.Event]) error {
	if len(edges) == 0 {
		return nil
	}
	if l.tbl == nil {
		header := []string{"POSITION", "TIME", "TYPE", "ID", "VERSION", "NAME", "ROUTING KEY", "DATA"}
		if l.wide {
			header = append(header, "METADATA")
		}
		l.tbl = newTable(l.c.stdout, header...)
	}
	for _, edge := range edges {
		v := viewEvent(edge)
		data := compactJSON(v.Data)
		if s, ok := v.Data.(string); ok && v.DataEncoding == encodingBase64 {
			data = "base64:" + s
		}
		if !l.wide {
			data = truncate(data, dataWidth)
		}
		cells := []string{v.Position, formatTime(v.Timestamp), v.AggregateType, v.AggregateID,
			strconv.FormatInt(v.Version, 10), v.Name, orDash(v.RoutingKey), data}
		if l.wide {
			md := ""
			if v.Metadata != nil {
				md = compactJSON(v.Metadata)
			}
			cells = append(cells, md)
		}
		l.tbl.row(cells...)
	}
	return l.tbl.flush()
}

// follow prints the page q selects, then polls for events after it until
// ctx ends.
func (l *eventLister) follow(ctx context.Context, q evento.Query, interval time.Duration) error {
	page, err := l.exec.Read(ctx, q)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return readError(err)
	}
	after := q.Args.After
	if n := len(page.Edges); n > 0 {
		after = page.Edges[n-1].Cursor
	}
	if err := l.stream(page.Edges); err != nil {
		return err
	}
	fmt.Fprintln(l.c.stderr, "following new events; press Ctrl-C to stop")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		q.Args = cursor.Forward(1000, after)
		page, err := l.exec.Read(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return readError(err)
		}
		if n := len(page.Edges); n > 0 {
			after = page.Edges[n-1].Cursor
			if err := l.stream(page.Edges); err != nil {
				return err
			}
		}
		if page.PageInfo.HasNextPage {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// stream prints events as they come: table rows, or one JSON object each.
func (l *eventLister) stream(edges []cursor.Edge[*evento.Event]) error {
	if !l.c.json() {
		return l.rows(edges)
	}
	for _, edge := range edges {
		if err := writeJSONLine(l.c.stdout, viewEvent(edge)); err != nil {
			return err
		}
	}
	return nil
}

// readError says which operation failed.
func readError(err error) error {
	return fmt.Errorf("read events: %w", err)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var aggregateCommand = &command{
	name:    "aggregate",
	args:    "TYPE ID [flags]",
	summary: "show an aggregate's events and current version",
	help: `
Prints every event of the aggregate TYPE/ID in order, and its current
version (the expected version of its next commit) and routing key. Exits 3
when the aggregate has no events.`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		wide := fs.Bool("wide", false, "show whole payloads and the metadata in the table")
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) != 2 {
				return usageErrorf("aggregate needs TYPE and ID, got %d arguments", len(args)).
					hint("e.g. evento aggregate bank/Account 01J9ZQ3S4W6V7Y8Z9A0B1C2D3E")
			}
			typ, id := args[0], args[1]
			exec, done, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer done()
			return showAggregate(ctx, c, exec, typ, id, *wide)
		}
	},
}

// aggregateView is an aggregate in JSON.
type aggregateView struct {
	AggregateType string      `json:"aggregate_type"`
	AggregateID   string      `json:"aggregate_id"`
	Version       int64       `json:"version"`
	RoutingKey    string      `json:"routing_key,omitempty"`
	Events        []eventView `json:"events"`
}

func showAggregate(ctx context.Context, c *cli, exec evento.Executor, typ, id string, wide bool) error {
	q := evento.Query{Filters: []evento.Filter{{AggregateType: typ, AggregateID: id}}}
	if err := q.Validate(); err != nil {
		return wrap(exitUsage, err)
	}
	var edges []cursor.Edge[*evento.Event]
	for after := cursor.Value(""); ; {
		q.Args = cursor.Forward(1000, after)
		page, err := exec.Read(ctx, q)
		if err != nil {
			return readError(err)
		}
		edges = append(edges, page.Edges...)
		if !page.PageInfo.HasNextPage {
			break
		}
		after = page.PageInfo.EndCursor
	}
	if len(edges) == 0 {
		return wrap(exitNotFound, fmt.Errorf("%w: aggregate %s/%s has no events", evento.ErrNotFound, typ, id)).
			hint("check the type and the id; 'evento stats' lists the aggregate types")
	}
	last := edges[len(edges)-1].Node
	if c.json() {
		out := aggregateView{AggregateType: typ, AggregateID: id, Version: last.Version, RoutingKey: last.RoutingKey,
			Events: make([]eventView, 0, len(edges))}
		for _, edge := range edges {
			out.Events = append(out.Events, viewEvent(edge))
		}
		return writeJSON(c.stdout, out)
	}
	fmt.Fprintf(c.stdout, "%s %s: version %d, routing key %s, %d events\n\n", typ, id, last.Version, orDash(last.RoutingKey), len(edges))
	l := &eventLister{c: c, exec: exec, wide: wide}
	return l.rows(edges)
}
