package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/sqlite"
)

func TestDecodePayload(t *testing.T) {
	cborOf := func(v any) []byte {
		b, err := codec.CBOR().Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		json     string
		encoding string
	}{
		{"cbor struct", cborOf(struct{ Amount int64 }{250}), `{"Amount":250}`, encodingCBOR},
		{"cbor nested", cborOf(map[string]any{"a": []any{1, "x", true}, "b": []byte{1, 2}}), `{"a":[1,"x",true],"b":"AQI="}`, encodingCBOR},
		{"cbor int keys", cborOf(map[int]string{1: "one"}), `{"1":"one"}`, encodingCBOR},
		{"cbor NaN", cborOf(map[string]float64{"x": math.NaN()}), `{"x":"NaN"}`, encodingCBOR},
		{"json object", []byte(`{"Text": "hello"}`), `{"Text":"hello"}`, encodingJSON},
		{"json array", []byte(` [1, 2] `), `[1,2]`, encodingJSON},
		{"bytes", []byte{0xff, 0xfe, 0x00}, `"//4A"`, encodingBase64},
		{"empty", nil, `null`, encodingNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, enc := decodePayload(tc.data)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.json || enc != tc.encoding {
				t.Errorf("decodePayload = %s (%s), want %s (%s)", b, enc, tc.json, tc.encoding)
			}
		})
	}
}

// Flags may follow positional arguments, and "--" ends the flags.
func TestFlagsAnywhere(t *testing.T) {
	fs := &flagSet{flag.NewFlagSet("test", flag.ContinueOnError)}
	wide := fs.Bool("wide", false, "")
	args, err := fs.parse([]string{"bank/Account", "--wide", "01ABC", "--", "-x"})
	if err != nil {
		t.Fatal(err)
	}
	if !*wide || strings.Join(args, " ") != "bank/Account 01ABC -x" {
		t.Errorf("wide %v, args %q", *wide, args)
	}
}

// bareExecutor hides every optional interface of the executor it wraps.
type bareExecutor struct{ evento.Executor }

// A store without the optional interfaces makes the commands that need
// them exit 5 with a message that says so.
func TestUnsupportedStore(t *testing.T) {
	ctx := context.Background()
	x, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	store := evento.New(x)
	if _, err := store.Create().Event(noteWritten{Text: "x"}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sub := evento.NewSubscription("notes", evento.On(func(context.Context, evento.Typed[noteWritten]) error { return nil }))
	if err := sub.Execute(ctx, store); err != nil {
		t.Fatal(err)
	}
	bare := bareExecutor{x}

	for name, call := range map[string]func(c *cli) error{
		"subscriptions list": func(c *cli) error { return printSubscriptionList(ctx, c, bare) },
		"stats":              func(c *cli) error { return showStats(ctx, c, bare) },
		"reset --force":      func(c *cli) error { return (&reset{key: "notes", to: "start", force: true}).apply(ctx, c, bare) },
	} {
		var stdout, stderr bytes.Buffer
		c := newCLI(&stdout, &stderr, func(string) string { return "" })
		if code := c.report(call(c)); code != exitUnsupported {
			t.Errorf("%s: exit %d, want %d", name, code, exitUnsupported)
		}
		if !strings.Contains(stderr.String(), "not supported by this store") {
			t.Errorf("%s: message %q", name, stderr.String())
		}
	}

	// What needs no optional interface still works: lag is counted by
	// paging, and a plain reset takes the lease.
	var stdout, stderr bytes.Buffer
	c := newCLI(&stdout, &stderr, func(string) string { return "" })
	c.output = "json"
	st, err := x.SubscriptionStatus(ctx, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if err := printSubscriptions(ctx, c, bare, []*evento.SubscriptionStatus{st}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), `"lag_events": 0`) {
		t.Errorf("status of a bare store: %s", stdout.String())
	}
	stdout.Reset()
	if err := (&reset{key: "notes", to: "start"}).apply(ctx, c, bare); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), `"replay_events": 1`) {
		t.Errorf("reset on a bare store: %s", stdout.String())
	}
	stdout.Reset()
	c.output = "table"
	if err := printSchema(ctx, c, bare, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "schema version not tracked by this store") {
		t.Errorf("migrate status on a bare store: %q", stdout.String())
	}
}
