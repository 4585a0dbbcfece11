package sqlite

import (
	"fmt"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/sqlstore"
)

// DefaultTablePrefix is the prefix of the executor's table names unless
// [WithTablePrefix] says otherwise.
const DefaultTablePrefix = "evento_"

// Synchronous is SQLite's synchronous setting, which [Open] applies to
// every connection.
type Synchronous uint8

const (
	// SynchronousFull syncs the write-ahead log at every commit: an
	// acknowledged append survives a power loss. It is the default.
	SynchronousFull Synchronous = iota + 1
	// SynchronousNormal syncs only at checkpoints: faster appends, and the
	// database stays consistent, but a power loss may drop the most recent
	// commits.
	SynchronousNormal
)

// pragma returns the value of PRAGMA synchronous for s.
func (s Synchronous) pragma() string {
	if s == SynchronousNormal {
		return "NORMAL"
	}
	return "FULL"
}

// Option configures an [Executor].
type Option func(*config)

type config struct {
	prefix      string
	synchronous Synchronous
}

// WithTablePrefix sets the prefix of every table name. It must match
// ^[a-z_][a-z0-9_]{0,40}$; any other value makes Open and New fail with an
// error wrapping evento.ErrInvalidArgument.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithSynchronous sets SQLite's synchronous setting, by default
// SynchronousFull. Only [Open] accepts it: a database handed to [New] keeps
// the settings of its DSN.
func WithSynchronous(s Synchronous) Option {
	return func(c *config) { c.synchronous = s }
}

// newConfig applies opts to the defaults and checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultTablePrefix}
	for _, o := range opts {
		o(&c)
	}
	if err := sqlstore.ValidatePrefix(c.prefix); err != nil {
		return config{}, err
	}
	if c.synchronous > SynchronousNormal {
		return config{}, fmt.Errorf("%w: unknown synchronous setting %d", evento.ErrInvalidArgument, c.synchronous)
	}
	return c, nil
}
