package sqlstore

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/eventogo/evento"
)

// Placeholders is how a dialect writes bind parameters.
type Placeholders uint8

const (
	// QuestionMarks writes every parameter as ? (SQLite, MySQL).
	QuestionMarks Placeholders = iota
	// DollarNumbers writes parameters as $1, $2, ... (PostgreSQL).
	DollarNumbers
)

// Dialect is what differs between SQL engines in the statements this package
// builds.
type Dialect struct {
	// Placeholders is the bind-parameter style.
	Placeholders Placeholders
	// IdentQuote quotes identifiers: '"' (SQLite, PostgreSQL) or '`' (MySQL).
	IdentQuote byte
	// Embedded is set for an engine that runs in the process (SQLite): a
	// statement costs no round trip, but is compiled again at every run,
	// so two small statements are cheaper than one with subqueries (see
	// EventReader).
	Embedded bool
	// WrapCompoundMembers is set for an engine whose compound SELECT
	// members can neither be parenthesized nor carry an ORDER BY or LIMIT
	// of their own (SQLite): each member of a union is then written as a
	// subquery, SELECT * FROM (<member>).
	WrapCompoundMembers bool
	// UnestimatedNoKey is set for an engine that plans a read of the
	// events without a routing key (evento.NoRoutingKey) within filters
	// badly on a table it has no statistics for (PostgreSQL): it takes
	// "routing_key IS NULL" for a rare condition, expects the filter's
	// events after the cursor to be few, and reads all of them through a
	// bitmap to sort them, for every page. The condition is then written
	// COALESCE(routing_key IS NULL, FALSE), which selects the same rows
	// but which the planner neither serves from an index (none could: the
	// routing key index holds only the events that have a key) nor takes
	// for selective, so the filter's own index, walked in global order,
	// serves the page.
	UnestimatedNoKey bool
}

// Quote returns name as a quoted identifier. A quote character inside name
// is doubled, so the result is always one identifier.
func (d Dialect) Quote(name string) string {
	q := string(d.IdentQuote)
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// Placeholder returns the marker of the n-th (1-based) bind parameter.
func (d Dialect) Placeholder(n int) string {
	if d.Placeholders == DollarNumbers {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// PrefixPattern is the pattern every table-name prefix must match. Table
// names cannot be bind parameters, so the prefix is the one piece of
// configuration that reaches SQL text; the pattern keeps it to plain
// lower-case identifier characters, short enough for every engine's
// identifier limit once a table name is appended.
const PrefixPattern = `^[a-z_][a-z0-9_]{0,40}$`

var prefixRE = regexp.MustCompile(PrefixPattern)

// ValidatePrefix reports a table-name prefix that does not match
// [PrefixPattern], with an error wrapping [evento.ErrInvalidArgument].
func ValidatePrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("%w: table prefix %q does not match %s", evento.ErrInvalidArgument, prefix, PrefixPattern)
	}
	return nil
}
