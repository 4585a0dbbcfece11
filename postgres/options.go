package postgres

import "github.com/eventogo/evento/internal/sqlstore"

// DefaultSchema is the schema of the executor's tables unless [WithSchema]
// says otherwise.
const DefaultSchema = "public"

// DefaultTablePrefix is the prefix of the executor's table names unless
// [WithTablePrefix] says otherwise.
const DefaultTablePrefix = "evento_"

// Option configures an [Executor].
type Option func(*config)

type config struct {
	schema   string
	prefix   string
	noNotify bool
}

// WithSchema sets the schema that holds the executor's tables; the
// migrations create it when it does not exist. It must match
// ^[a-z_][a-z0-9_]{0,62}$; any other value makes Open and New fail with an
// error wrapping evento.ErrInvalidArgument.
func WithSchema(name string) Option {
	return func(c *config) { c.schema = name }
}

// WithTablePrefix sets the prefix of every table, index, constraint and
// function name. It must match ^[a-z_][a-z0-9_]{0,40}$; any other value
// makes Open and New fail with an error wrapping evento.ErrInvalidArgument.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithoutNotify turns off the wake-ups across processes: appends no longer
// notify, and [Executor.Wake] no longer listens, so that it reports only
// the appends made through this executor, and subscriptions see other
// processes' events at their next poll.
//
// By default, every committed append is notified on a channel named after
// the schema and prefix, and the first call to Wake starts a listener on a
// connection of its own, so that a subscription picks up events appended
// by any process within milliseconds instead of at its next poll. The
// notification is sent after the append's own transaction commits, from a
// goroutine of the executor, and appends that commit while one is on its
// way share the next: a transaction that notifies takes a server-wide lock
// while its commit is flushed, and notifying inside every append would
// serialize the commits of concurrent writers (measured with
// BenchmarkNotifyAppend, PostgreSQL 15, 2 vCPUs, eight writers: 1,100 to
// 2,100 appends per second with pg_notify in the append's transaction,
// 3,600 to 5,300 without notifications). An append whose process dies
// between its commit and the notification is found at the next poll.
//
// Use WithoutNotify:
//   - behind a connection pooler in transaction mode (PgBouncer and the
//     like), where a LISTEN session cannot be kept;
//   - when every writer and subscriber run in one process, where the
//     in-process wake-up already does the job, to save the listener's
//     connection and the notifications' round trips.
//
// The option applies to one executor: the appends of the others still
// notify, and their listeners still listen. Events are never lost either
// way: without a notification a subscription still finds them at its next
// poll.
func WithoutNotify() Option {
	return func(c *config) { c.noNotify = true }
}

// newConfig applies opts to the defaults and checks the result. The schema
// and the prefix are the only configuration that reaches SQL text; both are
// checked against strict patterns here and quoted wherever they are used.
func newConfig(opts []Option) (config, error) {
	c := config{schema: DefaultSchema, prefix: DefaultTablePrefix}
	for _, o := range opts {
		o(&c)
	}
	if err := sqlstore.ValidateSchema(c.schema); err != nil {
		return config{}, err
	}
	if err := sqlstore.ValidatePrefix(c.prefix); err != nil {
		return config{}, err
	}
	return c, nil
}
