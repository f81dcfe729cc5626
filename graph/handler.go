package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/google/uuid"
	"github.com/lerianstudio/crm-registry/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"

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
	// Production hides "did you mean" suggestions in validation errors.
	Production bool
	// Observer, when set, is told of every finished operation (metrics, access log).
	Observer Observer
	// Tracing wraps every root field in a span (set it when traces are exported). Off,
	// no span is started at all: even OpenTelemetry's no-op tracer costs allocations.
	Tracing bool
	// Limits (OWASP GraphQL cheat sheet); zero values take the defaults below.
	MaxDepth        int   // levels of nesting, default 12
	MaxFields       int   // field selections incl. aliases, default 500
	ComplexityLimit int   // cost with list sizes weighed in, default 100000
	TokenLimit      int   // parser tokens, default 15000
	BodyLimit       int64 // request body bytes, default 1 MiB
}

// Observer receives one call per GraphQL response: the operation name as the client
// sent it (possibly empty), how long it took, and the extensions.code of each error.
type Observer interface {
	OperationDone(ctx context.Context, operationName string, d time.Duration, errorCodes []string)
}

// Cost model of the complexity limit: a connection costs first × its children; an
// alias account list, unbounded in the schema, is costed as if it held this many.
const aliasListWeight = 20

func (o *HandlerOptions) defaults() {
	if o.MaxDepth == 0 {
		o.MaxDepth = 12
	}
	if o.MaxFields == 0 {
		o.MaxFields = 500
	}
	if o.ComplexityLimit == 0 {
		o.ComplexityLimit = 100000
	}
	if o.TokenLimit == 0 {
		o.TokenLimit = 15000
	}
	if o.BodyLimit == 0 {
		o.BodyLimit = 1 << 20
	}
}

// NewHandler returns the GraphQL endpoint: POST and GET (queries only) transports, a
// parsed-query cache (parsing and validating costs more than executing a small query),
// automatic persisted queries, the one error boundary, per-request dataloaders, and
// @auth through the Authorizer (the caller's bearer token is read here).
func NewHandler(r *Resolver, opts HandlerOptions) http.Handler {
	opts.defaults()
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	authz := opts.Authorizer
	if authz == nil {
		authz = auth.Disabled{}
	}
	res := *r // the caller's Resolver is not modified
	res.Authorizer = authz
	cfg := Config{Resolvers: &res}
	cfg.Directives.Auth = authDirective(authz)
	pageCost := func(child int, first *int) int {
		n := crm.DefaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		return n * (child + 1)
	}
	cfg.Complexity.Query.Holders = func(child int, _ *model.HolderFilter, first *int, _ *string, _ *crm.SortOrder, _ *bool) int {
		return pageCost(child, first)
	}
	cfg.Complexity.Query.AliasAccounts = func(child int, _ *model.AliasAccountFilter, first *int, _ *string, _ *crm.SortOrder, _ *bool) int {
		return pageCost(child, first)
	}
	cfg.Complexity.Holder.AliasAccounts = func(child int) int { return aliasListWeight * (child + 1) }
	// _entities resolves one entity per representation with the selection below it: it
	// weighs as a list of that many, or a gateway-shaped request could fetch what the
	// same selection under holders(first: 100) is refused for.
	cfg.Complexity.Query.__resolve_entities = func(child int, reps []map[string]any) int {
		return max(len(reps), 1) * (child + 1)
	}

	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{logger: logger})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(opts.TokenLimit)
	srv.SetDisableSuggestion(opts.Production)
	srv.Use(operationPolicy{introspection: opts.Introspection, maxDepth: opts.MaxDepth, maxFields: opts.MaxFields})
	srv.Use(extension.FixedComplexityLimit(opts.ComplexityLimit))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.AroundOperations(readScope)
	if _, off := authz.(auth.Disabled); !off {
		srv.AroundRootFields(authorizeMutationFields(authz))
	}
	srv.AroundRootFields(freshLoadersPerMutationField(res.HolderService, res.AliasAccountService))
	if opts.Tracing {
		srv.AroundRootFields(traceRootField)
	}
	if opts.Observer != nil {
		srv.AroundResponses(observeResponse(opts.Observer))
	}
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return httpGuard(opts.BodyLimit, auth.Middleware(loadersMiddleware(res.HolderService, res.AliasAccountService, srv)))
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

// tracerName names this package's tracer. It is looked up on the global provider at each
// use, not once: a tracer taken before the provider is set forwards to the first provider
// ever set, so a later one (a restarted server in the same process, a second test) would
// never see its spans.
const tracerName = "github.com/lerianstudio/crm-registry/graph"

// traceRootField wraps each root field (query, mutation or entity resolution) in a span
// named after the field. Arguments are never recorded: they may carry personal data.
func traceRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	op := "Query"
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Mutation {
			op = "Mutation"
		}
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "graphql."+op+"."+fc.Field.Name)
	defer span.End()
	return next(ctx)
}

// observeResponse reports each response to o.
func observeResponse(o Observer) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if !graphql.HasOperationContext(ctx) {
			return resp
		}
		oc := graphql.GetOperationContext(ctx)
		name := oc.OperationName
		if name == "" && oc.Operation != nil {
			name = oc.Operation.Name
		}
		var codes []string
		if resp != nil {
			for _, e := range resp.Errors {
				if c, ok := e.Extensions["code"].(string); ok {
					codes = append(codes, c)
				} else {
					codes = append(codes, "UNKNOWN")
				}
			}
		}
		o.OperationDone(ctx, name, time.Since(oc.Stats.OperationStart), codes)
		return resp
	}
}
