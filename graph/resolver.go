// Package graph is the GraphQL adapter: the generated executable schema, thin
// resolvers that call the crm services, and the HTTP wiring around them.
package graph

//go:generate go tool gqlgen generate

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Resolver holds the services the resolvers call. It holds interfaces only, and no
// per-request state (loaders live in the request context). Fields are named after
// their interface, since the query resolver already has methods called Holders, …
type Resolver struct {
	HolderService       crm.HolderService
	AliasAccountService crm.AliasAccountService
	// Authorizer authorises what @auth cannot reach (federation entities, a delete's
	// cascade); NewHandler sets it from HandlerOptions.
	Authorizer auth.Authorizer
}

// authorizeCascade: a holder's delete with cascade: true deletes its active alias
// accounts as well, so the caller needs the alias accounts' delete permission besides
// the holder's (which @auth checks). A hard delete's removal of alias accounts already
// soft-deleted needs no more than the holder's: they go with the holder's erasure, which
// another permission must not be able to block.
func (r *Resolver) authorizeCascade(ctx context.Context, cascade graphql.Omittable[*bool]) error {
	if !isTrue(cascade) {
		return nil
	}
	return r.Authorizer.Authorize(ctx, "aliases", "delete")
}
