package pebble

import pebbledb "github.com/cockroachdb/pebble/v2"

// Option configures an [Executor].
type Option func(*config)

type config struct {
	prefix string
	noSync bool
}

// WithoutSync stops the executor from waiting for Pebble to sync its
// write-ahead log before it acknowledges a write (appends, snapshots,
// leases and acknowledgements).
//
// Appends become much faster, and the store stays consistent: after any
// crash every commit is all-or-nothing and positions stay dense and
// ordered. But an acknowledged write is not yet durable. A power loss or
// an operating system crash loses the writes of the last moments, and so
// can a crash of the process itself, because Pebble writes its log from a
// background goroutine. Subscribers may then have seen, and acknowledged,
// events that are gone, and new events reuse their positions. Use it only
// for data you can rebuild, or where losing the last moments is accepted.
func WithoutSync() Option {
	return func(c *config) { c.noSync = true }
}

// WithKeyPrefix sets the namespace of every key the executor writes, by
// default [DefaultKeyPrefix], so that several executors (or other data) can
// share one Pebble database. It must match ^[a-z_][a-z0-9_]{0,40}$; any
// other value makes Open and New fail with an error wrapping
// evento.ErrInvalidArgument. Keys of different prefixes never interleave.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// newConfig applies opts to the defaults and checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultKeyPrefix}
	for _, o := range opts {
		o(&c)
	}
	if err := validatePrefix(c.prefix); err != nil {
		return config{}, err
	}
	return c, nil
}

// writeOptions returns the Pebble write options of every write.
func (c config) writeOptions() *pebbledb.WriteOptions {
	if c.noSync {
		return pebbledb.NoSync
	}
	return pebbledb.Sync
}
