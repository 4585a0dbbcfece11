// Package stores opens any evento store from one string, so that a program
// (the evento command, a tool, an example) can leave the choice of storage
// to its user:
//
//	sqlite:./events.db                        SQLite database file (created if missing)
//	pebble:./events                           Pebble directory (created if missing)
//	postgres://user:pass@host:5432/db         PostgreSQL (also postgresql://)
//	mysql://user:pass@host:3306/db            MySQL or MariaDB
//
// A spec may end with ?prefix=NAME to select the table prefix (SQL stores)
// or key prefix (Pebble) the store was created with, and a postgres:// spec
// with &schema=NAME to select its schema. Other query parameters go to the
// driver: for sqlite: as in a file: URI, for postgres:// as pgx reads them
// (sslmode=disable, ...), for mysql:// as go-sql-driver/mysql reads them
// (tls=true, ...).
//
// The string is the value of the EVENTO_STORE environment variable when a
// program takes it from there ([EnvVar]).
package stores

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/pebble"
	"github.com/eventogo/evento/sqlite"
)

// EnvVar is the environment variable that holds a store spec for programs
// that read one from the environment, such as the evento command.
const EnvVar = "EVENTO_STORE"

// Errors Open wraps.
var (
	// ErrSpec reports a spec Open cannot read: an unknown scheme, a missing
	// path, a bad parameter. It also matches evento.ErrInvalidArgument.
	ErrSpec = fmt.Errorf("%w: store spec", evento.ErrInvalidArgument)
	// ErrNoStore reports, with [Existing], an embedded store that does not
	// exist yet.
	ErrNoStore = errors.New("no store")
)

// Option configures Open.
type Option func(*config)

type config struct {
	existing bool
}

// Existing makes Open fail with ErrNoStore, rather than create an empty
// store, when the SQLite file or the Pebble directory of the spec does not
// exist. Tools that only inspect a store use it, so that a mistyped path is
// an error and not a new database. Server stores always exist.
func Existing() Option { return func(c *config) { c.existing = true } }

// Open opens the store spec names and returns its executor and the
// function that closes it. Schemes: sqlite:, pebble:, postgres:// (or
// postgresql://) and mysql:// (see the package documentation). Opening a
// store brings its schema up to date.
func Open(ctx context.Context, spec string, opts ...Option) (evento.Executor, func() error, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok || spec == "" {
		return nil, nil, fmt.Errorf("%w %q: want SCHEME:LOCATION, one of %s", ErrSpec, Redact(spec), schemes)
	}
	switch scheme {
	case "sqlite":
		return openSQLite(ctx, rest, cfg)
	case "pebble":
		return openPebble(rest, cfg)
	case "postgres", "postgresql":
		return openPostgres(ctx, spec)
	case "mysql":
		return openMySQL(ctx, spec)
	}
	return nil, nil, fmt.Errorf("%w %q: unknown scheme %q, want one of %s", ErrSpec, Redact(spec), scheme, schemes)
}

// schemes lists the spec forms Open understands, for error messages.
const schemes = "sqlite:PATH, pebble:DIR, postgres://..., mysql://..."

// location splits the location of an embedded store's spec into its path
// and parameters, and takes the prefix parameter out. An optional "//"
// after the scheme is dropped, so sqlite:///tmp/a.db is /tmp/a.db.
func location(rest string) (path string, params url.Values, prefix string, err error) {
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	params, err = url.ParseQuery(query)
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: parameters %q: %v", ErrSpec, query, err)
	}
	prefix = params.Get("prefix")
	params.Del("prefix")
	if path == "" {
		return "", nil, "", fmt.Errorf("%w: no path", ErrSpec)
	}
	return path, params, prefix, nil
}

func openSQLite(ctx context.Context, rest string, cfg config) (evento.Executor, func() error, error) {
	path, params, prefix, err := location(rest)
	if err != nil {
		return nil, nil, err
	}
	if cfg.existing {
		if err := mustExist(path, false); err != nil {
			return nil, nil, err
		}
	}
	var opts []sqlite.Option
	if prefix != "" {
		opts = append(opts, sqlite.WithTablePrefix(prefix))
	}
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	x, err := sqlite.Open(ctx, path, opts...)
	if err != nil {
		return nil, nil, err
	}
	return x, x.Close, nil
}

func openPebble(rest string, cfg config) (evento.Executor, func() error, error) {
	dir, params, prefix, err := location(rest)
	if err != nil {
		return nil, nil, err
	}
	if len(params) > 0 {
		return nil, nil, fmt.Errorf("%w: pebble takes no parameter but prefix, got %q", ErrSpec, params.Encode())
	}
	if cfg.existing {
		if err := mustExist(dir, true); err != nil {
			return nil, nil, err
		}
	}
	var opts []pebble.Option
	if prefix != "" {
		opts = append(opts, pebble.WithKeyPrefix(prefix))
	}
	x, err := pebble.Open(dir, opts...)
	if err != nil {
		return nil, nil, err
	}
	return x, x.Close, nil
}

// mustExist fails with ErrNoStore unless path is a file (or, with dir, a
// directory that holds something).
func mustExist(path string, dir bool) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist", ErrNoStore, path)
	case err != nil:
		return err
	case dir && !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrSpec, path)
	case !dir && fi.IsDir():
		return fmt.Errorf("%w: %s is a directory", ErrSpec, path)
	}
	if dir {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return fmt.Errorf("%w: %s is empty", ErrNoStore, path)
		}
	}
	return nil
}

// Redact returns spec with the password of a URL spec replaced by "xxxxx",
// for messages and logs.
func Redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		// Unparsable: hide whatever sits between "://" and the last "@".
		scheme, rest, ok := strings.Cut(spec, "://")
		if at := strings.LastIndex(rest, "@"); ok && at >= 0 {
			return scheme + "://xxxxx" + rest[at:]
		}
		return spec
	}
	if u.User == nil {
		return spec
	}
	if _, ok := u.User.Password(); !ok {
		return spec
	}
	return u.Redacted()
}
