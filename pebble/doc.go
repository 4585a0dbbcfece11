// Package pebble is the evento executor on Pebble, CockroachDB's embedded
// LSM key-value store: a durable, crash-safe event store in a directory,
// with no server and no cgo.
//
// Open a directory with [Open], or run on a *pebble.DB you already have
// with [New]:
//
//	exec, err := pebble.Open("data/events")
//	if err != nil { ... }
//	defer exec.Close()
//	store := evento.New(exec)
//
// Import the driver under another name, since this package is also called
// pebble:
//
//	import pebbledb "github.com/cockroachdb/pebble/v2"
//
// Pebble locks its directory, so one process owns a store at a time; within
// it, one executor runs per key prefix. Open uses a 64 MiB block cache,
// Bloom filters and the newest on-disk format; to choose other settings,
// open the database yourself and call New.
//
// # Key layout
//
// Every key starts with the namespace (the key prefix, "evento" unless
// [WithKeyPrefix] says otherwise, and a 0x00 byte) and a one-byte table tag.
// Strings are escaped and terminated so that they keep their byte order and
// no string's encoding is a prefix of another's; integers are 8 big-endian
// bytes. Each event is stored once; the indexes hold only its position:
//
//	e <pos>                       event record
//	t <type> <pos>                index by aggregate type
//	a <type> <id> <version>       -> pos; the last key gives the current version
//	n <type> <name> <pos>         index by aggregate type and event name
//	r <routing key> <pos>         index by routing key, of the events that have one
//	i <event id>                  -> pos; makes event ids unique
//	s <type> <revision> <id>      snapshot record
//	l <subscription key>          lease record: owner, epoch, expiry, cursor, lag, last error
//	d <subscription key> <parked at> <event id>
//	                              dead letter record: error, encoded event
//	D <subscription key> <event id>
//	                              -> parked at; finds an event's d key
//	m layout                      key layout version
//
// A read turns each filter into a range scan of one index, which yields
// positions in order (forward or backward), merges the scans of OR-ed
// filters by position, and intersects them with the routing key index by
// leapfrogging from one position to the next; a (type, id) scan seeks a
// position by searching the aggregate's versions, whose positions ascend.
// Only the events of the page, and one more, are loaded, except in a read
// of the events without a routing key, which the index does not hold: it
// loads the events its filters (or the event table) yield and skips the
// keyed ones. Every read works on one Pebble snapshot.
//
// The key layout has a version, recorded under m layout. Layout 2 stopped
// indexing the events without a routing key; an executor opening a
// namespace of layout 1 deletes those entries (one range deletion) and
// records layout 2 before it serves anything. A build that knows layout 1
// only refuses a namespace of layout 2.
//
// # Global order
//
// Positions are dense integers from 1, cursor.Position{Seq: n}. One
// goroutine, the committer, assigns them and checks every commit's
// expected version against the aggregate's last version, and it applies one
// batch at a time, so commit order is position order. At open the next
// position is read from the last e key. Readers see positions up to the
// durable watermark only, which rises over whole batches in order: a reader
// that has seen position p never later finds a new event before p.
//
// # Durability and group commit
//
// By default an append returns only after Pebble has synced its
// write-ahead log past the commit: an acknowledged commit survives a
// process crash and a power loss, and a failed one left nothing. Appends
// are grouped: the committer takes every commit queued since its last turn,
// decides each (a commit that conflicts fails alone; two commits to one
// aggregate in a group are checked in order), and applies them all in one
// batch; a second goroutine syncs the log once for every batch applied
// since its last sync, then answers their appenders. While the log syncs
// the next group forms, so durable throughput grows with the number of
// concurrent writers (see BenchmarkDurableAppend). A crash can only lose
// whole unacknowledged groups at the end of the log, so after any crash
// every commit is all-or-nothing and positions and versions stay dense.
//
// [WithoutSync] answers appends, and acknowledges lease and snapshot
// writes, without waiting for the sync. It is much faster for a single
// writer, and a crash still leaves a consistent store, but acknowledged
// writes of the last moments before a power loss, an operating system
// crash or even a process crash can be lost.
//
// # Subscriptions
//
// Leases follow the SQL executors: AcquireLease succeeds when the lease is
// free, expired or already the caller's, and bumps the epoch; renewals,
// releases and acknowledgements check owner and epoch first, so a worker
// whose lease moved on changes nothing. These read-modify-writes run under
// a mutex, which is enough because one process owns the directory. The
// executor implements evento.Waker: subscriptions in the process wake up
// as soon as an append is durable.
//
// It also implements evento.DeadLetterStore. An acknowledgement writes the
// new cursor, the handler failure it records (the last error of the
// subscription status) and the events it parks in one atomic batch, so an
// event is parked exactly when the cursor moves past it. Dead letters are
// kept in the order they were parked, and listing the first n of a key
// reads n records.
package pebble
