package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

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

// authorizeMutationFields checks, before a mutation's root field runs, every @auth its
// selection reaches: the field's own and those of the payload's fields below it (a
// holder's aliasAccounts, an alias account's holder). @auth on a nested field is
// otherwise decided only when that field resolves, after the write: a caller allowed to
// create holders but not to read alias accounts would have the holder created and be
// answered null and FORBIDDEN, and a retry would meet DOCUMENT_ALREADY_EXISTS. Now the
// root field answers null with the first refusal and writes nothing, as when its own
// @auth refuses. Each decision is asked once per request (auth's per-request cache), so
// the directives that run afterwards cost nothing more.
func authorizeMutationFields(a auth.Authorizer) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
			return next(ctx)
		}
		field := graphql.GetRootFieldContext(ctx).Field
		if err := authorizeSelection(ctx, a, oc, field.Field, field.Selections); err != nil {
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithField(field.Alias)), err)
			return graphql.Null
		}
		return next(ctx)
	}
}

// authorizeSelection asks the Authorizer for f's @auth, if any, and then for those of
// every field f's selection set reaches, fragments expanded and @skip / @include applied,
// stopping at the first refusal.
func authorizeSelection(ctx context.Context, a auth.Authorizer, oc *graphql.OperationContext, f *ast.Field, sel ast.SelectionSet) error {
	if f.Definition != nil {
		if d := f.Definition.Directives.ForName("auth"); d != nil {
			resource, action := d.Arguments.ForName("resource"), d.Arguments.ForName("action")
			if resource != nil && action != nil {
				if err := a.Authorize(ctx, resource.Value.Raw, action.Value.Raw); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range graphql.CollectFields(oc, sel, nil) {
		if err := authorizeSelection(ctx, a, oc, c.Field, c.Selections); err != nil {
			return err
		}
	}
	return nil
}
