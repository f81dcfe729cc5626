// Package telemetry holds the server's observability: Prometheus metrics, OpenTelemetry
// traces and structured logs with the request id. Nothing recorded here carries personal
// data: labels are bounded sets (operation names, error codes, outcomes), span
// attributes are methods, routes, statuses and static SQL, and log lines never include
// a request's query string or body.
package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/trace"
)

// requestInfo is what the layers of one request tell the access log.
type requestInfo struct {
	mu        sync.Mutex
	operation string
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return i
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,64}$`)

// RequestID gives every request an id (chi's middleware.RequestID), keeping a caller's
// X-Request-Id only when it is a short token: clients must not choose what lands in logs.
// The id is sent back in the response's X-Request-Id header, so a caller can quote it
// when asking about a request.
func RequestID(next http.Handler) http.Handler {
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := middleware.GetReqID(r.Context()); id != "" {
			w.Header().Set(middleware.RequestIDHeader, id)
		}
		next.ServeHTTP(w, r)
	})
	ids := middleware.RequestID(answer)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(middleware.RequestIDHeader); id != "" && !requestIDRE.MatchString(id) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		ids.ServeHTTP(w, r)
	})
}

// NewLogger returns a JSON slog logger writing to w at level. Every line logged with a
// request's context carries its request_id (and trace_id when traced).
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(contextHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := middleware.GetReqID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(a)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// AccessLog logs one line per request with method, path, status, duration and, for
// GraphQL requests, the operation name. The path is the route the request matched
// (routeLabel), not the raw path; never the query string or the body.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !logger.Enabled(r.Context(), slog.LevelInfo) {
				next.ServeHTTP(w, r) // LOG_LEVEL=warn or above: no access log, and nothing built for it
				return
			}
			start := time.Now()
			info := &requestInfo{}
			r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			attrs := []slog.Attr{
				slog.String("method", methodLabel(r.Method)), slog.String("path", routeLabel(r)),
				slog.Int("status", ww.Status()), slog.Duration("duration", time.Since(start)),
			}
			info.mu.Lock()
			if info.operation != "" {
				attrs = append(attrs, slog.String("operation", info.operation))
			}
			info.mu.Unlock()
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		})
	}
}

// methodLabel bounds a client-chosen HTTP method for metric labels, span names and the
// access log: one of the standard methods (RFC 9110's and PATCH) as sent, else "OTHER".
// Any token is a valid method (and methods are case-sensitive), so the raw text would
// add a series per distinct method and put whatever a client wrote into metrics, traces
// and logs.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

var operationNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// operationLabel bounds a client-chosen operation name for logs and metric labels:
// a GraphQL name of at most 64 characters, else "invalid"; "anonymous" when unnamed.
func operationLabel(name string) string {
	switch {
	case name == "":
		return "anonymous"
	case operationNameRE.MatchString(name):
		return name
	}
	return "invalid"
}
