package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/examples/bank/bank"
	"github.com/eventogo/evento/pebble"
	"github.com/eventogo/evento/sqlite"
	"github.com/oklog/ulid/v2"
)

// buildEvento builds the command into a temporary directory, as go install
// would, and returns the binary's path.
func buildEvento(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build evento with (go test puts one on PATH): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "evento")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliRun is the outcome of one run of the binary.
type cliRun struct {
	stdout, stderr string
	code           int
}

// runEvento runs the binary with args and no EVENTO_STORE from the test's
// environment.
func runEvento(t *testing.T, bin string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("evento %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTO_STORE=") {
			env = append(env, kv)
		}
	}
	return env
}

// want fails the test unless the run ended with code.
func (r cliRun) want(t *testing.T, code int) cliRun {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// json decodes the run's standard output into v.
func (r cliRun) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, r.stdout)
	}
}

// tableRows returns the rows of a table printed on standard output, header
// first, each split into its columns.
func (r cliRun) tableRows() [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		if line != "" {
			rows = append(rows, columns.Split(strings.TrimSpace(line), -1))
		}
	}
	return rows
}

// columns separates table cells: at least two spaces.
var columns = regexp.MustCompile(`\s{2,}`)

// fixture is the store the end-to-end tests inspect: a bank owner with two
// accounts, a JSON-coded note with metadata, and a payload of raw bytes.
type fixture struct {
	spec     string
	exec     *sqlite.Executor
	store    *evento.Store
	owner    string
	account  string // routing key "eu", events 2, 3, 4
	plain    string // no routing key
	noteID   string
	total    int
	lastCurs cursor.Value
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	x, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	f := &fixture{spec: "sqlite:" + path, exec: x, store: evento.New(x)}
	svc := &bank.Service{Store: f.store}
	must := func(r evento.Result, err error) evento.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	f.owner = must(svc.RegisterOwner(ctx, "Alice", "alice@example.com")).AggregateID                               // 1
	f.account = must(svc.OpenAccount(ctx, bank.NewAccount{OwnerID: f.owner, Currency: "EUR", InitialBalance: 1000, // 2
		RoutingKey: "eu"})).AggregateID
	must(svc.Deposit(ctx, f.account, 250))                                                               // 3
	must(svc.Withdraw(ctx, f.account, 100))                                                              // 4
	f.plain = must(svc.OpenAccount(ctx, bank.NewAccount{OwnerID: f.owner, Currency: "USD"})).AggregateID // 5
	notes := evento.New(x, evento.WithCodec(codec.JSON()))                                               // 6
	f.noteID = must(notes.Create().Event(noteWritten{Text: "hello"}).
		Metadata(evento.Metadata{RequestedBy: "alice", Values: map[string]any{"ip": "10.0.0.1"}}).Commit(ctx)).AggregateID
	raw := &evento.Commit{AggregateType: "test/Raw", AggregateID: "blob-1", Events: []*evento.Event{{ // 7
		ID: ulid.Make(), AggregateType: "test/Raw", AggregateID: "blob-1", Version: 1, Name: "Blob",
		Data: []byte{0xff, 0xfe, 0x00, 0x01}, Timestamp: time.Now().UTC(),
	}}}
	if err := x.Append(ctx, raw); err != nil {
		t.Fatal(err)
	}
	f.total = 7
	f.lastCurs = raw.Events[0].Cursor()
	return f
}

type noteWritten struct{ Text string }

func (noteWritten) AggregateType() string { return "test/Note" }
func (noteWritten) EventName() string     { return "NoteWritten" }

type followed struct{ N int }

func (followed) AggregateType() string { return "test/Followed" }
func (followed) EventName() string     { return "Happened" }

// everything is a subscription that handles every event of the fixture,
// so that its cursor reaches the end of the log.
func everything(key string) *evento.Subscription {
	ok := func(context.Context, *evento.Event) error { return nil }
	return evento.NewSubscription(key).
		OnAll(bank.OwnerType, ok).OnAll(bank.AccountType, ok).OnAll("test/Note", ok).OnAll("test/Raw", ok).
		OnAll("test/Followed", ok)
}

