package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestReadRejectsMalformedCursors(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	mustAppend(t, x, newCommit("t", "a", 0, 3))
	bad := []cursor.Value{
		"not a cursor!",
		"AQ",                                   // truncated
		cursor.Encode(cursor.Position{Seq: 1}), // from a single-counter store
		cursor.Encode(cursor.Position{Tx: 900, Seq: 1 << 63}),                             // beyond an SQL bigint
		cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Tx: 1, Seq: 1}}}), // a composite store's cursor
		cursor.Value(string(make([]byte, cursor.MaxLen+1))),                               // oversized
	}
	for _, v := range bad {
		for _, args := range []cursor.Args{cursor.Forward(10, v), cursor.Backward(10, v)} {
			for _, filters := range [][]evento.Filter{nil, {{AggregateType: "t", AggregateID: "a"}}} {
				_, err := x.Read(ctx, evento.Query{Filters: filters, Args: args})
				if !errors.Is(err, cursor.ErrInvalid) {
					t.Errorf("cursor %.20q: err = %v, want cursor.ErrInvalid", v, err)
				}
			}
		}
	}
	// The largest transaction id is a valid position: nothing comes after it.
	page, err := x.Read(ctx, evento.Query{Args: cursor.Forward(10, cursor.Encode(cursor.Position{Tx: 1<<64 - 1, Seq: 1}))})
	if err != nil || len(page.Edges) != 0 {
		t.Errorf("read after the largest position: %d events, %v; want none", len(page.Edges), err)
	}
}

// Reads run with PostgreSQL's generic plan, the one prepared statement of
// the connection serving every page: a read of one index in global order,
// or a union of such reads for several filters. The setting lasts for the
// read only: the connection, which may be shared with the application,
// keeps its own.
func TestReadPlans(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	var notices []string // every read, and the checks below, on one connection
	x, pool := openOneConnection(t, schema, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+": "+n.Message) }
	})
	for i := range 4 {
		mustAppend(t, x, newCommit("Order", fmt.Sprint("o", i), 0, 5))
	}
	mustAppend(t, x, newCommit("Invoice", "i", 0, 5))

	// plans reports how the statement run by q was planned so far: the
	// counts of generic and custom plans of the prepared statements whose
	// text has q's WHERE clause.
	plans := func(where string) (generic, custom int64) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements WHERE statement LIKE '%' || $1 || '%'`, where).Scan(&generic, &custom)
		if err != nil {
			t.Fatal(err)
		}
		return generic, custom
	}
	cases := []struct {
		name    string
		filters []evento.Filter
		where   string // a part of the statement's text only this case has
	}{
		{"whole log", nil, "FROM " + x.EventsTable() + " WHERE tx_id <"},
		{"one type", []evento.Filter{{AggregateType: "Order"}}, "WHERE ((aggregate_type = $1)) "},
		{"one aggregate", []evento.Filter{{AggregateType: "Order", AggregateID: "o1"}}, "aggregate_id = $2))"},
		{"two types", []evento.Filter{{AggregateType: "Order"}, {AggregateType: "Invoice"}}, ") UNION ALL ("},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 7 { // auto mode plans the first five runs for their values
				var after cursor.Value
				for {
					page, err := x.Read(ctx, evento.Query{Filters: c.filters, Args: cursor.Forward(2, after)})
					if err != nil {
						t.Fatal(err)
					}
					if !page.PageInfo.HasNextPage {
						break
					}
					after = page.PageInfo.EndCursor
				}
			}
			generic, custom := plans(c.where)
			if generic+custom == 0 {
				t.Fatalf("no prepared statement contains %q", c.where)
			}
			if custom != 0 {
				t.Errorf("%d custom plans, %d generic; want every page on the generic plan", custom, generic)
			}
		})
	}
	var mode string
	if err := pool.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil || mode != "auto" {
		t.Errorf("plan_cache_mode after the reads = %q, %v; want the connection's own, auto", mode, err)
	}
	if len(notices) != 0 { // e.g. SET LOCAL outside a transaction block warns
		t.Errorf("the reads drew %d notices from the server, the first: %q", len(notices), notices[0])
	}
}

// Version 3 dropped the index on (aggregate_type, aggregate_id, tx_id,
// seq): a read of one aggregate walks the unique version index in order,
// from its start, after a cursor of its own or of another event, and
// backward.
func TestAggregateReadPlan(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	for i := range 3 {
		mustAppend(t, x, newCommit("Order", fmt.Sprint("o", i), 0, 4))
	}
	conn := connect(t)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_indexes WHERE schemaname = $1 AND indexname = 'evento_events_aggregate'`,
		schema).Scan(&left); err != nil || left != 0 {
		t.Fatalf("the aggregate index is still there (%d, %v)", left, err)
	}
	all := readAll(t, x, evento.Query{}) // o0's four events, o1's, o2's
	// Read runs the generic plan; few rows: plan as for many.
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	agg := []evento.Filter{{AggregateType: "Order", AggregateID: "o1"}}
	for i, args := range []cursor.Args{
		cursor.Forward(2, ""),
		cursor.Forward(2, all[5].Cursor()),  // o1's second event
		cursor.Forward(2, all[1].Cursor()),  // o0's, before o1
		cursor.Backward(2, all[9].Cursor()), // o2's, after o1
	} {
		raw, plan := explainGeneric(t, conn, x, evento.Query{Filters: agg, Args: args}, fmt.Sprint("agg_read_", i))
		// Limit, over the scan of the rows (its "Outer" child); the
		// cursor's version comes from subplans ("InitPlan").
		var scan []string
		for _, c := range plan.Plans {
			if c.Relationship == "Outer" {
				scan = append(scan, c.Node, c.Index)
				if len(c.Plans) != 0 {
					scan = append(scan, "and more")
				}
			}
		}
		if want := []string{"Index Scan", "evento_events_version_key"}; !slices.Equal(scan, want) {
			t.Errorf("%+v: the read of one aggregate does not walk its version index in order:\n%s", args, raw)
		}
	}
}

