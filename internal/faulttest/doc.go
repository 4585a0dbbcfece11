// Package faulttest holds fault-injection tests of subscriptions on the SQL
// stores (SQLite, PostgreSQL, MariaDB/MySQL). It has no API; its tests
// prove, against real databases and real processes:
//
//   - Worker crash: a subscription worker killed with SIGKILL at random
//     moments, over and over while writers append, is taken over by the
//     next worker only after its lease expired, and in the end every event
//     is handled, in order, none skipped: at least once with a plain
//     handler, exactly once with a transactional one (Transactional and
//     TxFrom). The stored cursor ends on the last event.
//   - Lease fencing: a worker paused (SIGSTOP) past its lease TTL while it
//     holds events, and resumed after a successor took over, can neither
//     commit a handler's writes nor move the cursor: every event is
//     recorded exactly once, under the epoch of the worker that held the
//     lease at the time.
//   - Database restart: a running subscription and appending writers whose
//     server connections are all terminated several times (the PostgreSQL
//     and MariaDB backends of the test's database) recover on their own, and
//     every committed event is handled; appends retried after a lost
//     connection are stored once.
//
// The worker processes are the test binary itself, started in a child mode
// selected by environment variables (see TestMain). The tests need Linux
// (SIGSTOP, SIGCONT, the parent-death signal) and, for PostgreSQL and
// MariaDB, the test servers of internal/testenv: without them those
// subtests skip, or fail in CI. Each test works in a database of its own,
// created for it and dropped afterwards.
package faulttest
