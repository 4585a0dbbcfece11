package sqlstore

import (
	"fmt"
	"regexp"

	"github.com/eventogo/evento"
)

// SchemaPattern is the pattern every schema (or database) name must match
// where an engine lets the user choose one: plain lower-case identifier
// characters, at most 63 bytes, PostgreSQL's identifier limit. Like a table
// prefix, the name reaches SQL text, so nothing else is accepted.
const SchemaPattern = `^[a-z_][a-z0-9_]{0,62}$`

var schemaRE = regexp.MustCompile(SchemaPattern)

// ValidateSchema reports a schema name that does not match
// [SchemaPattern], with an error wrapping [evento.ErrInvalidArgument].
func ValidateSchema(name string) error {
	if !schemaRE.MatchString(name) {
		return fmt.Errorf("%w: schema %q does not match %s", evento.ErrInvalidArgument, name, SchemaPattern)
	}
	return nil
}