func TestCommandLine(t *testing.T) {
	bin := buildEvento(t)
	f := newFixture(t)
	ctx := context.Background()
	store := "--store=" + f.spec

	t.Run("help and usage errors", func(t *testing.T) {
		help := runEvento(t, bin, "help").want(t, exitOK)
		for _, s := range []string{"Exit codes:", "4  lease held", "5  not supported", "sqlite:PATH", "events", "subscriptions"} {
			if !strings.Contains(help.stdout, s) {
				t.Errorf("help lacks %q:\n%s", s, help.stdout)
			}
		}
		sub := runEvento(t, bin, "help", "subscriptions").want(t, exitOK)
		if !strings.Contains(sub.stdout, "events in the whole log after the subscription's") {
			t.Errorf("subscriptions help does not define lag:\n%s", sub.stdout)
		}
		runEvento(t, bin).want(t, exitUsage)
		for _, args := range [][]string{
			{"frobnicate"},
			{"events", "--frobnicate"},
			{"events", "-o", "yaml", store},
			{"events", "--first", "2", "--last", "2", store},
			{"aggregate", "bank/Account", store},
			{"events", "--store", "oracle://db"},
		} {
			r := runEvento(t, bin, args...).want(t, exitUsage)
			if !strings.HasPrefix(r.stderr, "evento: ") {
				t.Errorf("evento %v: stderr %q does not start with the error", args, r.stderr)
			}
		}
		r := runEvento(t, bin, "events").want(t, exitUsage)
		if !strings.Contains(r.stderr, "EVENTO_STORE") {
			t.Errorf("no store: the error does not say how to name one:\n%s", r.stderr)
		}
	})

	t.Run("bench", func(t *testing.T) {
		r := runEvento(t, bin, "bench", "--store", "sqlite-normal", "-dir", t.TempDir(), "-scale", "0.005", "-runs", "1").want(t, exitOK)
		rows := r.tableRows()
		header := slices.IndexFunc(rows, func(row []string) bool { return len(row) > 0 && row[0] == "WORKLOAD" })
		if header < 0 || len(rows)-header-1 != 9 {
			t.Fatalf("bench table: want a header and 9 workloads:\n%s", r.stdout)
		}
		for _, row := range rows[header+1:] {
			if len(row) < 6 || row[1] != "sqlite(NORMAL)" || strings.HasPrefix(row[3], "0.0 ") {
				t.Errorf("bench row %q", row)
			}
		}
		var v struct {
			Results []struct {
				Workload   string
				FloorRatio float64 `json:"floor_ratio"`
			}
		}
		runEvento(t, bin, "bench", "--store", "pebble", "-dir", t.TempDir(), "-workloads", "W1,W6", "-scale", "0.005", "-runs", "1", "-o", "json").
			want(t, exitOK).json(t, &v)
		if len(v.Results) != 2 || v.Results[0].Workload != "W1" || v.Results[1].FloorRatio <= 0 {
			t.Errorf("bench JSON: %+v", v)
		}
		runEvento(t, bin, "bench", "-workloads", "W9").want(t, exitUsage)
		runEvento(t, bin, "bench", "--store", "oracle://x").want(t, exitUsage)
	})

	t.Run("migrate", func(t *testing.T) {
		dir := t.TempDir()
		spec := "sqlite:" + filepath.Join(dir, "new.db")
		r := runEvento(t, bin, "migrate", "status", "--store", spec).want(t, exitNotFound)
		if !strings.Contains(r.stderr, "evento migrate") {
			t.Errorf("missing store: the error does not say how to create it:\n%s", r.stderr)
		}
		runEvento(t, bin, "migrate", "--store", spec).want(t, exitOK)
		r = runEvento(t, bin, "migrate", "status", "--store", spec).want(t, exitOK)
		if !strings.Contains(r.stdout, "schema version 4 (latest 4), up to date") {
			t.Errorf("migrate status:\n%s", r.stdout)
		}
		var v struct {
			Tracked         bool
			Applied, Latest int64
			UpToDate        bool `json:"up_to_date"`
		}
		runEvento(t, bin, "migrate", "status", "-o", "json", "--store", spec).want(t, exitOK).json(t, &v)
		if !v.Tracked || v.Applied != 4 || v.Latest != 4 || !v.UpToDate {
			t.Errorf("migrate status JSON: %+v", v)
		}
		// EVENTO_STORE is the default store.
		cmd := exec.Command(bin, "migrate", "status")
		cmd.Env = append(environ(), "EVENTO_STORE="+spec)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "up to date") {
			t.Errorf("migrate status with EVENTO_STORE: %v\n%s", err, out)
		}
	})

	t.Run("events table", func(t *testing.T) {
		rows := runEvento(t, bin, "events", store).want(t, exitOK).tableRows()
		if got := strings.Join(rows[0], "|"); got != "POSITION|TIME|TYPE|ID|VERSION|NAME|ROUTING KEY|DATA" {
			t.Errorf("header %q", got)
		}
		if len(rows) != 1+f.total {
			t.Fatalf("%d rows, want %d:\n%v", len(rows), 1+f.total, rows)
		}
		deposit := rows[3]
		if deposit[0] != "3" || deposit[2] != bank.AccountType || deposit[3] != f.account || deposit[4] != "2" ||
			deposit[5] != "MoneyDeposited" || deposit[6] != "eu" || deposit[7] != `{"Amount":250}` {
			t.Errorf("deposit row %q", deposit)
		}
		if note := rows[6]; note[7] != `{"Text":"hello"}` {
			t.Errorf("JSON payload row %q", note)
		}
		if raw := rows[7]; raw[7] != "base64://4AAQ==" {
			t.Errorf("raw payload row %q", raw)
		}
		r := runEvento(t, bin, "events", store, "--type", bank.AccountType, "--name", "MoneyDeposited").want(t, exitOK)
		if rows := r.tableRows(); len(rows) != 2 || rows[1][0] != "3" {
			t.Errorf("filtered rows %q", rows)
		}
		r = runEvento(t, bin, "events", store, "--first", "2").want(t, exitOK)
		if rows := r.tableRows(); len(rows) != 3 || !strings.Contains(r.stderr, "--after 2") {
			t.Errorf("first page: %q, hint %q", rows, r.stderr)
		}
		r = runEvento(t, bin, "events", store, "--after", "2", "--first", "2").want(t, exitOK)
		if rows := r.tableRows(); len(rows) != 3 || rows[1][0] != "3" || rows[2][0] != "4" {
			t.Errorf("page after position 2: %q", rows)
		}
		r = runEvento(t, bin, "events", store, "--last", "2", "--wide").want(t, exitOK)
		rows = r.tableRows()
		if len(rows) != 3 || rows[1][0] != "6" || rows[2][0] != "7" || !strings.Contains(r.stderr, "--before 6") {
			t.Errorf("last page: %q, hint %q", rows, r.stderr)
		}
		if rows[0][len(rows[0])-1] != "METADATA" || !strings.Contains(rows[1][len(rows[1])-1], `"requested_by":"alice"`) {
			t.Errorf("--wide metadata: %q", rows)
		}
	})

	t.Run("events JSON", func(t *testing.T) {
		var page pageView
		runEvento(t, bin, "events", store, "-o", "json", "--first", "3").want(t, exitOK).json(t, &page)
		if len(page.Events) != 3 || !page.PageInfo.HasNextPage || page.PageInfo.EndCursor != page.Events[2].Cursor {
			t.Fatalf("first page: %+v", page)
		}
		next := pageView{}
		runEvento(t, bin, "events", store, "-o", "json", "--first", "3", "--after", string(page.PageInfo.EndCursor)).
			want(t, exitOK).json(t, &next)
		if len(next.Events) != 3 || next.Events[0].Position != "4" {
			t.Fatalf("page after the end cursor: %+v", next)
		}
		var all pageView
		runEvento(t, bin, "events", store, "-o", "json").want(t, exitOK).json(t, &all)
		if len(all.Events) != f.total || all.PageInfo.HasNextPage {
			t.Fatalf("%d events, has_next_page %v", len(all.Events), all.PageInfo.HasNextPage)
		}
		deposit, note, raw := all.Events[2], all.Events[5], all.Events[6]
		if deposit.Name != "MoneyDeposited" || deposit.DataEncoding != "cbor" || deposit.RoutingKey != "eu" ||
			deposit.Data.(map[string]any)["Amount"] != 250.0 || deposit.Version != 2 || deposit.AggregateID != f.account {
			t.Errorf("deposit %+v", deposit)
		}
		if note.DataEncoding != "json" || note.Data.(map[string]any)["Text"] != "hello" ||
			note.Metadata == nil || note.Metadata.RequestedBy != "alice" || note.Metadata.Values["ip"] != "10.0.0.1" {
			t.Errorf("note %+v", note)
		}
		if raw.DataEncoding != "base64" || raw.Data != "//4AAQ==" || raw.Cursor != f.lastCurs {
			t.Errorf("raw %+v", raw)
		}
		var eu pageView
		runEvento(t, bin, "events", store, "-o", "json", "--routing-key", "eu").want(t, exitOK).json(t, &eu)
		if len(eu.Events) != 3 {
			t.Errorf("routing key eu: %d events, want 3", len(eu.Events))
		}
		var last pageView
		runEvento(t, bin, "events", store, "-o", "json", "--last", "1").want(t, exitOK).json(t, &last)
		if len(last.Events) != 1 || last.Events[0].Position != "7" || !last.PageInfo.HasPreviousPage {
			t.Errorf("last page: %+v", last)
		}
		runEvento(t, bin, "events", store, "--after", "not-a-cursor").want(t, exitUsage)
	})

	t.Run("aggregate", func(t *testing.T) {
		r := runEvento(t, bin, "aggregate", bank.AccountType, f.account, store).want(t, exitOK)
		if !strings.HasPrefix(r.stdout, bank.AccountType+" "+f.account+": version 3, routing key eu, 3 events") {
			t.Errorf("aggregate header:\n%s", r.stdout)
		}
		var v aggregateView
		runEvento(t, bin, "aggregate", bank.AccountType, f.account, store, "-o", "json").want(t, exitOK).json(t, &v)
		if v.Version != 3 || v.RoutingKey != "eu" || len(v.Events) != 3 || v.Events[2].Name != "MoneyWithdrawn" {
			t.Errorf("aggregate JSON %+v", v)
		}
		r = runEvento(t, bin, "aggregate", bank.AccountType, "nobody", store).want(t, exitNotFound)
		if !strings.Contains(r.stderr, "evento stats") {
			t.Errorf("not found: no advice:\n%s", r.stderr)
		}
	})

	t.Run("stats", func(t *testing.T) {
		r := runEvento(t, bin, "stats", store).want(t, exitOK)
		for _, s := range []string{"bank/Account  AccountOpened  2", "bank/Account  2  4", "total: 7 events, 5 aggregates, 4 types; store size"} {
			if !strings.Contains(columns.ReplaceAllString(r.stdout, "  "), s) {
				t.Errorf("stats lacks %q:\n%s", s, r.stdout)
			}
		}
		var v statsView
		runEvento(t, bin, "stats", store, "-o", "json").want(t, exitOK).json(t, &v)
		if v.Events != 7 || v.Aggregates != 5 || len(v.Types) != 4 || v.SizeBytes <= 0 ||
			v.Types[0].AggregateType != bank.AccountType || v.Types[0].Aggregates != 2 || v.Types[0].Events != 4 {
			t.Errorf("stats JSON %+v", v)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		deposits := evento.NewSubscription("deposits", evento.On(func(context.Context, evento.Typed[bank.MoneyDeposited]) error { return nil }))
		if err := deposits.Execute(ctx, f.store); err != nil {
			t.Fatal(err)
		}
		rows := runEvento(t, bin, "subscriptions", store).want(t, exitOK).tableRows()
		if got := strings.Join(rows[0], "|"); got != "KEY|OWNER|LEASE|EPOCH|POSITION|LAG|LAG TIME|ACKNOWLEDGED|LAST ERROR" {
			t.Errorf("header %q", got)
		}
		// The drain handled the deposit at 3 and moved its cursor over the
		// events after it, which it does not handle, to the end of the log.
		if len(rows) != 2 || rows[1][0] != "deposits" || rows[1][2] != "released" || rows[1][4] != "7" || rows[1][5] != "0" {
			t.Errorf("rows %q", rows)
		}
		var list []subscriptionView
		runEvento(t, bin, "subscriptions", "list", store, "-o", "json").want(t, exitOK).json(t, &list)
		if len(list) != 1 || list[0].Key != "deposits" || *list[0].Position != "7" || list[0].LagEvents != 0 ||
			list[0].LagSeconds != 0 || list[0].Lease != "released" || list[0].Epoch != 1 {
			t.Errorf("list JSON %+v", list)
		}
		var one []subscriptionView
		runEvento(t, bin, "subscriptions", "status", "deposits", store, "-o", "json").want(t, exitOK).json(t, &one)
		if len(one) != 1 || one[0].Cursor != list[0].Cursor {
			t.Errorf("status JSON %+v", one)
		}
		runEvento(t, bin, "subscriptions", "status", "nope", store).want(t, exitNotFound)
		runEvento(t, bin, "subscriptions", "reset", "nope", store).want(t, exitNotFound)
	})

	t.Run("reset refused while a worker holds the lease, forced", func(t *testing.T) {
		seen := make(chan string, 16)
		held := evento.NewSubscription("held", evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyWithdrawn]) error {
			seen <- ev.ID.String()
			return nil
		})).LeaseTTL(3 * time.Second).PollInterval(20 * time.Millisecond)
		w, err := held.Start(ctx, f.store)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Shutdown(ctx)
		<-seen // the worker holds the lease
		waitFor(t, func() bool {
			st, err := f.exec.SubscriptionStatus(ctx, "held")
			return err == nil && st.Cursor != ""
		})
		r := runEvento(t, bin, "subscriptions", "reset", "held", store).want(t, exitLeaseHeld)
		if !strings.Contains(r.stderr, "--force") {
			t.Errorf("refusal does not mention --force:\n%s", r.stderr)
		}
		rows := runEvento(t, bin, "subscriptions", "status", "held", store).want(t, exitOK).tableRows()
		if !strings.HasPrefix(rows[1][2], "held, expires in ") {
			t.Errorf("live lease shown as %q", rows[1][2])
		}
		var v resetView
		runEvento(t, bin, "subscriptions", "reset", "held", "--force", "--to", "start", store, "-o", "json").want(t, exitOK).json(t, &v)
		if v.Key != "held" || v.Cursor != "" || v.Position != nil || !v.Forced || v.ReplayEvents != int64(f.total) {
			t.Errorf("forced reset JSON %+v", v)
		}
		// The worker lost its lease, stands by, takes the lease again and
		// replays from the start: it sees the withdrawal a second time.
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker did not replay after the forced reset")
		}
		r = runEvento(t, bin, "subscriptions", "reset", "held", "--force", "--to", "end", store).want(t, exitOK)
		if !strings.Contains(r.stdout, "subscription held reset to 7: 0 events to replay") {
			t.Errorf("reset to end:\n%s", r.stdout)
		}
	})

	t.Run("reset follows the replay", func(t *testing.T) {
		replay := everything("replay").ChunkSize(2).PollInterval(20 * time.Millisecond)
		if err := replay.Execute(ctx, f.store); err != nil {
			t.Fatal(err)
		}
		before, err := f.exec.SubscriptionStatus(ctx, "replay")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "subscriptions", "reset", "replay", "--follow", "--interval", "20ms", "--idle", "20s", store, "-o", "json")
		cmd.Env = environ()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			st, err := f.exec.SubscriptionStatus(ctx, "replay")
			return err == nil && st.Epoch > before.Epoch && st.Owner == ""
		})
		w, err := replay.Start(ctx, f.store)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Shutdown(ctx)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("reset --follow: %v\n%s", err, stderr.String())
		}
		var v resetView
		cliRun{stdout: stdout.String()}.json(t, &v)
		if !v.Followed || !v.CaughtUp || v.Replayed != int64(f.total) || v.ReplayEvents != int64(f.total) {
			t.Errorf("reset --follow JSON %+v", v)
		}
		if !strings.Contains(stderr.String(), "100%  7/7 events") || !strings.Contains(stderr.String(), "caught up") {
			t.Errorf("progress bar:\n%q", stderr.String())
		}
	})

	t.Run("follow shows an event from another process within a second", func(t *testing.T) {
		cmd := exec.Command(bin, "events", "--follow", "-o", "json", "--type", "test/Followed", store)
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
		if !readUntil(stderr, "following new events", 10*time.Second) {
			t.Fatal("evento events --follow did not start following")
		}
		go io.Copy(io.Discard, stderr)
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()

		for n := 1; n <= 2; n++ {
			appended := time.Now()
			res, err := f.store.Create().Event(followed{N: n}).Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case line := <-lines:
				var v eventView
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Fatalf("follow printed %q: %v", line, err)
				}
				if v.AggregateID != res.AggregateID || v.Data.(map[string]any)["N"] != float64(n) {
					t.Errorf("follow printed %+v, want the event appended", v)
				}
				t.Logf("event %d printed %v after its append", n, time.Since(appended).Round(time.Millisecond))
			case <-time.After(time.Second):
				t.Fatalf("event %d not printed within a second of its append", n)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("evento events --follow after SIGINT: %v, want exit 0", err)
		}
	})

	t.Run("follow in a table", func(t *testing.T) {
		cmd := exec.Command(bin, "events", "--follow", "--interval", "50ms", store)
		cmd.Env = environ()
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		if !readUntil(stderr, "following new events", 10*time.Second) {
			t.Fatal("evento events --follow did not start following")
		}
		go io.Copy(io.Discard, stderr)
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
		// The log holds 9 events, fewer than the 10 newest follow shows.
		rows := cliRun{stdout: stdout.String()}.tableRows()
		if len(rows) != 1+f.total+2 || rows[0][0] != "POSITION" || rows[len(rows)-1][5] != "Happened" {
			t.Errorf("follow table: %q", rows)
		}
	})

	t.Run("parked events", func(t *testing.T) {
		parking := evento.NewSubscription("parking",
			evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyDeposited]) error {
				return errors.New("ledger unavailable")
			}),
			evento.On(func(_ context.Context, ev evento.Typed[bank.MoneyWithdrawn]) error {
				return errors.New("ledger\tunavailable: " + strings.Repeat("x", 100))
			})).Park()
		if err := parking.Execute(ctx, f.store); err != nil {
			t.Fatal(err)
		}
		rows := runEvento(t, bin, "subscriptions", "parked", "parking", store).want(t, exitOK).tableRows()
		if got := strings.Join(rows[0], "|"); got != "EVENT|AGGREGATE|VERSION|NAME|PARKED|ERROR" {
			t.Errorf("header %q", got)
		}
		if len(rows) != 3 || rows[1][1] != bank.AccountType+"/"+f.account || rows[1][2] != "2" || rows[1][3] != "MoneyDeposited" ||
			!strings.HasPrefix(rows[1][5], "ledger unavailable (bank/Account/") || rows[2][3] != "MoneyWithdrawn" ||
			!strings.HasPrefix(rows[2][5], "ledger unavailable: xxx") || !strings.HasSuffix(rows[2][5], "…") || len([]rune(rows[2][5])) != 80 {
			t.Errorf("parked table %q", rows)
		}
		var parked []parkedView
		runEvento(t, bin, "subscriptions", "parked", "parking", "--limit", "1", store, "-o", "json").want(t, exitOK).json(t, &parked)
		if len(parked) != 1 || parked[0].Name != "MoneyDeposited" || parked[0].Version != 2 || parked[0].AggregateID != f.account ||
			parked[0].Error != "ledger unavailable ("+bank.AccountType+"/"+f.account+" MoneyDeposited, version 2)" || parked[0].ParkedAt.IsZero() {
			t.Errorf("parked JSON %+v", parked)
		}
		// The last error of the subscription is the last event it parked.
		var one []subscriptionView
		runEvento(t, bin, "subscriptions", "status", "parking", store, "-o", "json").want(t, exitOK).json(t, &one)
		if len(one) != 1 || one[0].LastError == nil || one[0].LastError.Fatal || !strings.HasPrefix(one[0].LastError.Message, "ledger\tunavailable") {
			t.Errorf("status JSON %+v", one)
		}
		rows = runEvento(t, bin, "subscriptions", "status", "parking", store).want(t, exitOK).tableRows()
		if last := rows[1][len(rows[1])-1]; !strings.HasPrefix(last, "passed ") || !strings.Contains(last, "ledger") {
			t.Errorf("LAST ERROR column %q", last)
		}
		r := runEvento(t, bin, "subscriptions", "parked", "deposits", store).want(t, exitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "subscription deposits has no parked events") {
			t.Errorf("no parked events: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		runEvento(t, bin, "subscriptions", "parked", "parking", "--limit", "0", store).want(t, exitUsage)
		runEvento(t, bin, "subscriptions", "parked", "parking", "--limit", "10001", store).want(t, exitUsage)
	})
}

