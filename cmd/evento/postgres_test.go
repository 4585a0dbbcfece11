package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/examples/bank/bank"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/stores"
	"github.com/jackc/pgx/v5"
)

// postgresSpec returns a postgres:// spec of the test server
// (EVENTO_POSTGRES_DSN) that selects a schema of the test's own, dropped
// when the test ends. Without a server the test skips, or fails in CI.
func postgresSpec(t *testing.T) string {
	t.Helper()
	dsn := testenv.DSN("EVENTO_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "evento_cli_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("EVENTO_POSTGRES_DSN must be a URL for this test: %v", err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// txPosition matches a PostgreSQL position: transaction and sequence.
var txPosition = regexp.MustCompile(`^\d+:\d+$`)

// The commands on PostgreSQL: what every store supports works, and so does
// what needs the optional interfaces, which the executor implements.
func TestCommandLinePostgres(t *testing.T) {
	spec := postgresSpec(t)
	bin := buildEvento(t)
	ctx := context.Background()
	store := "--store=" + spec

	runEvento(t, bin, "migrate", store).want(t, exitOK)
	exec0, closeStore, err := stores.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	es := evento.New(exec0)
	svc := &bank.Service{Store: es}
	owner, err := svc.RegisterOwner(ctx, "Carol", "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	account, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: owner.AggregateID, Currency: "EUR", RoutingKey: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Deposit(ctx, account.AggregateID, 250); err != nil {
		t.Fatal(err)
	}
	deposits := evento.NewSubscription("deposits", evento.On(func(context.Context, evento.Typed[bank.MoneyDeposited]) error { return nil }))
	if err := deposits.Execute(ctx, es); err != nil {
		t.Fatal(err)
	}

	rows := runEvento(t, bin, "events", store).want(t, exitOK).tableRows()
	if len(rows) != 4 || rows[3][5] != "MoneyDeposited" || rows[3][7] != `{"Amount":250}` || !txPosition.MatchString(rows[3][0]) {
		t.Errorf("events table %q", rows)
	}
	var first pageView
	runEvento(t, bin, "events", store, "-o", "json", "--first", "1").want(t, exitOK).json(t, &first)
	if len(first.Events) != 1 || !first.PageInfo.HasNextPage {
		t.Fatalf("first page %+v", first)
	}
	for _, after := range []string{string(first.PageInfo.EndCursor), first.Events[0].Position} {
		var next pageView
		runEvento(t, bin, "events", store, "-o", "json", "--first", "1", "--after", after).want(t, exitOK).json(t, &next)
		if len(next.Events) != 1 || next.Events[0].Name != "AccountOpened" {
			t.Errorf("page after %s: %+v", after, next)
		}
	}
	var agg aggregateView
	runEvento(t, bin, "aggregate", bank.AccountType, account.AggregateID, store, "-o", "json").want(t, exitOK).json(t, &agg)
	if agg.Version != 2 || agg.RoutingKey != "eu" || len(agg.Events) != 2 {
		t.Errorf("aggregate %+v", agg)
	}

	var status []subscriptionView
	runEvento(t, bin, "subscriptions", "status", "deposits", store, "-o", "json").want(t, exitOK).json(t, &status)
	if len(status) != 1 || status[0].LagEvents != 0 || status[0].Lease != "released" || !txPosition.MatchString(*status[0].Position) {
		t.Errorf("subscription status %+v", status)
	}
	var reset resetView
	runEvento(t, bin, "subscriptions", "reset", "deposits", store, "-o", "json").want(t, exitOK).json(t, &reset)
	if reset.ReplayEvents != 3 {
		t.Errorf("reset %+v", reset)
	}
	r := runEvento(t, bin, "migrate", "status", store).want(t, exitOK)
	if !strings.Contains(r.stdout, "schema version 5 (latest 5)") {
		t.Errorf("migrate status:\n%s", r.stdout)
	}

	// The optional interfaces: PostgreSQL lists subscriptions, counts
	// events and breaks leases.
	rows = runEvento(t, bin, "subscriptions", store).want(t, exitOK).tableRows()
	if got := strings.Join(rows[0], "|"); got != "KEY|OWNER|LEASE|EPOCH|POSITION|LAG|LAG TIME|ACKNOWLEDGED|LAST ERROR" {
		t.Errorf("subscriptions header %q", got)
	}
	if len(rows) != 2 || rows[1][0] != "deposits" || !slices.Contains(rows[1], "released") {
		t.Errorf("subscriptions rows %q", rows)
	}
	var list []subscriptionView
	runEvento(t, bin, "subscriptions", "list", store, "-o", "json").want(t, exitOK).json(t, &list)
	if len(list) != 1 || list[0].Key != "deposits" || list[0].Position != nil || list[0].LagEvents != 3 ||
		list[0].Lease != "released" || list[0].Epoch != 2 {
		t.Errorf("subscriptions JSON %+v", list)
	}
	r = runEvento(t, bin, "stats", store).want(t, exitOK)
	for _, want := range []string{"bank/Account  AccountOpened  1", "bank/Account  1  2", "total: 3 events, 2 aggregates, 2 types; store size"} {
		if !strings.Contains(columns.ReplaceAllString(r.stdout, "  "), want) {
			t.Errorf("stats lacks %q:\n%s", want, r.stdout)
		}
	}
	var stats statsView
	runEvento(t, bin, "stats", store, "-o", "json").want(t, exitOK).json(t, &stats)
	if stats.Events != 3 || stats.Aggregates != 2 || len(stats.Types) != 2 || stats.SizeBytes <= 0 ||
		stats.Types[0].AggregateType != bank.AccountType || stats.Types[0].Events != 2 || stats.Types[0].Aggregates != 1 {
		t.Errorf("stats JSON %+v", stats)
	}
	// A forced reset takes the lease from a live worker, whose next
	// acknowledgement fails.
	worker, err := exec0.AcquireLease(ctx, "deposits", "worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	runEvento(t, bin, "subscriptions", "reset", "deposits", "--to", "end", store).want(t, exitLeaseHeld)
	runEvento(t, bin, "subscriptions", "reset", "deposits", "--force", "--to", "end", store).want(t, exitOK)
	if err := exec0.Acknowledge(ctx, worker, evento.Ack{}); !errors.Is(err, evento.ErrLeaseLost) {
		t.Errorf("the worker's acknowledgement after a forced reset: %v, want ErrLeaseLost", err)
	}
	runEvento(t, bin, "subscriptions", store, "-o", "json").want(t, exitOK).json(t, &list)
	if len(list) != 1 || list[0].Position == nil || !txPosition.MatchString(*list[0].Position) || list[0].LagEvents != 0 ||
		list[0].Lease != "released" || list[0].Epoch != worker.Epoch+1 {
		t.Errorf("subscriptions JSON after the forced reset %+v", list)
	}

	// --follow sees an event appended by this process within a second.
	cmd := exec.Command(bin, "events", "--follow", "-o", "json", "--type", bank.OwnerType, store)
	cmd.Env = environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.Contains(sc.Text(), owner.AggregateID) {
		t.Fatalf("follow did not print the existing owner first: %q", sc.Text())
	}
	if !readUntil(stderr, "following new events", 10*time.Second) {
		t.Fatal("evento events --follow did not start following")
	}
	go io.Copy(io.Discard, stderr)
	lines := make(chan string, 4)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	appended := time.Now()
	dave, err := svc.RegisterOwner(ctx, "Dave", "dave@example.com")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-lines:
		var v eventView
		if err := json.Unmarshal([]byte(line), &v); err != nil || v.AggregateID != dave.AggregateID {
			t.Errorf("follow printed %q (%v), want Dave's registration", line, err)
		}
		t.Logf("printed %v after the append", time.Since(appended).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("the event was not printed within a second of its append")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGINT: %v", err)
	}
}
