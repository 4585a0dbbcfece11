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
	schema string
	prefix string
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
