package benchwork

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
	"github.com/eventogo/evento/pebble"
	"github.com/eventogo/evento/postgres"
	"github.com/eventogo/evento/sqlite"
	driver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Backend opens fresh, empty stores of one kind: one per workload and run,
// so that no run sees another's events.
type Backend struct {
	// Name labels the backend in reports, e.g. "sqlite(FULL)".
	Name string
	// OpenStore returns a new, empty executor and the function that closes
	// it and deletes what it created.
	OpenStore func(ctx context.Context) (evento.Executor, func() error, error)
	// OpenFloor returns a new, empty floor; nil when the backend has none.
	OpenFloor func(ctx context.Context) (Floor, error)
}

// unique returns a fresh name suffix.
func unique() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// SQLite returns the SQLite backend: files in dir, with the given
// synchronous setting for both the executor and the floor.
func SQLite(dir string, sync sqlite.Synchronous) Backend {
	pragma := "FULL"
	if sync == sqlite.SynchronousNormal {
		pragma = "NORMAL"
	}
	removeDB := func(path string) error {
		var errs []error
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return Backend{
		Name: "sqlite(" + pragma + ")",
		OpenStore: func(ctx context.Context) (evento.Executor, func() error, error) {
			path := filepath.Join(dir, "evento-bench-"+unique()+".db")
			x, err := sqlite.Open(ctx, path, sqlite.WithSynchronous(sync))
			if err != nil {
				return nil, nil, err
			}
			return x, func() error { return errors.Join(x.Close(), removeDB(path)) }, nil
		},
		OpenFloor: func(ctx context.Context) (Floor, error) {
			path := filepath.Join(dir, "evento-floor-"+unique()+".db")
			f, err := OpenSQLiteFloor(ctx, path, pragma)
			if err != nil {
				return nil, err
			}
			return closing{f, func() error { return removeDB(path) }}, nil
		},
	}
}

// closing is a Floor that cleans up after closing.
type closing struct {
	Floor
	after func() error
}

func (c closing) Close() error { return errors.Join(c.Floor.Close(), c.after()) }

// Pebble returns the Pebble backend: directories in dir, synced writes.
func Pebble(dir string) Backend {
	return Backend{
		Name: "pebble",
		OpenStore: func(context.Context) (evento.Executor, func() error, error) {
			d := filepath.Join(dir, "evento-bench-"+unique())
			x, err := pebble.Open(d)
			if err != nil {
				return nil, nil, err
			}
			return x, func() error { return errors.Join(x.Close(), os.RemoveAll(d)) }, nil
		},
		OpenFloor: func(context.Context) (Floor, error) {
			d := filepath.Join(dir, "evento-floor-"+unique())
			f, err := OpenPebbleFloor(d)
			if err != nil {
				return nil, err
			}
			return closing{f, func() error { return os.RemoveAll(d) }}, nil
		},
	}
}

// Postgres returns the PostgreSQL backend: every store and floor lives in
// a schema of its own on the server at dsn, dropped when it closes.
func Postgres(dsn string) Backend {
	return Backend{
		Name: "postgres",
		OpenStore: func(ctx context.Context) (evento.Executor, func() error, error) {
			schema := "evento_bench_" + unique()
			x, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
			if err != nil {
				return nil, nil, err
			}
			return x, func() error {
				err := x.Close()
				conn, cerr := pgx.Connect(context.Background(), dsn)
				if cerr != nil {
					return errors.Join(err, cerr)
				}
				defer conn.Close(context.Background())
				_, derr := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
				return errors.Join(err, derr)
			}, nil
		},
		OpenFloor: func(ctx context.Context) (Floor, error) {
			return OpenPostgresFloor(ctx, dsn, "evento_floor_"+unique())
		},
	}
}

// MySQL returns the MySQL/MariaDB backend: a database of its own per store
// on the server at dsn (a go-sql-driver/mysql DSN without a database),
// dropped when it closes; its floor gets a database of its own too.
func MySQL(dsn string) Backend {
	return Backend{
		Name: "mariadb",
		OpenFloor: func(ctx context.Context) (Floor, error) {
			return OpenMySQLFloor(ctx, dsn, "evento_floor_"+unique())
		},
		OpenStore: func(ctx context.Context) (evento.Executor, func() error, error) {
			cfg, err := driver.ParseDSN(dsn)
			if err != nil {
				return nil, nil, err
			}
			cfg.DBName = ""
			admin, err := sql.Open("mysql", cfg.FormatDSN())
			if err != nil {
				return nil, nil, err
			}
			name := "evento_bench_" + unique()
			if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
				admin.Close()
				return nil, nil, err
			}
			drop := func() error {
				defer admin.Close()
				_, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
				return err
			}
			cfg.DBName = name
			x, err := mysql.Open(ctx, cfg.FormatDSN())
			if err != nil {
				return nil, nil, errors.Join(err, drop())
			}
			return x, func() error { return errors.Join(x.Close(), drop()) }, nil
		},
	}
}

// ParseBackend reads one backend spec of `evento bench`:
//
//	sqlite, sqlite:DIR          SQLite files in DIR (default: dir), synchronous FULL
//	sqlite-normal[:DIR]         the same with synchronous NORMAL
//	pebble, pebble:DIR          Pebble directories in DIR (default: dir)
//	postgres://...              fresh schemas on that server
//	mysql://user:pass@host:port fresh databases on that server
//
// SQLite also takes ?synchronous=normal|full after the directory.
func ParseBackend(spec, dir string) (Backend, error) {
	scheme, rest, _ := strings.Cut(spec, ":")
	switch scheme {
	case "postgres", "postgresql":
		return Postgres(spec), nil
	case "mysql":
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return Backend{}, fmt.Errorf("%w: bench store %q: want mysql://user:password@host:port", evento.ErrInvalidArgument, spec)
		}
		cfg := driver.NewConfig()
		cfg.Net, cfg.Addr = "tcp", u.Host
		if u.Port() == "" {
			cfg.Addr += ":3306"
		}
		if u.User != nil {
			cfg.User = u.User.Username()
			cfg.Passwd, _ = u.User.Password()
		}
		return MySQL(cfg.FormatDSN()), nil
	}
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		path = dir
	}
	switch scheme {
	case "sqlite", "sqlite-normal", "sqlite-full":
		sync := sqlite.SynchronousFull
		if scheme == "sqlite-normal" {
			sync = sqlite.SynchronousNormal
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return Backend{}, fmt.Errorf("%w: bench store %q: %v", evento.ErrInvalidArgument, spec, err)
		}
		switch strings.ToLower(q.Get("synchronous")) {
		case "":
		case "normal":
			sync = sqlite.SynchronousNormal
		case "full":
			sync = sqlite.SynchronousFull
		default:
			return Backend{}, fmt.Errorf("%w: bench store %q: synchronous is normal or full", evento.ErrInvalidArgument, spec)
		}
		return SQLite(path, sync), nil
	case "pebble":
		if query != "" {
			return Backend{}, fmt.Errorf("%w: bench store %q: pebble takes no parameters", evento.ErrInvalidArgument, spec)
		}
		return Pebble(path), nil
	}
	return Backend{}, fmt.Errorf("%w: bench store %q: want sqlite[:DIR], sqlite-normal[:DIR], pebble[:DIR], postgres://... or mysql://...",
		evento.ErrInvalidArgument, spec)
}
