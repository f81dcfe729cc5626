package pgtest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/devdb"
	"github.com/lerianstudio/crm-registry/internal/postgres"
)

// StatementCounter counts the SQL statements sent to the database (each query or exec;
// BEGIN/COMMIT are not counted).
type StatementCounter struct{ n atomic.Int64 }

// Count returns the statements sent so far.
func (c *StatementCounter) Count() int { return int(c.n.Load()) }

// Reset sets the count back to zero.
func (c *StatementCounter) Reset() { c.n.Store(0) }

// MustOpenCountingDB is MustOpenDB with every statement counted.
func MustOpenCountingDB(tb testing.TB) (*sqlx.DB, *StatementCounter) {
	tb.Helper()
	c := devdb.Shared()
	name := fmt.Sprintf("t_%d", seq.Add(1))
	createMu.Lock()
	err := c.CreateDatabase(context.Background(), name, template)
	createMu.Unlock()
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	counter := &StatementCounter{}
	db, err := postgres.Open(context.Background(), c.URL(name), postgres.Options{
		MaxConns:      8,
		WrapConnector: func(dc driver.Connector) driver.Connector { return countingConnector{dc, counter} },
	})
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, counter
}

type countingConnector struct {
	driver.Connector
	c *StatementCounter
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: cc.c}, nil
}

// countingConn forwards everything lib/pq's connection implements, counting statements.
type countingConn struct {
	driver.Conn
	c *StatementCounter
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

// PrepareContext prepares without counting; each execution of the statement counts.
func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: c.c}, nil
}

// countingStmt counts the executions of a prepared statement.
type countingStmt struct {
	driver.Stmt
	c *StatementCounter
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.n.Add(1)
	return stmtQuery(ctx, s.Stmt, args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.n.Add(1)
	return stmtExec(ctx, s.Stmt, args)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *countingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *countingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *countingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// stmtQuery and stmtExec run a driver statement with its context methods when it has
// them (lib/pq's prepared statements), else the legacy ones (its COPY statement).
func stmtQuery(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := st.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return st.Query(plainValues(args)) //nolint:staticcheck // fallback for drivers without context support
}

func stmtExec(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := st.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return st.Exec(plainValues(args)) //nolint:staticcheck // fallback for drivers without context support
}

func plainValues(args []driver.NamedValue) []driver.Value {
	vs := make([]driver.Value, len(args))
	for i, a := range args {
		vs[i] = a.Value
	}
	return vs
}
