package evento

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName is the instrumentation scope of every span and
// instrument the store creates.
const instrumentationName = "github.com/eventogo/evento"

// Attribute keys of evento's spans and metrics.
const (
	attrAggregateType = attribute.Key("evento.aggregate.type")
	attrAggregateID   = attribute.Key("evento.aggregate.id")
	attrEventName     = attribute.Key("evento.event.name")
	attrEventID       = attribute.Key("evento.event.id")
	attrEventVersion  = attribute.Key("evento.event.version")
	attrEvents        = attribute.Key("evento.events")
	attrVersion       = attribute.Key("evento.version")
	attrFromSnapshot  = attribute.Key("evento.snapshot")
	attrFilters       = attribute.Key("evento.query.filters")
	attrBackward      = attribute.Key("evento.query.backward")
	attrSubscription  = attribute.Key("evento.subscription.key")
	attrErrorType     = attribute.Key("error.type")
)

// WithTracerProvider makes the store record spans through tp:
//
//	evento.append  one per commit: evento.aggregate.type, evento.aggregate.id,
//	               evento.version (the expected version), evento.events
//	evento.load    one per Projection.Load: evento.aggregate.type,
//	               evento.aggregate.id, evento.events (replayed),
//	               evento.snapshot (whether it started from one), evento.version
//	evento.read    one per Store.Read: evento.query.filters, evento.query.backward,
//	               evento.events (returned), and the filter's fields when
//	               there is one filter
//	evento.handle  one per event a subscription handler processes, retries
//	               included: evento.subscription.key, evento.aggregate.type,
//	               evento.aggregate.id, evento.event.name, evento.event.id,
//	               evento.event.version
//
// A failed operation records its error on the span and sets its status to
// Error. Handlers receive a context holding their evento.handle span, so
// their own spans become its children. Without this option the store
// creates no span and pays nothing for tracing.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Store) {
		if tp != nil {
			s.tel.tracer = tp.Tracer(instrumentationName)
		}
	}
}

// WithMeterProvider makes the store record metrics through mp:
//
//	evento.append.events      counter, events appended, by evento.aggregate.type
//	evento.append.duration    histogram (s), per commit, by evento.aggregate.type
//	                          and, when it failed, error.type
//	evento.append.conflicts   counter, commits refused with ErrVersionConflict,
//	                          by evento.aggregate.type
//	evento.handler.duration   histogram (s), per handler call (each retry
//	                          counts), by evento.subscription.key,
//	                          evento.aggregate.type, evento.event.name and,
//	                          when it failed, error.type
//	evento.handler.errors     counter, failed handler calls, same attributes
//	evento.subscription.lag   gauge (s), at every acknowledgement: how long
//	                          ago the last processed event was committed, by
//	                          evento.subscription.key
//
// Without this option the store records no metric and pays nothing for
// them.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(s *Store) {
		if mp != nil {
			s.tel.m = newInstruments(mp.Meter(instrumentationName))
		}
	}
}

// telemetry is a store's tracer and instruments. Either may be nil, and
// then every call that would use it returns at once: no context, span,
// attribute or clock reading is made for an observer that does not exist.
type telemetry struct {
	tracer trace.Tracer
	m      *instruments
}

// instruments are the store's metric instruments.
type instruments struct {
	appended        metric.Int64Counter
	appendDuration  metric.Float64Histogram
	conflicts       metric.Int64Counter
	handlerDuration metric.Float64Histogram
	handlerErrors   metric.Int64Counter
	lag             metric.Float64Gauge
}

