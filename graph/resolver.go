// Package graph is the GraphQL adapter: the generated executable schema, thin
// resolvers that call the crm services, and the HTTP wiring around them.
package graph

//go:generate go tool gqlgen generate

import (
	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Resolver holds the services the resolvers call. It holds interfaces only, and no
// per-request state (loaders live in the request context). Fields are named after
// their interface, since the query resolver already has methods called Holders, …
type Resolver struct {
	HolderService       crm.HolderService
	AliasAccountService crm.AliasAccountService
	// Authorizer authorises what @auth cannot reach (federation entities); NewHandler
	// sets it from HandlerOptions.
	Authorizer auth.Authorizer
}
