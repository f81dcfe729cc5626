// Package postgres implements the crm services on PostgreSQL with sqlx and lib/pq.
// It is the only package that sees SQL, row structs and field encryption.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Options tune the connection pool.
type Options struct {
	// MaxConns is the pool size (open and idle).
	MaxConns int
	// StatementTimeout bounds every statement on the server; 0 keeps the server default.
	StatementTimeout time.Duration
	// WrapConnector, when set, wraps the driver connector: a hook for statement-level
	// instrumentation (tracing, counting in tests).
	WrapConnector func(driver.Connector) driver.Connector
	// Driver is the database/sql driver: DriverPQ (lib/pq, the default) or DriverPgx
	// (pgx's stdlib driver). Errors are mapped by SQLSTATE and constraint for both.
	Driver string
}

// Database drivers.
const (
	DriverPQ  = "pq"
	DriverPgx = "pgx"
)

// Open connects to the database at dsn (a postgres:// URL) and checks it answers.
// It asks lib/pq for binary parameters, so every parameterised statement is one round
// trip instead of two (parse+describe, then bind+execute).
func Open(ctx context.Context, dsn string, opts Options) (*sqlx.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("open database: DATABASE_URL must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("binary_parameters", "yes")
	if opts.StatementTimeout > 0 && q.Get("statement_timeout") == "" {
		// lib/pq sends unknown URL parameters as run-time settings at connection start.
		q.Set("statement_timeout", strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()

	var connector driver.Connector
	driverName := "postgres"
	switch opts.Driver {
	case "", DriverPQ:
		connector, err = pq.NewConnector(u.String())
	case DriverPgx:
		q.Del("binary_parameters") // lib/pq's; pgx always binds in one round trip
		q.Del("statement_timeout")
		u.RawQuery = q.Encode()
		var cfg *pgx.ConnConfig
		cfg, err = pgx.ParseConfig(u.String())
		if err == nil && opts.StatementTimeout > 0 {
			cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
		}
		if err == nil {
			connector = stdlib.GetConnector(*cfg)
		}
		driverName = "pgx"
	default:
		return nil, fmt.Errorf("open database: unknown driver %q (use %s or %s)", opts.Driver, DriverPQ, DriverPgx)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if opts.WrapConnector != nil {
		connector = opts.WrapConnector(connector)
	}
	db := sqlx.NewDb(sql.OpenDB(connector), driverName)
	if opts.MaxConns > 0 {
		db.SetMaxOpenConns(opts.MaxConns)
		db.SetMaxIdleConns(opts.MaxConns)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}
