// Package testenv decides what tests that need a database server do when the
// server is missing: outside CI they skip with a message, in CI (CI=true or
// EVENTO_REQUIRE_SERVERS=1) they fail, so that a missing server can never
// turn into a green run.
package testenv

import (
	"os"
	"testing"
)

// ServersRequired reports whether a missing database server must fail the
// test run instead of skipping.
func ServersRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("EVENTO_REQUIRE_SERVERS") == "1"
}

// DSN returns the value of the environment variable env, or def when unset.
func DSN(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// Unavailable ends the test because the server named what cannot be reached:
// a failure when servers are required, a skip otherwise.
func Unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if ServersRequired() {
		tb.Fatalf("%s is required (CI=true or EVENTO_REQUIRE_SERVERS=1) but unreachable: %v", what, err)
	}
	tb.Skipf("%s unreachable, skipping (set CI=true or EVENTO_REQUIRE_SERVERS=1 to fail instead): %v", what, err)
}
