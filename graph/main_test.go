package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m)) }

// testServer is the GraphQL endpoint over a fresh database of its own.
type testServer struct {
	db      *sqlx.DB
	stmts   *pgtest.StatementCounter
	handler http.Handler
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerWith(t, graph.HandlerOptions{Introspection: true})
}

// newTestServerFrom returns a server with other handler options over the same database.
func newTestServerFrom(t *testing.T, s *testServer, opts graph.HandlerOptions) *testServer {
	t.Helper()
	enc := pgtest.Encrypter(t)
	r := &graph.Resolver{
		HolderService:       postgres.NewHolderService(s.db, enc),
		AliasAccountService: postgres.NewAliasAccountService(s.db, enc),
	}
	return &testServer{db: s.db, stmts: s.stmts, handler: graph.OrganizationMiddleware(graph.NewHandler(r, opts))}
}

// newTestServerWith is newTestServer with handler options (e.g. an Authorizer).
func newTestServerWith(t *testing.T, opts graph.HandlerOptions) *testServer {
	t.Helper()
	db, stmts := pgtest.MustOpenCountingDB(t)
	enc := pgtest.Encrypter(t)
	r := &graph.Resolver{
		HolderService:       postgres.NewHolderService(db, enc),
		AliasAccountService: postgres.NewAliasAccountService(db, enc),
	}
	h := graph.OrganizationMiddleware(graph.NewHandler(r, opts))
	return &testServer{db: db, stmts: stmts, handler: h}
}

type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code              string            `json:"code"`
		Fields            map[string]string `json:"fields"`
		RequestID         string            `json:"requestId"`
		AccessManagerCode string            `json:"accessManagerCode"`
	} `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// post sends one GraphQL request as organization org ("" sends no header) and decodes
// data into out (when not nil). It returns the GraphQL errors.
func (s *testServer) post(t *testing.T, org string, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	return s.postAs(t, org, "", query, vars, out)
}

// postAs is post with "Authorization: Bearer <token>" (none when token is "").
func (s *testServer) postAs(t *testing.T, org, token string, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if org != "" {
		req.Header.Set(graph.OrganizationHeader, org)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	var resp gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decode response (status %d): %v: %s", rec.Code, err, rec.Body.String())
	}
	if out != nil && len(resp.Data) > 0 && string(resp.Data) != "null" {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatalf("decode data: %v: %s", err, resp.Data)
		}
	}
	return resp.Errors
}

// mustPost is post that fails the test on any GraphQL error.
func (s *testServer) mustPost(t *testing.T, org string, query string, vars map[string]any, out any) {
	t.Helper()
	if errs := s.post(t, org, query, vars, out); len(errs) > 0 {
		t.Fatalf("unexpected errors: %+v", errs)
	}
}

// count returns the number of rows of a table.
func (s *testServer) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.db.Get(&n, "SELECT count(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantCode fails unless errs is exactly one error with the given code.
func wantCode(t *testing.T, errs []gqlError, code string) gqlError {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("want one %s error, got %+v", code, errs)
	}
	if errs[0].Extensions.Code != code {
		t.Fatalf("want code %s, got %s (%s)", code, errs[0].Extensions.Code, errs[0].Message)
	}
	return errs[0]
}

func newOrg() string { return uuid.Must(uuid.NewV7()).String() }

// middlewareRequestID gives each request an id, as the server's router does.
func middlewareRequestID(next http.Handler) http.Handler { return middleware.RequestID(next) }