// The commands work on Pebble too, once the application has closed it.
func TestCommandLinePebble(t *testing.T) {
	bin := buildEvento(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "events")
	x, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := evento.New(x)
	svc := &bank.Service{Store: store}
	owner, err := svc.RegisterOwner(ctx, "Bob", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.OpenAccount(ctx, bank.NewAccount{OwnerID: owner.AggregateID, Currency: "EUR", InitialBalance: 5}); err != nil {
		t.Fatal(err)
	}
	if err := everything("all").Execute(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	spec := "--store=pebble:" + dir

	var page pageView
	runEvento(t, bin, "events", spec, "-o", "json").want(t, exitOK).json(t, &page)
	if len(page.Events) != 2 || page.Events[1].Data.(map[string]any)["InitialBalance"] != 5.0 {
		t.Errorf("events %+v", page)
	}
	var v statsView
	runEvento(t, bin, "stats", spec, "-o", "json").want(t, exitOK).json(t, &v)
	if v.Events != 2 || v.Aggregates != 2 || v.SizeBytes <= 0 {
		t.Errorf("stats %+v", v)
	}
	var subs []subscriptionView
	runEvento(t, bin, "subscriptions", spec, "-o", "json").want(t, exitOK).json(t, &subs)
	if len(subs) != 1 || subs[0].Key != "all" || *subs[0].Position != "2" || subs[0].LagEvents != 0 {
		t.Errorf("subscriptions %+v", subs)
	}
	runEvento(t, bin, "subscriptions", "reset", "all", "--force", spec).want(t, exitOK)
	runEvento(t, bin, "aggregate", bank.OwnerType, owner.AggregateID, spec).want(t, exitOK)
	r := runEvento(t, bin, "migrate", "status", spec).want(t, exitOK)
	if !strings.Contains(r.stdout, "schema version 2 (latest 2)") {
		t.Errorf("migrate status:\n%s", r.stdout)
	}
	runEvento(t, bin, "events", "--store=pebble:"+filepath.Join(t.TempDir(), "missing")).want(t, exitNotFound)

	// While another process has the directory open, the command says so.
	held, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r = runEvento(t, bin, "events", spec).want(t, exitRuntime)
	if !strings.Contains(r.stderr, "another process has it open") || !strings.Contains(r.stderr, "one process at a time") {
		t.Errorf("open of a directory held elsewhere:\n%s", r.stderr)
	}
}

// readUntil reads r until a line contains s, or the time is up.
func readUntil(r io.Reader, s string, timeout time.Duration) bool {
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), s) {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(timeout):
		return false
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
