package stores_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/eventogo/evento/internal/testenv"
	driver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// uniqueName returns a fresh database or schema name.
func uniqueName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "evento_stores_" + hex.EncodeToString(b)
}

// postgresSpec returns a postgres:// spec of the test server
// (EVENTO_POSTGRES_DSN) that selects a schema of the test's own, dropped
// when the test ends.
func postgresSpec(t *testing.T) string {
	t.Helper()
	dsn := testenv.DSN("EVENTO_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
	}
	schema := uniqueName()
	t.Cleanup(func() {
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("EVENTO_POSTGRES_DSN must be a URL for this test: %v", err)
	}
	q := u.Query()
	q.Set("schema", schema)
	q.Set("prefix", "cli_")
	u.RawQuery = q.Encode()
	return u.String()
}

// mysqlSpec returns a mysql:// spec of a database of the test's own on the
// test server (EVENTO_MYSQL_DSN), dropped when the test ends.
func mysqlSpec(t *testing.T) string {
	t.Helper()
	cfg, err := driver.ParseDSN(testenv.DSN("EVENTO_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/"))
	if err != nil {
		t.Fatalf("EVENTO_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Unavailable(t, "MySQL/MariaDB at "+cfg.Addr, err)
	}
	name := uniqueName()
	if _, err := db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name, RawQuery: "prefix=cli_"}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}
