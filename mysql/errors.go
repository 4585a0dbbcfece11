package mysql

import (
	"context"
	"errors"
	"fmt"

	driver "github.com/go-sql-driver/mysql"
)

// Server error numbers the executor branches on. MySQL and MariaDB share
// them.
const (
	// erDupEntry is ER_DUP_ENTRY: a UNIQUE or PRIMARY KEY violation.
	erDupEntry = 1062
	// erNetPacketTooLarge is ER_NET_PACKET_TOO_LARGE: a statement above
	// max_allowed_packet.
	erNetPacketTooLarge = 1153
	// erUnknownSystemVariable is ER_UNKNOWN_SYSTEM_VARIABLE: a server
	// that has no variable of that name.
	erUnknownSystemVariable = 1193
)

// isDuplicateKey reports whether err is the server's report of a UNIQUE or
// PRIMARY KEY violation. It reads the error number, never the message: the
// message names the key, but its wording differs between servers and
// versions, so the executor reads the stored rows instead to tell which
// key was hit.
func isDuplicateKey(err error) bool {
	var e *driver.MySQLError
	return errors.As(err, &e) && e.Number == erDupEntry
}

// isPacketTooLarge reports whether err says that a statement exceeded
// max_allowed_packet, as the server or the driver saw it.
func isPacketTooLarge(err error) bool {
	var e *driver.MySQLError
	return errors.Is(err, driver.ErrPktTooLarge) || (errors.As(err, &e) && e.Number == erNetPacketTooLarge)
}

// isUnknownVariable reports whether err is the server's report of a
// system variable it does not have.
func isUnknownVariable(err error) bool {
	var e *driver.MySQLError
	return errors.As(err, &e) && e.Number == erUnknownSystemVariable
}

// contextCause returns ctx's error, wrapped with err, once ctx has ended:
// the driver closes the connection of a cancelled statement, and the next
// statement on it then reports a bad connection rather than the
// cancellation that caused it.
func contextCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
