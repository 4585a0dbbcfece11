package evento_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/sqlite"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// An append, a conflicting append, a load, a read and a subscription run,
// observed by an in-memory span recorder and a manual metric reader, show
// every span and metric WithTracerProvider and WithMeterProvider document.
func TestTelemetry(t *testing.T) {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	store := evento.New(openTelemetrySQLite(t, sqlite.SynchronousNormal),
		evento.WithTracerProvider(tp), evento.WithMeterProvider(mp))

	res, err := store.Create().Event(AccountOpened{Owner: "Alice"}).Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := res.AggregateID
	if _, err := store.Aggregate(id, 1).Event(MoneyDeposited{Amount: 100}).Event(MoneyDeposited{Amount: 5}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Aggregate(id, 1).Event(MoneyDeposited{Amount: 1}).Commit(ctx); !errors.Is(err, evento.ErrVersionConflict) {
		t.Fatalf("stale commit: %v, want ErrVersionConflict", err)
	}
	loaded, err := accountView.Load(ctx, store, id)
	if err != nil || loaded.State.Balance != 105 {
		t.Fatalf("Load = %+v, %v", loaded, err)
	}
	if _, err := store.Read(ctx, evento.Query{Filters: []evento.Filter{{AggregateType: "example/Account", Name: "MoneyDeposited"}}}); err != nil {
		t.Fatal(err)
	}

	// The handler fails on its first call, then succeeds on the retry; it
	// sees its own span in its context.
	calls := 0
	var handlerSpans []trace.SpanContext
	sub := evento.NewSubscription("telemetry-deposits",
		evento.On(func(ctx context.Context, ev evento.Typed[MoneyDeposited]) error {
			handlerSpans = append(handlerSpans, trace.SpanContextFromContext(ctx))
			if calls++; calls == 1 {
				return errors.New("first call fails")
			}
			return nil
		}),
	).Retry(1, time.Millisecond)
	if err := sub.Execute(ctx, store); err != nil {
		t.Fatal(err)
	}

	// Spans.
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if got := len(byName["evento.append"]); got != 3 {
		t.Errorf("%d evento.append spans, want 3", got)
	} else {
		first, conflict := byName["evento.append"][0], byName["evento.append"][2]
		wantAttrs(t, first, map[attribute.Key]attribute.Value{
			"evento.aggregate.type": attribute.StringValue("example/Account"),
			"evento.aggregate.id":   attribute.StringValue(id),
			"evento.version":        attribute.Int64Value(0),
			"evento.events":         attribute.IntValue(1),
		})
		if first.Status().Code != codes.Unset {
			t.Errorf("successful append has status %v", first.Status())
		}
		if conflict.Status().Code != codes.Error || len(conflict.Events()) == 0 {
			t.Errorf("conflicting append: status %v, %d events; want Error and a recorded error", conflict.Status(), len(conflict.Events()))
		}
	}
	if got := len(byName["evento.load"]); got != 1 {
		t.Errorf("%d evento.load spans, want 1", got)
	} else {
		wantAttrs(t, byName["evento.load"][0], map[attribute.Key]attribute.Value{
			"evento.aggregate.type": attribute.StringValue("example/Account"),
			"evento.aggregate.id":   attribute.StringValue(id),
			"evento.events":         attribute.IntValue(3),
			"evento.version":        attribute.Int64Value(3),
			"evento.snapshot":       attribute.BoolValue(false),
		})
	}
	if got := len(byName["evento.read"]); got != 1 {
		t.Errorf("%d evento.read spans, want 1", got)
	} else {
		wantAttrs(t, byName["evento.read"][0], map[attribute.Key]attribute.Value{
			"evento.aggregate.type": attribute.StringValue("example/Account"),
			"evento.event.name":     attribute.StringValue("MoneyDeposited"),
			"evento.query.filters":  attribute.IntValue(1),
			"evento.events":         attribute.IntValue(2),
		})
	}
	handles := byName["evento.handle"]
	if len(handles) != 2 {
		t.Fatalf("%d evento.handle spans, want 2 (one per deposit)", len(handles))
	}
	wantAttrs(t, handles[0], map[attribute.Key]attribute.Value{
		"evento.subscription.key": attribute.StringValue("telemetry-deposits"),
		"evento.aggregate.type":   attribute.StringValue("example/Account"),
		"evento.aggregate.id":     attribute.StringValue(id),
		"evento.event.name":       attribute.StringValue("MoneyDeposited"),
		"evento.event.version":    attribute.Int64Value(2),
	})
	if handles[0].SpanKind() != trace.SpanKindConsumer {
		t.Errorf("evento.handle kind %v, want consumer", handles[0].SpanKind())
	}
	if len(handlerSpans) != 3 || handlerSpans[0].SpanID() != handles[0].SpanContext().SpanID() ||
		handlerSpans[1].SpanID() != handles[0].SpanContext().SpanID() {
		t.Errorf("handler contexts %v do not hold the first evento.handle span %v", handlerSpans, handles[0].SpanContext())
	}

	// Metrics.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	metrics := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/eventogo/evento" {
			t.Errorf("instrumentation scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			metrics[m.Name] = m.Data
		}
	}
	account := attribute.NewSet(attribute.String("evento.aggregate.type", "example/Account"))
	if got := sumOf(t, metrics["evento.append.events"], account); got != 3 {
		t.Errorf("evento.append.events = %d, want 3", got)
	}
	if got := sumOf(t, metrics["evento.append.conflicts"], account); got != 1 {
		t.Errorf("evento.append.conflicts = %d, want 1", got)
	}
	if got := histogramCount(t, metrics["evento.append.duration"], account); got != 2 {
		t.Errorf("evento.append.duration has %d successful commits, want 2", got)
	}
	conflicted := attribute.NewSet(attribute.String("evento.aggregate.type", "example/Account"), attribute.String("error.type", "version_conflict"))
	if got := histogramCount(t, metrics["evento.append.duration"], conflicted); got != 1 {
		t.Errorf("evento.append.duration has %d conflicting commits, want 1", got)
	}
	handler := []attribute.KeyValue{
		attribute.String("evento.subscription.key", "telemetry-deposits"),
		attribute.String("evento.aggregate.type", "example/Account"),
		attribute.String("evento.event.name", "MoneyDeposited"),
	}
	failed := attribute.NewSet(append(handler, attribute.String("error.type", "error"))...)
	if got := histogramCount(t, metrics["evento.handler.duration"], attribute.NewSet(handler...)); got != 2 {
		t.Errorf("evento.handler.duration has %d successful calls, want 2", got)
	}
	if got := histogramCount(t, metrics["evento.handler.duration"], failed); got != 1 {
		t.Errorf("evento.handler.duration has %d failed calls, want 1", got)
	}
	if got := sumOf(t, metrics["evento.handler.errors"], failed); got != 1 {
		t.Errorf("evento.handler.errors = %d, want 1", got)
	}
	gauge, ok := metrics["evento.subscription.lag"].(metricdata.Gauge[float64])
	if !ok || len(gauge.DataPoints) != 1 {
		t.Fatalf("evento.subscription.lag = %#v, want one gauge point", metrics["evento.subscription.lag"])
	}
	if p := gauge.DataPoints[0]; p.Value < 0 || p.Value > 60 ||
		!p.Attributes.Equals(ptr(attribute.NewSet(attribute.String("evento.subscription.key", "telemetry-deposits")))) {
		t.Errorf("evento.subscription.lag point %+v", p)
	}
}

