package stores

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/mysql"
	"github.com/eventogo/evento/postgres"
)

// openPostgres opens a postgres:// or postgresql:// URL. The schema and
// prefix parameters select the executor's schema and table prefix; pgx
// reads the rest.
func openPostgres(ctx context.Context, spec string) (evento.Executor, func() error, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: not a URL", ErrSpec, Redact(spec))
	}
	q := u.Query()
	var opts []postgres.Option
	if v := q.Get("prefix"); v != "" {
		opts = append(opts, postgres.WithTablePrefix(v))
	}
	if v := q.Get("schema"); v != "" {
		opts = append(opts, postgres.WithSchema(v))
	}
	q.Del("prefix")
	q.Del("schema")
	u.RawQuery = q.Encode()
	x, err := postgres.Open(ctx, u.String(), opts...)
	if err != nil {
		return nil, nil, err
	}
	return x, x.Close, nil
}

// openMySQL turns a mysql://user:pass@host:port/db?params URL into the DSN
// of go-sql-driver/mysql, user:pass@tcp(host:port)/db?params.
func openMySQL(ctx context.Context, spec string) (evento.Executor, func() error, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: not a URL", ErrSpec, Redact(spec))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || db == "" || strings.Contains(db, "/") {
		return nil, nil, fmt.Errorf("%w %q: want mysql://user:password@host:port/database", ErrSpec, Redact(spec))
	}
	q := u.Query()
	var opts []mysql.Option
	if v := q.Get("prefix"); v != "" {
		opts = append(opts, mysql.WithTablePrefix(v))
	}
	q.Del("prefix")
	addr := u.Host
	if u.Port() == "" {
		addr += ":3306"
	}
	var dsn strings.Builder
	if u.User != nil {
		dsn.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			dsn.WriteString(":" + p)
		}
		dsn.WriteString("@")
	}
	dsn.WriteString("tcp(" + addr + ")/" + db)
	if len(q) > 0 {
		dsn.WriteString("?" + q.Encode())
	}
	x, err := mysql.Open(ctx, dsn.String(), opts...)
	if err != nil {
		return nil, nil, err
	}
	return x, x.Close, nil
}
