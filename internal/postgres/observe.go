package postgres

import (
	"context"
	"database/sql/driver"
)

// StatementHook observes one SQL statement: it is called before the statement runs and
// returns the context to run it with and a function called with its error afterwards.
type StatementHook func(ctx context.Context, query string) (context.Context, func(error))

// ObserveStatements wraps a driver connector so that hook sees every statement sent
// to the database: plain queries and execs and each execution of a prepared statement
// (preparing itself, BEGIN and COMMIT are not reported). Tracing and the tests'
// statement counter are built on it (Options.WrapConnector).
func ObserveStatements(c driver.Connector, hook StatementHook) driver.Connector {
	return observedConnector{Connector: c, hook: hook}
}

type observedConnector struct {
	driver.Connector
	hook StatementHook
}

func (oc observedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := oc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &observedConn{Conn: conn, hook: oc.hook}, nil
}

// observedConn forwards everything lib/pq's connection implements.
type observedConn struct {
	driver.Conn
	hook StatementHook
}

func (c *observedConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, done := c.hook(ctx, q)
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	done(err)
	return rows, err
}

func (c *observedConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ctx, done := c.hook(ctx, q)
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	done(err)
	return res, err
}

func (c *observedConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &observedStmt{Stmt: st, query: q, hook: c.hook}, nil
}

func (c *observedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// The optional interfaces below forward when the driver's connection has them and
// answer as database/sql would without them otherwise (lib/pq and pgx differ).

func (c *observedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *observedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *observedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *observedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// observedStmt reports each execution of a prepared statement.
type observedStmt struct {
	driver.Stmt
	query string
	hook  StatementHook
}

func (s *observedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, done := s.hook(ctx, s.query)
	var rows driver.Rows
	var err error
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		rows, err = s.Stmt.Query(plainValues(args)) //nolint:staticcheck // lib/pq's COPY statement has no context methods
	}
	done(err)
	return rows, err
}

func (s *observedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, done := s.hook(ctx, s.query)
	var res driver.Result
	var err error
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		res, err = s.Stmt.Exec(plainValues(args)) //nolint:staticcheck // lib/pq's COPY statement has no context methods
	}
	done(err)
	return res, err
}

func plainValues(args []driver.NamedValue) []driver.Value {
	vs := make([]driver.Value, len(args))
	for i, a := range args {
		vs[i] = a.Value
	}
	return vs
}
