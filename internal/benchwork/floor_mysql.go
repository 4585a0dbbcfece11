package benchwork

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	driver "github.com/go-sql-driver/mysql"
)

// OpenMySQLFloor creates database name (which must not exist) on the
// server at dsn (a go-sql-driver/mysql DSN; its database is ignored) and
// the floor's table in it: the events table's columns and unique indexes,
// InnoDB, an AUTO_INCREMENT position, one transaction per Insert. Close
// drops the database.
func OpenMySQLFloor(ctx context.Context, dsn, name string) (*SQLFloor, error) {
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		admin.Close()
		return nil, fmt.Errorf("mysql floor: %w", err)
	}
	drop := func() error {
		defer admin.Close()
		_, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		return err
	}
	cfg.DBName = name
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	f := &SQLFloor{db: db, unique: mysqlUnique, after: drop}
	if err := f.init(ctx, "CREATE TABLE floor_events ("+
		" position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"+
		" id BINARY(16) NOT NULL UNIQUE,"+
		" aggregate_type VARBINARY(255) NOT NULL,"+
		" aggregate_id VARBINARY(255) NOT NULL,"+
		" version BIGINT NOT NULL,"+
		" name VARBINARY(255) NOT NULL,"+
		" routing_key VARBINARY(255),"+
		" data LONGBLOB,"+
		" metadata LONGBLOB,"+
		" timestamp BIGINT NOT NULL,"+
		" UNIQUE KEY floor_version (aggregate_type, aggregate_id, version)"+
		") ENGINE=InnoDB"); err != nil {
		return nil, errors.Join(fmt.Errorf("mysql floor: %w", err), f.Close())
	}
	return f, nil
}

// mysqlUnique reports a duplicate-key error (ER_DUP_ENTRY).
func mysqlUnique(err error) bool {
	var e *driver.MySQLError
	return errors.As(err, &e) && e.Number == 1062
}