// Without providers a store records nothing, and handlers see no span.
func TestTelemetryOffByDefault(t *testing.T) {
	ctx := context.Background()
	store := evento.New(openTelemetrySQLite(t, sqlite.SynchronousNormal))
	if _, err := store.Create().Event(MoneyDeposited{Amount: 1}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var seen trace.SpanContext
	sub := evento.NewSubscription("no-telemetry", evento.On(func(ctx context.Context, _ evento.Typed[MoneyDeposited]) error {
		seen = trace.SpanContextFromContext(ctx)
		return nil
	}))
	if err := sub.Execute(ctx, store); err != nil {
		t.Fatal(err)
	}
	if seen.IsValid() {
		t.Errorf("handler context holds span %v without a tracer provider", seen)
	}
}

func openTelemetrySQLite(tb testing.TB, sync sqlite.Synchronous) *sqlite.Executor {
	tb.Helper()
	x, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"), sqlite.WithSynchronous(sync))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { x.Close() })
	return x
}

func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]attribute.Value) {
	t.Helper()
	got := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		got[kv.Key] = kv.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %s: %s = %v, want %v", s.Name(), k, got[k].String(), v.String())
		}
	}
}

func sumOf(t *testing.T, data metricdata.Aggregation, attrs attribute.Set) int64 {
	t.Helper()
	sum, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("metric data %#v is not an int64 sum", data)
	}
	for _, p := range sum.DataPoints {
		if p.Attributes.Equals(&attrs) {
			return p.Value
		}
	}
	return 0
}

func histogramCount(t *testing.T, data metricdata.Aggregation, attrs attribute.Set) uint64 {
	t.Helper()
	h, ok := data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("metric data %#v is not a float64 histogram", data)
	}
	for _, p := range h.DataPoints {
		if p.Attributes.Equals(&attrs) {
			return p.Count
		}
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

// BenchmarkAppendTelemetry appends one event to a new aggregate per
// iteration on SQLite (synchronous NORMAL, so that the disk does not hide
// the difference), without telemetry and with the OpenTelemetry SDK
// recording every span (batched to a discarding exporter) and metric.
func BenchmarkAppendTelemetry(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func(b *testing.B) []evento.Option
	}{
		{"none", func(*testing.B) []evento.Option { return nil }},
		{"sdk", func(b *testing.B) []evento.Option {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() {
				tp.Shutdown(context.Background())
				mp.Shutdown(context.Background())
			})
			return []evento.Option{evento.WithTracerProvider(tp), evento.WithMeterProvider(mp)}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			store := evento.New(openTelemetrySQLite(b, sqlite.SynchronousNormal), bc.opts(b)...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := store.CreateWithID(fmt.Sprint("bench-", i)).Event(MoneyDeposited{Amount: int64(i)}).Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
