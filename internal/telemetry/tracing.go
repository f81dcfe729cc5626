package telemetry

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net/http"
	"net/url"
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
//
// endpoint is read as OTEL_EXPORTER_OTLP_ENDPOINT is in OpenTelemetry's specification:
// the collector's base URL, to which the traces path v1/traces is appended
// (http://otel-collector:4318 sends to http://otel-collector:4318/v1/traces; a base path,
// as behind a proxy, is kept; a URL that already ends in /v1/traces is used as it is).
// The exporter itself would post to the URL as given, and a collector answers a post to
// / with 404.
func SetupTracing(ctx context.Context, endpoint, version string) (func(context.Context) error, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("tracing: OTEL_EXPORTER_OTLP_ENDPOINT must be a URL such as http://otel-collector:4318")
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") { // already the traces URL: kept
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
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
// Attributes: method (methodLabel), route pattern, status code (never the query string).
func TraceHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := methodLabel(r.Method)
		ctx, span := Tracer().Start(ctx, "HTTP "+method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method)))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			span.SetName("HTTP " + method + " " + rc.RoutePattern())
			span.SetAttributes(attribute.String("http.route", rc.RoutePattern()))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", ww.Status()))
		if ww.Status() >= 500 {
			span.SetStatus(codes.Error, http.StatusText(ww.Status()))
		}
	})
}

// TraceStatement is a postgres.StatementHook that makes every statement a span carrying
// its SQL text. The SQL is the server's own constant text with $n placeholders: values
// are bound separately and never recorded.
func TraceStatement(ctx context.Context, query string) (context.Context, func(error)) {
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	ctx, span := Tracer().Start(ctx, "SQL "+strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", query)))
	return ctx, func(err error) {
		if err != nil && err != driver.ErrSkip {
			span.SetStatus(codes.Error, "statement failed") // the driver's message may quote values
		}
		span.End()
	}
}
