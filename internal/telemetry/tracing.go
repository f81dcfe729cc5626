package telemetry

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names this service's tracer.
const TracerName = "github.com/lerianstudio/crm-registry"

// Tracer returns the service tracer of the global provider (a no-op until SetupTracing).
func Tracer() trace.Tracer { return otel.Tracer(TracerName) }

// SetupTracing installs a global tracer provider exporting over OTLP/HTTP to endpoint
// (e.g. http://otel-collector:4318) and the W3C trace-context propagator. It returns the
// function that flushes and stops the exporter.
func SetupTracing(ctx context.Context, endpoint, version string) (func(context.Context) error, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return Install(sdktrace.WithBatcher(exp), version), nil
}

// Install sets a global tracer provider with the given span processor options (tests pass
// an in-memory exporter) and returns its shutdown function.
func Install(opt sdktrace.TracerProviderOption, version string) func(context.Context) error {
	res := resource.NewSchemaless(attribute.String("service.name", "crm-registry"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(opt, sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown
}

// TraceHTTP starts one span per request, continuing a trace context sent by the caller.
// Attributes: method, route pattern, status code (never the query string).
func TraceHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := Tracer().Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			span.SetName("HTTP " + r.Method + " " + rc.RoutePattern())
			span.SetAttributes(attribute.String("http.route", rc.RoutePattern()))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", ww.Status()))
		if ww.Status() >= 500 {
			span.SetStatus(codes.Error, http.StatusText(ww.Status()))
		}
	})
}

// TraceConnector wraps a database connector so that every statement is a span carrying
// its SQL text. The SQL is the server's own constant text with $n placeholders: values
// are bound separately and never recorded.
func TraceConnector(c driver.Connector) driver.Connector { return tracingConnector{c} }

type tracingConnector struct{ driver.Connector }

func (tc tracingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := tc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &tracingConn{Conn: conn}, nil
}

type tracingConn struct{ driver.Conn }

func startSQL(ctx context.Context, query string) (context.Context, trace.Span) {
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return Tracer().Start(ctx, "SQL "+strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", query)))
}

func endSQL(span trace.Span, err error) {
	if err != nil && err != driver.ErrSkip {
		span.SetStatus(codes.Error, "statement failed") // the driver's message may quote values
	}
	span.End()
}

func (c *tracingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := startSQL(ctx, q)
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	endSQL(span, err)
	return rows, err
}

func (c *tracingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := startSQL(ctx, q)
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	endSQL(span, err)
	return res, err
}

func (c *tracingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &tracingStmt{Stmt: st, query: q}, nil
}

// tracingStmt gives each execution of a prepared statement its span.
type tracingStmt struct {
	driver.Stmt
	query string
}

func (s *tracingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := startSQL(ctx, s.query)
	rows, err := stmtQuery(ctx, s.Stmt, args)
	endSQL(span, err)
	return rows, err
}

func (s *tracingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := startSQL(ctx, s.query)
	res, err := stmtExec(ctx, s.Stmt, args)
	endSQL(span, err)
	return res, err
}

func (c *tracingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *tracingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *tracingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *tracingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *tracingConn) CheckNamedValue(nv *driver.NamedValue) error {
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
