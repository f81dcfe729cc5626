package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// HandlerOptions configure the GraphQL endpoint.
type HandlerOptions struct {
	// Introspection allows __schema/__type queries (off in production by default).
	Introspection bool
	// Logger receives internal errors and panics (never personal data).
	Logger *slog.Logger
	// Authorizer decides @auth fields; nil means access control is off.
	Authorizer auth.Authorizer
}

// NewHandler returns the GraphQL endpoint: POST and GET (queries only) transports, a
// parsed-query cache (parsing and validating costs more than executing a small query),
// automatic persisted queries, the one error boundary, per-request dataloaders, and
// @auth through the Authorizer (the caller's bearer token is read here).
func NewHandler(r *Resolver, opts HandlerOptions) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	authz := opts.Authorizer
	if authz == nil {
		authz = auth.Disabled{}
	}
	cfg := Config{Resolvers: r}
	cfg.Directives.Auth = authDirective(authz)
	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return auth.Middleware(loadersMiddleware(r.HolderService, r.AliasAccountService, srv))
}

// OrganizationHeader names the tenant of a request (the Midaz CRM convention).
const OrganizationHeader = "X-Organization-Id"

// OrganizationMiddleware reads the X-Organization-Id header into the request context.
// A missing or malformed header is recorded rather than rejected here, so operations
// that need no tenant (introspection, federation's _service) still work, while every
// CRM service fails with MISSING_ORGANIZATION before touching data.
func OrganizationMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch h := r.Header.Get(OrganizationHeader); {
		case h == "":
			ctx = crm.NewContextWithOrganizationError(ctx, crm.Errorf(crm.EMISSINGORG, "The X-Organization-Id header is required."))
		default:
			id, err := uuid.Parse(h)
			if err != nil || len(h) != 36 || id == uuid.Nil {
				ctx = crm.NewContextWithOrganizationError(ctx, crm.Errorf(crm.EMISSINGORG, "The X-Organization-Id header must be a UUID."))
			} else {
				ctx = crm.NewContextWithOrganization(ctx, id)
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
