package telemetry

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxOperationLabels bounds the distinct operation names kept as metric labels; later
// names are counted as "other", so clients cannot blow up the series count.
const maxOperationLabels = 200

// Metrics are the server's Prometheus metrics, on a registry of their own.
type Metrics struct {
	registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	operations   *prometheus.CounterVec
	opDuration   *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	authCalls    *prometheus.HistogramVec
	authCache    *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]bool
}

// NewMetrics registers the metrics, the Go runtime and process collectors, and the
// connection pool statistics of db (nil to leave them out).
func NewMetrics(db *sql.DB) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), names: map[string]bool{}}
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crm_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: latency,
	}, []string{"route"})
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_graphql_operations_total", Help: "GraphQL operations by operation name.",
	}, []string{"operation"})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crm_graphql_operation_duration_seconds", Help: "GraphQL operation latency by operation name.", Buckets: latency,
	}, []string{"operation"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_graphql_errors_total", Help: "GraphQL errors by extensions.code.",
	}, []string{"code"})
	m.authCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crm_access_manager_request_duration_seconds", Help: "Access Manager authorize calls by outcome.", Buckets: latency,
	}, []string{"outcome"})
	m.authCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_access_manager_cache_lookups_total", Help: "Authorization decision cache lookups by result (hit, miss).",
	}, []string{"result"})
	m.registry.MustRegister(m.httpRequests, m.httpDuration, m.operations, m.opDuration, m.errors, m.authCalls, m.authCache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "crm"))
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Middleware counts and times HTTP requests by chi route pattern (never the raw path).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := routeLabel(r)
		m.httpRequests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(ww.Status())).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// routeLabel is the chi route pattern r matched (e.g. /graphiql/*), or "unmatched": what
// metrics and the access log say of a request's path. The raw path is the client's text,
// which may be anything, personal data included.
func routeLabel(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// OperationDone records a finished GraphQL operation (graph.Observer) and names it in
// the request's access log line.
func (m *Metrics) OperationDone(ctx context.Context, name string, d time.Duration, codes []string) {
	label := m.label(operationLabel(name))
	m.operations.WithLabelValues(label).Inc()
	m.opDuration.WithLabelValues(label).Observe(d.Seconds())
	for _, c := range codes {
		m.errors.WithLabelValues(c).Inc()
	}
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.operation = operationLabel(name)
		info.mu.Unlock()
	}
}

func (m *Metrics) label(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return name
	}
	if len(m.names) >= maxOperationLabels {
		return "other"
	}
	m.names[name] = true
	return name
}

// AuthorizeCall records one Access Manager call (auth.Observer).
func (m *Metrics) AuthorizeCall(d time.Duration, outcome string) {
	m.authCalls.WithLabelValues(outcome).Observe(d.Seconds())
}

// CacheLookup records one decision cache lookup (auth.Observer).
func (m *Metrics) CacheLookup(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.authCache.WithLabelValues(result).Inc()
}
