// Package postgres implements the crm services on PostgreSQL with sqlx and lib/pq.
// It is the only package that sees SQL, row structs and field encryption.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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
	// A statement_timeout in the URL wins. The one in effect, plus a few seconds, also
	// bounds each read and write on a connection (5 minutes when there is none).
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

// statementTimeoutMargin is how much longer than the statement timeout a read or write
// on a database connection may wait before the client gives the connection up.
// PostgreSQL itself cancels any statement, lock wait or COPY at statement_timeout and
// answers with an error, so a connection that stays silent longer than that means the
// server (a frozen or dead backend) or the network path (dropped packets) is gone. The
// margin covers the round trip of that error and a busy server's scheduling.
const statementTimeoutMargin = 5 * time.Second

// noStatementTimeoutIOTimeout bounds a read or write when no statement timeout is known
// (DB_STATEMENT_TIMEOUT=0, or a statement_timeout in the URL that could not be read).
// Then nothing says how long a statement may legitimately run, so the bound is generous;
// it is still finite, so a database that stops answering cannot hold a request, and its
// connection, forever. A statement that must run longer needs a statement timeout above
// it, not 0.
const noStatementTimeoutIOTimeout = 5 * time.Minute

// ioTimeout returns how long one read or write on a database connection may block when
// the server's statement timeout is statementTimeout (0: none).
func ioTimeout(statementTimeout time.Duration) time.Duration {
	if statementTimeout <= 0 {
		return noStatementTimeoutIOTimeout
	}
	return statementTimeout + statementTimeoutMargin
}

// Open connects to the database at dsn (a postgres:// URL) and checks it answers.
// It asks lib/pq for binary parameters, so every parameterised statement is one round
// trip instead of two (parse+describe, then bind+execute).
//
// Every connection puts a deadline of ioTimeout on each read and write: lib/pq, when a
// context ends, only sends a CancelRequest on a new connection and keeps blocking on the
// original socket, so without it a frozen server or a path that drops packets would hang
// the request (and /readyz) forever. A read or write that hits the deadline closes the
// connection; the driver reports it bad and database/sql opens a new one.
func Open(ctx context.Context, dsn string, opts Options) (*sqlx.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("open database: DATABASE_URL must be a postgres:// URL")
	}
	q := u.Query()
	// The statement timeout the server will apply: the URL's own statement_timeout wins
	// (both drivers send unknown URL parameters as run-time settings at connection start).
	stmtTimeout := opts.StatementTimeout
	if v := q.Get("statement_timeout"); v != "" {
		if stmtTimeout, err = parseStatementTimeout(v); err != nil {
			stmtTimeout = 0 // unreadable here, so the generous bound applies
		}
	} else if opts.StatementTimeout > 0 {
		// Rounded up: a sub-millisecond value must not become 0, which turns the bound off.
		ms := (opts.StatementTimeout + time.Millisecond - 1) / time.Millisecond
		q.Set("statement_timeout", strconv.FormatInt(int64(ms), 10))
	}
	rwTimeout := ioTimeout(stmtTimeout)

	var connector driver.Connector
	driverName := "postgres"
	switch opts.Driver {
	case "", DriverPQ:
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		var pc *pq.Connector
		if pc, err = pq.NewConnector(u.String()); err == nil {
			pc.Dialer(&deadlineDialer{timeout: rwTimeout})
			connector = pc
		}
	case DriverPgx:
		q.Del("binary_parameters") // lib/pq's; pgx always binds in one round trip
		u.RawQuery = q.Encode()
		var cfg *pgx.ConnConfig
		if cfg, err = pgx.ParseConfig(u.String()); err == nil {
			// pgx honours a context's deadline on its own, but not every call has one
			// (migrations at start-up): its connections get the same bound.
			dial := cfg.DialFunc
			cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return newDeadlineConn(c, rwTimeout), nil
			}
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

// parseStatementTimeout reads a statement_timeout as PostgreSQL does: a number,
// optionally followed by a unit (us, ms, s, min, h, d); milliseconds without one.
func parseStatementTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	units := map[string]time.Duration{
		"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
	}
	f, err := strconv.ParseFloat(num, 64)
	u, ok := units[unit]
	if err != nil || !ok {
		return 0, fmt.Errorf("statement_timeout %q: not a duration", s)
	}
	return time.Duration(f * float64(u)), nil
}

// deadlineDialer is lib/pq's dialer (pq.Dialer and pq.DialerContext): TCP keepalive on
// (net.Dialer's default, 15 s idle and between probes), and every connection wrapped in
// a deadlineConn. lib/pq also dials its CancelRequest connections with it.
type deadlineDialer struct {
	d       net.Dialer
	timeout time.Duration
}

func (d *deadlineDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *deadlineDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *deadlineDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return newDeadlineConn(c, d.timeout), nil
}

// deadlineConn puts a deadline of timeout on every Read and Write, counted from the
// start of the call, so only a connection that stays silent (or does not drain) that
// long fails: a long result streamed in many reads does not. A deadline the driver sets
// itself (lib/pq's connect_timeout, pgx's context watcher) still applies when earlier.
// A Read or Write that times out on its own deadline closes the connection: after a
// partial message it is of no further use, and the server ends the session (rolling back,
// releasing locks) as soon as it sees the close.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	// readBy and writeBy are the driver's own deadlines, as Unix nanoseconds (0: none).
	readBy, writeBy atomic.Int64
}

func newDeadlineConn(c net.Conn, timeout time.Duration) *deadlineConn {
	return &deadlineConn{Conn: c, timeout: timeout}
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	own, err := c.arm(&c.readBy, c.Conn.SetReadDeadline)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	c.closeOnTimeout(own, &c.readBy, err)
	return n, err
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	own, err := c.arm(&c.writeBy, c.Conn.SetWriteDeadline)
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	c.closeOnTimeout(own, &c.writeBy, err)
	return n, err
}

// arm sets the earlier of now+timeout and the driver's deadline by, and reports whether
// it was its own. If the driver sets a deadline meanwhile (pgx does, from another
// goroutine, to interrupt a read), it applies the earlier one again.
func (c *deadlineConn) arm(by *atomic.Int64, set func(time.Time) error) (own bool, err error) {
	for {
		theirs := by.Load()
		d := time.Now().Add(c.timeout)
		own = theirs == 0 || d.UnixNano() < theirs
		if !own {
			d = time.Unix(0, theirs)
		}
		if err := set(d); err != nil {
			return false, err
		}
		if by.Load() == theirs {
			return own, nil
		}
	}
}

// closeOnTimeout closes the connection when err is the expiry of the deadline arm set as
// its own, unless the driver has since set one that has passed too: that expiry is the
// driver's to handle.
func (c *deadlineConn) closeOnTimeout(own bool, by *atomic.Int64, err error) {
	if !own || !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	if theirs := by.Load(); theirs != 0 && theirs <= time.Now().UnixNano() {
		return
	}
	_ = c.Conn.Close()
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.readBy.Store(unixNano(t))
	c.writeBy.Store(unixNano(t))
	if _, err := c.arm(&c.readBy, c.Conn.SetReadDeadline); err != nil {
		return err
	}
	_, err := c.arm(&c.writeBy, c.Conn.SetWriteDeadline)
	return err
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.readBy.Store(unixNano(t))
	_, err := c.arm(&c.readBy, c.Conn.SetReadDeadline)
	return err
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.writeBy.Store(unixNano(t))
	_, err := c.arm(&c.writeBy, c.Conn.SetWriteDeadline)
	return err
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
