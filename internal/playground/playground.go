// Package playground serves the GraphiQL page. (Placeholder: being implemented.)
package playground

import (
	"log/slog"
	"net/http"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// Options configure the playground.
type Options struct {
	// Endpoint is the GraphQL endpoint path, e.g. /graphql.
	Endpoint string
	// AssetsDir holds the GraphiQL assets built from npm (make graphiql).
	AssetsDir string
	// Headers pre-filled in the headers pane.
	Headers map[string]string
	Logger  *slog.Logger
}

// New returns the handler for /graphiql and /graphiql/*.
func New(opts Options) http.Handler {
	return gqlplayground.Handler("CRM registry", opts.Endpoint, gqlplayground.WithGraphiqlUiHeaders(opts.Headers))
}
