package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// sqlstateUniqueViolation is PostgreSQL's SQLSTATE for a unique or primary
// key violation.
const sqlstateUniqueViolation = "23505"

// uniqueViolation reports whether err is the server's report of a unique
// violation, and which constraint it names. It reads the SQLSTATE code and
// the constraint field of the error, never the message text, which the
// server translates into its configured language.
func uniqueViolation(err error) (constraint string, ok bool) {
	var e *pgconn.PgError
	if !errors.As(err, &e) || e.Code != sqlstateUniqueViolation {
		return "", false
	}
	return e.ConstraintName, true
}
