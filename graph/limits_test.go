package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// raw sends a request as is and returns the recorder.
func (s *testServer) raw(t *testing.T, method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set(graph.OrganizationHeader, newOrg())
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

func responseCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var resp gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) == 0 {
		t.Fatalf("want a GraphQL error body, got %d %q", rec.Code, rec.Body.String())
	}
	return resp.Errors[0].Extensions.Code
}

// TestOperationLimits: abusive operations are rejected with a clear code before they
// run, and the server keeps answering normal ones.
func TestOperationLimits(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()

	deep := `{ holders { edges { node { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { holder { id } } } } } } } } } } } } } } } } } }`
	wantCode(t, s.post(t, org, deep, nil, nil), "QUERY_TOO_DEEP")

	wide := `{ holders(first: 100) { edges { node { aliasAccounts { holder { aliasAccounts { holder { aliasAccounts { id ledgerId accountId } } } } } } } } }`
	wantCode(t, s.post(t, org, wide, nil, nil), "COMPLEXITY_LIMIT_EXCEEDED")

	var b strings.Builder
	b.WriteString("{")
	for i := range 1000 {
		fmt.Fprintf(&b, " a%d: __typename", i)
	}
	b.WriteString(" }")
	wantCode(t, s.post(t, org, b.String(), nil, nil), "TOO_MANY_FIELDS")

	big := []byte(`{"query": "{ __typename }", "variables": {"pad": "` + strings.Repeat("x", 5<<20) + `"}}`)
	rec := s.raw(t, http.MethodPost, "/graphql", "application/json", big)
	if rec.Code != http.StatusRequestEntityTooLarge || responseCode(t, rec) != crm.EREQUESTTOOLARGE {
		t.Fatalf("5 MB body: %d %s", rec.Code, rec.Body.String())
	}

	// Still serving.
	var ok struct{ Holders struct{ TotalCount int } }
	s.mustPost(t, org, `{ holders(first: 100) { totalCount edges { node { id name aliasAccounts { id holder { id } } } } } }`, nil, &ok)
}

// TestHTTPRules: GET serves queries only (mutations are 405 with Allow: POST), POST must
// be JSON (no simple-form CSRF), and the GraphQL-over-HTTP media type is supported.
func TestHTTPRules(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	q := url.Values{"query": {`mutation { createHolder(input: {type: NATURAL_PERSON, name: "x", document: "1"}) { holder { id } } }`}}
	rec := s.raw(t, http.MethodGet, "/graphql?"+q.Encode(), "", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("mutation over GET: %d Allow=%q", rec.Code, rec.Header().Get("Allow"))
	}
	if n := s.count(t, "holders"); n != 0 {
		t.Fatalf("GET wrote %d holders", n)
	}

	q = url.Values{"query": {`{ holders { totalCount } }`}}
	rec = s.raw(t, http.MethodGet, "/graphql?"+q.Encode(), "", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"totalCount":0`) {
		t.Fatalf("query over GET: %d %s", rec.Code, rec.Body.String())
	}

	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"} {
		rec = s.raw(t, http.MethodPost, "/graphql", ct, []byte(`{"query":"mutation { createHolder(input: {type: NATURAL_PERSON, name: \"x\", document: \"1\"}) { holder { id } } }"}`))
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("POST %s: %d", ct, rec.Code)
		}
	}
	if n := s.count(t, "holders"); n != 0 {
		t.Fatalf("form posts wrote %d holders", n)
	}

	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ holders { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set(graph.OrganizationHeader, newOrg())
	rec = httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/graphql-response+json") {
		t.Fatalf("graphql-response+json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}

	rec = s.raw(t, http.MethodDelete, "/graphql", "", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", rec.Code)
	}
}

// TestNoSuggestionsInProduction: "did you mean" hints, which map the schema for an
// attacker, are hidden in production.
func TestNoSuggestionsInProduction(t *testing.T) {
	t.Parallel()
	dev := newTestServer(t)
	errs := dev.post(t, newOrg(), `{ holderz { totalCount } }`, nil, nil)
	if len(errs) == 0 || !strings.Contains(errs[0].Message, "Did you mean") {
		t.Fatalf("development should suggest: %+v", errs)
	}
	prod := newTestServerFrom(t, dev, graph.HandlerOptions{Production: true})
	errs = prod.post(t, newOrg(), `{ holderz { totalCount } }`, nil, nil)
	if len(errs) == 0 || strings.Contains(errs[0].Message, "Did you mean") || errs[0].Extensions.Code != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("production must not suggest: %+v", errs)
	}
}

// TestPanicIsInternal: a panicking resolver answers INTERNAL_SERVER_ERROR with the
// request id, and nothing of the panic reaches the client.
func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := graph.OrganizationMiddleware(graph.NewHandler(&graph.Resolver{}, graph.HandlerOptions{Logger: quiet})) // nil services: panics
	s := &testServer{handler: middlewareRequestID(h)}
	errs := s.post(t, newOrg(), `{ holders { totalCount } }`, nil, nil)
	e := wantCode(t, errs, crm.EINTERNAL)
	if e.Message != "Internal error." || e.Extensions.RequestID == "" {
		t.Fatalf("panic answer: %+v", e)
	}
}
