// Package sqlstore holds what the SQL executors (sqlite, postgres and mysql)
// share: validation and quoting of the table-name prefix and schema name,
// the SELECT that answers an [evento.Query] over any keyset order
// ([Keyset]), the scan of an event row of a single-counter store, ending a
// hand-opened transaction safely, a small versioned-migrations runner, and
// ([Leases]) the fenced lease writes, acknowledgements (with their recorded
// errors, parked events and the transaction they share with a handler),
// subscription status and dead letters of the stores that keep times as
// unix microseconds. Its subpackage sqlstoretest holds the tests every SQL
// executor runs on those acknowledgements.
//
// Dialect differences are data ([Dialect], [Keyset]), not copied functions.
// What only one engine needs (its schema, its append transaction, its error
// codes) stays in that engine's package.
//
// Every SQL executor stores events in the same columns, listed by
// [EventColumns]: position (the global order, one integer counter), id (the
// ULID as 16 bytes), aggregate_type, aggregate_id, version, name,
// routing_key (NULL when the aggregate has none), data, metadata (as
// [evento.Metadata.MarshalBinary] encodes it) and timestamp (unix
// microseconds). PostgreSQL is the exception where its engine demands one:
// its global order is (tx_id, seq) instead of position, and it keeps ids
// and timestamps in its native uuid and timestamptz types.
package sqlstore
