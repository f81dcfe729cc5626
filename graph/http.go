package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// httpGuard enforces the transport rules before gqlgen sees a request:
//   - a body over the limit is 413 REQUEST_TOO_LARGE (the body is read at most once);
//   - only GET and POST (405 with Allow otherwise);
//   - GET carries queries only: a mutation over GET is 405 with "Allow: POST", so no
//     state ever changes through a link or an image tag;
//   - POST must be JSON (415 otherwise): HTML forms can only send simple content types,
//     so no cross-site form can post an operation (CSRF).
func httpGuard(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			if isMutation(r.URL.Query().Get("query"), r.URL.Query().Get("operationName")) {
				w.Header().Set("Allow", "POST")
				writeError(w, http.StatusMethodNotAllowed, crm.EMETHODNOTALLOWED, "Mutations must be sent with POST.")
				return
			}
		case http.MethodPost:
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "POST requests must have Content-Type: application/json.")
				return
			}
			if r.ContentLength > limit {
				writeError(w, http.StatusRequestEntityTooLarge, crm.EREQUESTTOOLARGE, "The request body is larger than allowed.")
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, crm.EINVALID, "The request body could not be read.")
				return
			}
			if int64(len(body)) > limit {
				writeError(w, http.StatusRequestEntityTooLarge, crm.EREQUESTTOOLARGE, "The request body is larger than allowed.")
				return
			}
			if !json.Valid(body) {
				// Answered here, quoting nothing of the body (gqlgen's transport quoted it
				// all back); postTransport decodes only bodies this check passed.
				writeError(w, http.StatusBadRequest, "BAD_REQUEST", "The request body is not valid JSON.")
				return
			}
			r.Body = guardedBody{bytes.NewReader(body), body}
		case http.MethodOptions:
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, crm.EMETHODNOTALLOWED, "Use GET for queries or POST.")
			return
		}
		if !acceptsGraphQLResponse(r) {
			// GraphQL over HTTP: with application/json responses, request errors (parse,
			// validation) SHOULD still be 200; gqlgen answers 422.
			w = legacyStatus{w}
		}
		next.ServeHTTP(w, r)
	})
}

// legacyStatus turns gqlgen's 422 for request errors into 200.
type legacyStatus struct{ http.ResponseWriter }

func (l legacyStatus) WriteHeader(code int) {
	if code == http.StatusUnprocessableEntity {
		code = http.StatusOK
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l legacyStatus) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// isMutation reports whether the operation a GET would run is a mutation (or
// subscription). Unparseable queries are left to gqlgen, which reports them properly.
func isMutation(query, operationName string) bool {
	if query == "" {
		return false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return false
	}
	for _, op := range doc.Operations {
		if (operationName == "" || op.Name == operationName) && op.Operation != ast.Query {
			return true
		}
	}
	return false
}

// writeError writes a GraphQL-shaped error response outside of gqlgen.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": code}}},
	})
}

// acceptsGraphQLResponse reports whether a client asked for the GraphQL-over-HTTP media type.
func acceptsGraphQLResponse(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json")
}
