package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestAccessLog: at info level one JSON line per request with method, route and status
// (the route pattern the request matched, or "unmatched": never the raw path, which is
// the client's text, nor the query string); at warn level none, and the response passes
// through untouched either way.
func TestAccessLog(t *testing.T) {
	for _, tc := range []struct {
		level        slog.Level
		target, path string // request target, and the path logged for it ("" for no line)
		status       int
	}{
		{slog.LevelInfo, "/graphql?secret=1", "/graphql", http.StatusTeapot},
		{slog.LevelInfo, "/holders/123.456.789-09?secret=1", "unmatched", http.StatusNotFound},
		{slog.LevelWarn, "/graphql?secret=1", "", http.StatusTeapot},
	} {
		var logs bytes.Buffer
		r := chi.NewRouter()
		r.Use(AccessLog(NewLogger(&logs, tc.level)))
		r.Post("/graphql", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("body"))
		})
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.target, nil))
		if rec.Code != tc.status || (tc.status == http.StatusTeapot && rec.Body.String() != "body") {
			t.Errorf("%v %s: response %d %q, want %d", tc.level, tc.target, rec.Code, rec.Body.String(), tc.status)
		}
		lines := 0
		if tc.path != "" {
			lines = 1
		}
		if n := bytes.Count(logs.Bytes(), []byte("\n")); n != lines {
			t.Fatalf("%v %s: %d log lines, want %d: %s", tc.level, tc.target, n, lines, logs.String())
		}
		if lines == 0 {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["msg"] != "request" || line["method"] != "POST" || line["path"] != tc.path || line["status"] != float64(tc.status) {
			t.Errorf("%s: access log line %v, want path %q and status %d", tc.target, line, tc.path, tc.status)
		}
		for _, leak := range []string{"secret", "123.456.789-09", "holders"} {
			if bytes.Contains(logs.Bytes(), []byte(leak)) {
				t.Errorf("%s: the log has %q: %s", tc.target, leak, logs.String())
			}
		}
	}
}

// TestNonStandardMethod: a method outside the standard ones is recorded as OTHER in the
// request counter, the request span (name and attribute) and the access log line, and
// its text appears in none of them; a standard method keeps its name.
//
// Regression (fixed bug): Metrics.Middleware labelled requests with the raw r.Method and
// TraceHTTP named spans after it, so every method a client made up became a new
// Prometheus series (unbounded cardinality) and put its text into metrics and traces.
func TestNonStandardMethod(t *testing.T) {
	const method = "ZEPHYRINE_QUAGLIA_12345678909"
	exp := tracetest.NewInMemoryExporter()
	shutdown := Install(sdktrace.WithSyncer(exp), "test")
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	m := NewMetrics(nil)
	var logs bytes.Buffer
	r := chi.NewRouter()
	r.Use(TraceHTTP, AccessLog(NewLogger(&logs, slog.LevelInfo)), m.Middleware)
	r.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, meth := range []string{method, http.MethodGet} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(meth, "/graphql", nil))
	}

	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "crm_http_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
	}
	if want := map[string]float64{"OTHER": 1, "GET": 1}; !maps.Equal(methods, want) {
		t.Errorf("crm_http_requests_total by method = %v, want %v", methods, want)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `method="OTHER"`) {
		t.Errorf("/metrics has no series with method=\"OTHER\"")
	}

	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
		for _, a := range s.Attributes {
			if a.Key == "http.request.method" && a.Value.AsString() != strings.Fields(s.Name)[1] {
				t.Errorf("span %q has http.request.method %q", s.Name, a.Value.AsString())
			}
		}
	}
	// chi answers a method it does not know 405 without matching a route.
	if want := []string{"HTTP OTHER", "HTTP GET /graphql"}; !slices.Equal(names, want) {
		t.Errorf("spans %q, want %q", names, want)
	}

	var logged []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		logged = append(logged, fmt.Sprint(line["method"]))
	}
	if want := []string{"OTHER", "GET"}; !slices.Equal(logged, want) {
		t.Errorf("access log methods %q, want %q", logged, want)
	}

	for where, text := range map[string]string{"/metrics": rec.Body.String(), "spans": fmt.Sprint(exp.GetSpans()), "access log": logs.String()} {
		for _, part := range []string{"ZEPHYRINE", "QUAGLIA", "12345678909"} {
			if strings.Contains(strings.ToUpper(text), part) {
				t.Errorf("%s contains %q", where, part)
			}
		}
	}
}
