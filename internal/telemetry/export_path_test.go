package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
)

// TestSetupTracing_Path: the OTLP endpoint is the collector's base URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT is in OpenTelemetry's specification: spans are posted to
// its v1/traces path, below a base path if it has one; a URL that already names the
// traces path is used as it is.
func TestSetupTracing_Path(t *testing.T) {
	for _, tc := range []struct{ suffix, want string }{
		{"", "/v1/traces"},
		{"/", "/v1/traces"},
		{"/otel", "/otel/v1/traces"},
		{"/v1/traces", "/v1/traces"},
	} {
		var mu sync.Mutex
		var paths []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}))
		shutdown, err := SetupTracing(context.Background(), srv.URL+tc.suffix, "test")
		if err != nil {
			t.Fatal(err)
		}
		_, span := Tracer().Start(context.Background(), "probe")
		span.End()
		if err := shutdown(context.Background()); err != nil { // flushes the batch
			t.Fatalf("%q: shutdown: %v", tc.suffix, err)
		}
		srv.Close()
		mu.Lock()
		if len(paths) == 0 || paths[0] != tc.want {
			t.Errorf("endpoint %q: spans posted to %v, want %s", srv.URL+tc.suffix, paths, tc.want)
		}
		mu.Unlock()
	}
	if _, err := SetupTracing(context.Background(), "otel-collector:4318", "test"); err == nil {
		t.Error("an endpoint without a scheme was accepted")
	}
}

// TestRequestID_Header: every response carries the request's id in X-Request-Id: the
// caller's when it is a short token, a new one otherwise (never the caller's text).
func TestRequestID_Header(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = middleware.GetReqID(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct{ sent, want string }{
		{"", ""},
		{"abc-123", "abc-123"},
		{"Ana Souza 123.456.789-09", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/health", nil)
		if tc.sent != "" {
			req.Header.Set(middleware.RequestIDHeader, tc.sent)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(middleware.RequestIDHeader)
		switch {
		case got == "" || got != seen:
			t.Errorf("sent %q: response X-Request-Id %q, the request's id %q; want the same, not empty", tc.sent, got, seen)
		case tc.want != "" && got != tc.want:
			t.Errorf("sent %q: response X-Request-Id %q, want the caller's", tc.sent, got)
		case tc.want == "" && got == tc.sent:
			t.Errorf("sent %q: echoed back although it is not a short token", tc.sent)
		}
	}
}
