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

// TestAccessLog: at info level one JSON line per request with method, path and status;
// at warn level none, and the response passes through untouched either way.
func TestAccessLog(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		lines int
	}{{slog.LevelInfo, 1}, {slog.LevelWarn, 0}} {
		var logs bytes.Buffer
		h := AccessLog(NewLogger(&logs, tc.level))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("body"))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql?secret=1", nil))
		if rec.Code != http.StatusTeapot || rec.Body.String() != "body" {
			t.Errorf("level %v: response %d %q, want 418 \"body\"", tc.level, rec.Code, rec.Body.String())
		}
		if n := bytes.Count(logs.Bytes(), []byte("\n")); n != tc.lines {
			t.Fatalf("level %v: %d log lines, want %d: %s", tc.level, n, tc.lines, logs.String())
		}
		if tc.lines == 0 {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["msg"] != "request" || line["method"] != "POST" || line["path"] != "/graphql" || line["status"] != float64(http.StatusTeapot) {
			t.Errorf("access log line %v", line)
		}
		if bytes.Contains(logs.Bytes(), []byte("secret")) {
			t.Errorf("the query string was logged: %s", logs.String())
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