// A read of several filters is a union of a read of each filter's index,
// merged in global order under the page's limit: on a table never
// analyzed too, no plan reads every remaining match to sort it.
func TestUnionReadPlan(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	for i := range 3 {
		mustAppend(t, x, newCommit("Order", fmt.Sprint("o", i), 0, 4))
		mustAppend(t, x, newCommit("Item", fmt.Sprint("i", i), 0, 4))
	}
	all := readAll(t, x, evento.Query{})
	conn := connect(t)
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	filters := []evento.Filter{
		{AggregateType: "Order"},
		{AggregateType: "Item", Name: "Event2"},
		{AggregateType: "Order", Name: "Event1"}, // within the first
		{AggregateType: "Item", AggregateID: "i1"},
	}
	for i, args := range []cursor.Args{cursor.Forward(3, ""), cursor.Forward(3, all[5].Cursor()), cursor.Backward(3, all[20].Cursor())} {
		q := evento.Query{Filters: filters, Args: args}
		raw, plan := explainGeneric(t, conn, x, q, fmt.Sprint("union_read_", i))
		merged := false
		plan.walk(func(n planNode) {
			switch {
			case n.Node == "Merge Append":
				merged = true
			case strings.HasPrefix(n.Node, "Bitmap"):
				t.Errorf("%+v: the union reads %s:\n%s", args, n.Node, raw)
			case n.Node == "Sort" && (len(n.Plans) != 1 || n.Plans[0].Node != "Limit"):
				t.Errorf("%+v: the union sorts an unbounded input:\n%s", args, raw)
			}
		})
		if !merged {
			t.Errorf("%+v: the union does not merge its reads:\n%s", args, raw)
		}
		// And it reads what the filters match.
		page, err := x.Read(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Edges {
			got = append(got, string(e.Cursor))
		}
		// The three matches after the cursor's event, or before it.
		at := map[cursor.Value]int{"": -1}
		for j, e := range all {
			at[e.Cursor()] = j
		}
		var want []string
		for j, e := range all {
			if q.Match(e) && (args.Before == "" && j > at[args.After] || args.Before != "" && j < at[args.Before]) {
				want = append(want, string(e.Cursor()))
			}
		}
		first := 0
		if args.Before != "" {
			first = max(0, len(want)-3)
		}
		if want = want[first:min(first+3, len(want))]; !slices.Equal(got, want) {
			t.Errorf("%+v: read %v, want %v", args, got, want)
		}
	}
}

// Version 5 keeps only the events that have a routing key in the routing
// key index. A read of one key, alone or with a filter, still reads that
// index in order (with the generic plan, whose parameter the index's
// condition must be proved from); reads of one key and of the events
// without a key find what they match.
func TestRoutingKeyReadPlan(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	for i := range 6 {
		c := newCommit("Order", fmt.Sprint("o", i), 0, 3)
		c.RoutingKey = []string{"", "k1", "k2"}[i%3]
		mustAppend(t, x, c)
	}
	conn := connect(t)
	indexes := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_catalog.pg_indexes WHERE schemaname = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		indexes[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if def, ok := indexes["evento_events_routing_key"]; ok {
		t.Errorf("the index of every event's routing key is still there: %s", def)
	}
	if def := indexes["evento_events_with_routing_key"]; !strings.HasSuffix(def, "WHERE (routing_key IS NOT NULL)") {
		t.Errorf("routing key index = %q, want one of the events that have a key", def)
	}

	all := readAll(t, x, evento.Query{})
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	for i, q := range []evento.Query{
		{RoutingKey: evento.RoutingKeyOf("k1"), Args: cursor.Forward(2, "")},
		{RoutingKey: evento.RoutingKeyOf("k2"), Args: cursor.Forward(2, all[4].Cursor())},
		{RoutingKey: evento.RoutingKeyOf("k1"), Args: cursor.Backward(2, all[15].Cursor())},
	} {
		raw, plan := explainGeneric(t, conn, x, q, fmt.Sprint("key_read_", i))
		var scans []string
		plan.walk(func(n planNode) {
			if strings.Contains(n.Node, "Scan") {
				scans = append(scans, n.Node+" "+n.Index)
			}
		})
		if want := []string{"Index Scan evento_events_with_routing_key"}; !slices.Equal(scans, want) {
			t.Errorf("%+v: the read of one routing key scans %q, want %q:\n%s", q.Args, scans, want, raw)
		}
	}
	for _, q := range []evento.Query{
		{RoutingKey: evento.RoutingKeyOf("k2")},
		{RoutingKey: evento.NoRoutingKey()},
		{RoutingKey: evento.NoRoutingKey(), Filters: []evento.Filter{{AggregateType: "Order", Name: "Event2"}}},
		{RoutingKey: evento.RoutingKeyOf("k1"), Filters: []evento.Filter{{AggregateType: "Order"}}},
	} {
		var want, got []cursor.Value
		for _, e := range all {
			if q.Match(e) {
				want = append(want, e.Cursor())
			}
		}
		for _, e := range readAll(t, x, q) {
			got = append(got, e.Cursor())
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("read of routing key %v, filters %v: %q, want %q (not none)", q.RoutingKey, q.Filters, got, want)
		}
	}
}

// explainGeneric prepares on conn the statement that x runs for q, as
// name, and returns the plan EXPLAIN (FORMAT JSON) gives for q's values
// with the connection's settings, raw and parsed.
func explainGeneric(t *testing.T, conn *pgx.Conn, x *postgres.Executor, q evento.Query, name string) ([]byte, planNode) {
	t.Helper()
	query, qargs, err := x.ReadStatement(q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "PREPARE "+name+" AS "+query); err != nil {
		t.Fatal(err)
	}
	params := make([]string, len(qargs)) // literals, of the types the statement gives them
	for j, a := range qargs {
		params[j] = "'" + strings.ReplaceAll(fmt.Sprint(a), "'", "''") + "'"
	}
	var raw []byte
	if err := conn.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) EXECUTE "+name+"("+strings.Join(params, ", ")+")").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var plan []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	return raw, plan[0].Plan
}

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan.
type planNode struct {
	Node         string `json:"Node Type"`
	Index        string `json:"Index Name"`
	Relationship string `json:"Parent Relationship"`
	Plans        []planNode
}

// walk calls fn on n and on every node under it.
func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// A read of one aggregate, alone or as a member of a union read, from a
// cursor that is not one of the aggregate's events finds the aggregate's
// version at the cursor by a binary search over its versions (the
// schema's version_at function), not by reading every version beyond the
// cursor; and when a version is missing, so that the search cannot run,
// the read still finds it.
func TestForeignCursorSearchesVersions(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	// Order o0, Ledger versions 1–1000, o1, 1001–2000, o2, ..., o4.
	const commits, size = 4, 1000
	for i := range commits {
		mustAppend(t, x, newCommit("Order", fmt.Sprint("o", i), 0, 1))
		mustAppend(t, x, newCommit("Ledger", "main", int64(i*size), size))
	}
	mustAppend(t, x, newCommit("Order", fmt.Sprint("o", commits), 0, 1))
	orders := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "Order"}}})
	conn := connect(t)
	table := strings.Trim(x.EventsTable()[strings.LastIndex(x.EventsTable(), ".")+1:], `"`)
	ledger := evento.Filter{AggregateType: "Ledger", AggregateID: "main"}
	cases := []struct {
		args cursor.Args
		want []int64 // the versions read
	}{
		{cursor.Forward(2, orders[0].Cursor()), []int64{1, 2}},
		{cursor.Forward(2, orders[2].Cursor()), []int64{2001, 2002}},
		{cursor.Forward(2, orders[4].Cursor()), nil},
		{cursor.Backward(2, orders[4].Cursor()), []int64{3999, 4000}},
		{cursor.Backward(2, orders[1].Cursor()), []int64{999, 1000}},
		{cursor.Backward(2, orders[0].Cursor()), nil},
	}
	// fetched returns how many rows the read of filters fetches through
	// an index (the search's and the plain query's lookups, the page's
	// rows), on the generic plan, counted in the session's statistics.
	fetched := func(filters []evento.Filter, args cursor.Args) int64 {
		t.Helper()
		query, qargs, err := x.ReadStatement(evento.Query{Filters: filters, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		// The counts not yet reported to the server's statistics, which
		// earlier transactions may have left.
		count := func() int64 {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT idx_tup_fetch FROM pg_catalog.pg_stat_xact_user_tables`+
				` WHERE schemaname = $1 AND relname = $2`, schema, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		rows, err := tx.Query(ctx, query, qargs...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return count() - before
	}
	check := func(when string, bounded bool) {
		t.Helper()
		for _, filters := range [][]evento.Filter{{ledger}, {ledger, {AggregateType: "Nothing"}}} {
			for _, c := range cases {
				page, err := x.Read(ctx, evento.Query{Filters: filters, Args: c.args})
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range page.Edges {
					got = append(got, e.Node.Version)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("%s, %d filters, %+v: read versions %v, want %v", when, len(filters), c.args, got, c.want)
				}
				// A search looks up a version a step, for about
				// log2(4,000) = 12 steps, and the read its page; reading
				// every version beyond the cursor fetches 1,000 rows at
				// least.
				if n := fetched(filters, c.args); bounded && n > 100 {
					t.Errorf("%s, %d filters, %+v: the read fetches %d rows, want at most 100", when, len(filters), c.args, n)
				}
			}
		}
	}
	check("dense versions", true)
	// A version missing from the middle (not something the store does)
	// stops the search; the read then reads the versions beyond the
	// cursor as before.
	if _, err := conn.Exec(ctx, "DELETE FROM "+x.EventsTable()+" WHERE aggregate_type = 'Ledger' AND version IN (1500, 2500)"); err != nil {
		t.Fatal(err)
	}
	check("versions 1500 and 2500 missing", false)
}

// A read of one aggregate, alone or in a union, from one of the
// aggregate's own events never runs version_at, whether it runs on the
// generic plan Read asks for or on a custom plan (as with the simple
// protocol, whose statements carry their values); from another event's
// cursor it runs it once a read.
func TestVersionAtRunsOnlyForForeignCursors(t *testing.T) {
	ctx := t.Context()
	schema := freshSchema(t)
	x := openIn(t, schema)
	for i := range 20 {
		mustAppend(t, x, newCommit("Order", "o", int64(i), 1))
		mustAppend(t, x, newCommit("Ledger", "main", int64(i*50), 50))
	}
	ledger := evento.Filter{AggregateType: "Ledger", AggregateID: "main"}
	own := readAll(t, x, evento.Query{Filters: []evento.Filter{ledger}})[900].Cursor()
	other := readAll(t, x, evento.Query{Filters: []evento.Filter{{AggregateType: "Order"}}})[10].Cursor()
	conn := connect(t)
	for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
		for _, c := range []struct {
			name    string
			filters []evento.Filter
			after   cursor.Value
			calls   int64
		}{
			{"own event", []evento.Filter{ledger}, own, 0},
			{"another event", []evento.Filter{ledger}, other, 3},
			{"union, own event", []evento.Filter{ledger, {AggregateType: "Order"}}, own, 0},
			{"union, another event", []evento.Filter{ledger, {AggregateType: "Order"}}, other, 3},
		} {
			query, args, err := x.ReadStatement(evento.Query{Filters: c.filters, Args: cursor.Forward(10, c.after)})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SET LOCAL track_functions = 'pl'; SET LOCAL plan_cache_mode = "+mode); err != nil {
				t.Fatal(err)
			}
			// The counts not yet reported to the server's statistics,
			// which earlier transactions may have left.
			count := func() (n int64) {
				if err := tx.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0) FROM pg_catalog.pg_stat_xact_user_functions`+
					` WHERE schemaname = $1 AND funcname = 'evento_version_at'`, schema).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := count()
			for range 3 {
				rows, err := tx.Query(ctx, query, args...)
				if err != nil {
					t.Fatal(err)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
			}
			if calls := count() - before; calls != c.calls {
				t.Errorf("%s, %s: 3 reads ran version_at %d times, want %d", mode, c.name, calls, c.calls)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A read of the events without a routing key within filters walks the
// filters' indexes in global order on a table never analyzed too (right
// after a bulk load, until autovacuum gets to it): never a bitmap of every
// remaining match of the filter, sorted for each page (see
// sqlstore.Dialect.UnestimatedNoKey).
func TestNoRoutingKeyReadPlanWithoutStatistics(t *testing.T) {
	schema := freshSchema(t)
	x := openIn(t, schema)
	ctx := context.Background()
	mustAppend(t, x, newCommit("Order", "first", 0, 1))
	conn := connect(t)
	events := x.EventsTable()
	for _, s := range []string{
		"ALTER TABLE " + events + " SET (autovacuum_enabled = false)",
		// 20,000 events of 2,000 aggregates, three in four of them
		// Orders, every third one with a routing key.
		`INSERT INTO ` + events + ` (id, aggregate_type, aggregate_id, version, name, routing_key, data, timestamp)
		 SELECT gen_random_uuid(), CASE WHEN a % 4 = 0 THEN 'Invoice' ELSE 'Order' END, 'a' || a, v,
		        'Event' || (v % 3 + 1), CASE WHEN a % 3 = 0 THEN 'k' || (a % 5) END, '\x00', now()
		 FROM generate_series(1, 2000) AS a, generate_series(1, 10) AS v ORDER BY a, v`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var stats int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stats WHERE schemaname = $1`, schema).Scan(&stats); err != nil || stats != 0 {
		t.Fatalf("the table has %d statistics (%v), want none", stats, err)
	}
	all := readAll(t, x, evento.Query{})
	mid := all[len(all)/2].Cursor()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	none := evento.NoRoutingKey()
	for i, q := range []evento.Query{
		{Filters: []evento.Filter{{AggregateType: "Order"}}, RoutingKey: none, Args: cursor.Forward(100, "")},
		{Filters: []evento.Filter{{AggregateType: "Order"}}, RoutingKey: none, Args: cursor.Forward(100, mid)},
		{Filters: []evento.Filter{{AggregateType: "Order"}}, RoutingKey: none, Args: cursor.Backward(100, mid)},
		{Filters: []evento.Filter{{AggregateType: "Order", Name: "Event2"}}, RoutingKey: none, Args: cursor.Forward(100, mid)},
		{Filters: []evento.Filter{{AggregateType: "Order"}, {AggregateType: "Invoice", Name: "Event1"}}, RoutingKey: none, Args: cursor.Forward(100, mid)},
	} {
		raw, plan := explainGeneric(t, conn, x, q, fmt.Sprint("no_key_read_", i))
		plan.walk(func(n planNode) {
			switch {
			case strings.HasPrefix(n.Node, "Bitmap"), n.Node == "Seq Scan":
				t.Errorf("%v %+v: the read runs a %s:\n%s", q.Filters, q.Args, n.Node, raw)
			case n.Node == "Sort" && (len(n.Plans) != 1 || n.Plans[0].Node != "Limit"):
				t.Errorf("%v %+v: the read sorts an unbounded input:\n%s", q.Filters, q.Args, raw)
			}
		})
		// And it reads the page the reference reads.
		page, err := x.Read(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []cursor.Value
		for _, e := range page.Edges {
			got = append(got, e.Cursor)
		}
		var matching []cursor.Value
		for _, e := range all {
			if q.Match(e) {
				matching = append(matching, e.Cursor())
			}
		}
		at := slices.IndexFunc(all, func(e *evento.Event) bool { return e.Cursor() == mid })
		switch {
		case q.Args.Before != "":
			for _, e := range all[:at] {
				if q.Match(e) {
					want = append(want, e.Cursor())
				}
			}
			want = want[max(0, len(want)-100):]
		case q.Args.After != "":
			for _, e := range all[at+1:] {
				if q.Match(e) && len(want) < 100 {
					want = append(want, e.Cursor())
				}
			}
		default:
			want = matching[:100]
		}
		if len(want) != 100 || !slices.Equal(got, want) {
			t.Errorf("%v %+v: read %d events, want the reference's %d:\n got %q\nwant %q", q.Filters, q.Args, len(got), len(want), got, want)
		}
	}
}
