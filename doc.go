// Package evento is an event store for Go: append events to aggregates with
// optimistic concurrency, load state by replaying them (with snapshots), run
// subscriptions that see every event exactly in order and resume where they
// stopped, and page through the log with cursors.
//
// # Layout
//
// The root package holds the domain types ([Event], [Metadata]), the storage
// contract ([Executor]) and the user API built on it ([Store], [Builder],
// [Projection], [Subscription]). Each storage engine is a subpackage that
// implements Executor: sqlite is the embedded default. Package cursor holds
// pagination, package codec the payload codecs, and package evtest the
// conformance suite every executor passes.
//
// # Events
//
// Typed events are plain structs that implement [EventData]: they name their
// aggregate type and event name. The store encodes them with its codec
// (CBOR by default) and hands them back decoded to handlers built with
// [Apply] (projections) and [On] (subscriptions).
//
// # Ordering
//
// Every executor defines one total order over all its events, and that order
// is commit order as readers can see it: a reader that has seen position p
// never later finds a newly visible event before p. Subscriptions rely on
// it to never skip an event.
//
// # Observability
//
// A Store logs through the *slog.Logger of [WithLogger] and records spans
// and metrics through the OpenTelemetry providers of [WithTracerProvider]
// and [WithMeterProvider]; without them it records nothing, at no cost.
// Optional interfaces (see [SubscriptionLister], [Statistician],
// [LeaseBreaker], [Migrator]) let tools such as the evento command list
// subscriptions, count events and reset cursors on stores that offer it.
package evento
