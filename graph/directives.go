package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lerianstudio/crm-registry/internal/auth"
)

// authDirective implements @auth(resource, action): the field resolves only when the
// Authorizer allows the caller; otherwise its error (UNAUTHENTICATED, FORBIDDEN,
// AUTH_UNAVAILABLE) is the field's error and the resolver never runs, so a denied
// mutation writes nothing.
func authDirective(a auth.Authorizer) func(ctx context.Context, obj any, next graphql.Resolver, resource, action string) (any, error) {
	return func(ctx context.Context, _ any, next graphql.Resolver, resource, action string) (any, error) {
		if err := a.Authorize(ctx, resource, action); err != nil {
			return nil, err
		}
		return next(ctx)
	}
}
