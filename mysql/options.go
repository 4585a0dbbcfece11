package mysql

import "github.com/eventogo/evento/internal/sqlstore"

// DefaultTablePrefix is the prefix of the executor's table names unless
// [WithTablePrefix] says otherwise.
const DefaultTablePrefix = "evento_"

// Option configures an [Executor].
type Option func(*config)

type config struct {
	prefix string
}

// WithTablePrefix sets the prefix of every table name. It must match
// ^[a-z_][a-z0-9_]{0,40}$; any other value makes Open and New fail with an
// error wrapping evento.ErrInvalidArgument, before they touch the database.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
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
	return c, nil
}