// durationBuckets suit event store latencies, in seconds: from 100 µs (an
// append on a fast disk) to 10 s.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// newInstruments creates the instruments on m. An instrument the provider
// refuses is reported to OpenTelemetry's error handler; the provider still
// returns a usable (possibly inert) instrument, so the store carries on.
func newInstruments(m metric.Meter) *instruments {
	var (
		in   instruments
		errs [6]error
	)
	in.appended, errs[0] = m.Int64Counter("evento.append.events",
		metric.WithDescription("Events appended."), metric.WithUnit("{event}"))
	in.appendDuration, errs[1] = m.Float64Histogram("evento.append.duration",
		metric.WithDescription("Duration of a commit."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.conflicts, errs[2] = m.Int64Counter("evento.append.conflicts",
		metric.WithDescription("Commits refused because the aggregate moved on (ErrVersionConflict)."),
		metric.WithUnit("{commit}"))
	in.handlerDuration, errs[3] = m.Float64Histogram("evento.handler.duration",
		metric.WithDescription("Duration of one subscription handler call."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.handlerErrors, errs[4] = m.Int64Counter("evento.handler.errors",
		metric.WithDescription("Subscription handler calls that failed."), metric.WithUnit("{error}"))
	in.lag, errs[5] = m.Float64Gauge("evento.subscription.lag",
		metric.WithDescription("Age of the last event a subscription acknowledged, when it acknowledged it."),
		metric.WithUnit("s"))
	if err := errors.Join(errs[:]...); err != nil {
		otel.Handle(err)
	}
	return &in
}

// start begins a span, or returns ctx and a nil span when tracing is off.
func (t *telemetry) start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if t.tracer == nil {
		return ctx, nil
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// now reads the clock when metrics are on; durations are measured only for
// them.
func (t *telemetry) now() time.Time {
	if t.m == nil {
		return time.Time{}
	}
	return time.Now()
}

// endSpan records err on span, if any, and ends it.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// errorType classifies err for the error.type attribute, by the sentinels
// callers branch on.
func errorType(err error) string {
	switch {
	case errors.Is(err, ErrVersionConflict):
		return "version_conflict"
	case errors.Is(err, ErrAlreadyAppended):
		return "already_appended"
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, ErrPayloadTooLarge):
		return "invalid_argument"
	case errors.Is(err, ErrDecode):
		return "decode"
	case errors.Is(err, ErrUnhandledEvent):
		return "unhandled_event"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	return "error"
}

// appendOp is one instrumented commit. The zero appendOp, which telemetry
// that is off hands out, records nothing.
type appendOp struct {
	m             *instruments
	span          trace.Span
	began         time.Time
	aggregateType string
	events        int
}

// startAppend begins the instrumentation of a commit of events to an
// aggregate at expected version.
func (t *telemetry) startAppend(ctx context.Context, aggregateType, id string, expected int64, events int) (context.Context, appendOp) {
	if t.tracer == nil && t.m == nil {
		return ctx, appendOp{}
	}
	ctx, span := t.start(ctx, "evento.append", trace.SpanKindClient)
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrAggregateType.String(aggregateType), attrAggregateID.String(id),
			attrVersion.Int64(expected), attrEvents.Int(events))
	}
	return ctx, appendOp{m: t.m, span: span, began: t.now(), aggregateType: aggregateType, events: events}
}

// end records the commit's outcome.
func (o appendOp) end(ctx context.Context, err error) {
	endSpan(o.span, err)
	if o.m == nil {
		return
	}
	elapsed := time.Since(o.began).Seconds()
	typ := attrAggregateType.String(o.aggregateType)
	if err != nil {
		o.m.appendDuration.Record(ctx, elapsed, metric.WithAttributes(typ, attrErrorType.String(errorType(err))))
		if errors.Is(err, ErrVersionConflict) {
			o.m.conflicts.Add(ctx, 1, metric.WithAttributes(typ))
		}
		return
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(typ))
	o.m.appendDuration.Record(ctx, elapsed, attrs)
	o.m.appended.Add(ctx, int64(o.events), attrs)
}

// startLoad begins the span of a projection load.
func (t *telemetry) startLoad(ctx context.Context, aggregateType, id string) (context.Context, trace.Span) {
	ctx, span := t.start(ctx, "evento.load", trace.SpanKindInternal)
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrAggregateType.String(aggregateType), attrAggregateID.String(id))
	}
	return ctx, span
}

// endLoad records what a load replayed, and its error.
func endLoad(span trace.Span, replayed int, fromSnapshot bool, version int64, err error) {
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrEvents.Int(replayed), attrFromSnapshot.Bool(fromSnapshot), attrVersion.Int64(version))
	}
	endSpan(span, err)
}

// startRead begins the span of a read.
func (t *telemetry) startRead(ctx context.Context, q *Query) (context.Context, trace.Span) {
	ctx, span := t.start(ctx, "evento.read", trace.SpanKindClient)
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrFilters.Int(len(q.Filters)), attrBackward.Bool(q.Args.IsBackward()))
		if len(q.Filters) == 1 {
			f := q.Filters[0]
			span.SetAttributes(attrAggregateType.String(f.AggregateType))
			if f.AggregateID != "" {
				span.SetAttributes(attrAggregateID.String(f.AggregateID))
			}
			if f.Name != "" {
				span.SetAttributes(attrEventName.String(f.Name))
			}
		}
	}
	return ctx, span
}

// endRead records how many events a read returned, and its error.
func endRead(span trace.Span, events int, err error) {
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrEvents.Int(events))
	}
	endSpan(span, err)
}

// handleOp is the instrumentation of one event through a subscription
// handler, retries included. The zero handleOp records nothing.
type handleOp struct {
	m    *instruments
	span trace.Span
	key  string
	e    *Event
}

// startHandle begins the span of handling e in subscription key.
func (t *telemetry) startHandle(ctx context.Context, key string, e *Event) (context.Context, handleOp) {
	if t.tracer == nil && t.m == nil {
		return ctx, handleOp{}
	}
	ctx, span := t.start(ctx, "evento.handle", trace.SpanKindConsumer)
	if span != nil && span.IsRecording() {
		span.SetAttributes(attrSubscription.String(key), attrAggregateType.String(e.AggregateType),
			attrAggregateID.String(e.AggregateID), attrEventName.String(e.Name),
			attrEventID.String(e.ID.String()), attrEventVersion.Int64(e.Version))
	}
	return ctx, handleOp{m: t.m, span: span, key: key, e: e}
}

// attempt returns the start time of a handler call, for called.
func (o *handleOp) attempt() time.Time {
	if o.m == nil {
		return time.Time{}
	}
	return time.Now()
}

// called records one handler call that began at began.
func (o *handleOp) called(ctx context.Context, began time.Time, err error) {
	if o.m == nil {
		return
	}
	elapsed := time.Since(began).Seconds()
	key, typ, name := attrSubscription.String(o.key), attrAggregateType.String(o.e.AggregateType), attrEventName.String(o.e.Name)
	if err == nil {
		o.m.handlerDuration.Record(ctx, elapsed, metric.WithAttributes(key, typ, name))
		return
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(key, typ, name, attrErrorType.String(errorType(err))))
	o.m.handlerDuration.Record(ctx, elapsed, attrs)
	o.m.handlerErrors.Add(ctx, 1, attrs)
}

// end ends the span with the handler's final error.
func (o *handleOp) end(err error) { endSpan(o.span, err) }

// recordLag records a subscription's lag at an acknowledgement.
func (t *telemetry) recordLag(ctx context.Context, key string, lag time.Duration) {
	if t.m == nil {
		return
	}
	t.m.lag.Record(ctx, lag.Seconds(), metric.WithAttributes(attrSubscription.String(key)))
}
