package graph

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// loaderWait is how long a loader gathers keys before running its batch. dataloader's
// default (16 ms) would put a 16 ms floor under every request that touches a loader;
// resolvers of one level run concurrently and ask within microseconds of each other.
const loaderWait = time.Millisecond

// maxBatch bounds the ids of one batch query (= ANY($2)).
const maxBatch = 1000

// Loaders batch the lookups of related records for one request, so related records
// cost one statement per level, never one per row. They are built per request: their
// caches never outlive it.
//
// List resolvers go one better: when the query asks for a relation of every node of a
// page, they fetch it for the whole page at once and prime the loader (prefetch*), so
// the nodes' resolvers hit the cache and nothing waits for a batch window.
//
// Each loader is built on first use: most requests (the hot path among them) need none,
// and a loader costs allocations and a goroutine per batch.
type Loaders struct {
	holders crm.HolderService
	aliases crm.AliasAccountService

	aliasesByHolder, aliasByAccount, holderOfAlias sync.Once

	byHolder  *dataloader.Loader[uuid.UUID, []*crm.AliasAccount]
	byAccount *dataloader.Loader[uuid.UUID, *crm.AliasAccount]
	holder    *dataloader.Loader[uuid.UUID, *crm.Holder]
}

// newLoader builds a loader with this package's batch window and batch size.
func newLoader[V any](batch dataloader.BatchFunc[uuid.UUID, V]) *dataloader.Loader[uuid.UUID, V] {
	return dataloader.NewBatchedLoader(batch,
		dataloader.WithWait[uuid.UUID, V](loaderWait),
		dataloader.WithBatchCapacity[uuid.UUID, V](maxBatch))
}

// NewLoaders returns fresh loaders over the services.
func NewLoaders(holders crm.HolderService, aliases crm.AliasAccountService) *Loaders {
	return &Loaders{holders: holders, aliases: aliases}
}

// AliasAccountsByHolder loads each holder's active alias accounts.
func (l *Loaders) AliasAccountsByHolder() *dataloader.Loader[uuid.UUID, []*crm.AliasAccount] {
	l.aliasesByHolder.Do(func() {
		l.byHolder = newLoader(aliasesByHolderBatch(l.aliases))
	})
	return l.byHolder
}

// AliasAccountByLedgerAccount loads the active alias account of Midaz accounts (nil when
// there is none).
func (l *Loaders) AliasAccountByLedgerAccount() *dataloader.Loader[uuid.UUID, *crm.AliasAccount] {
	l.aliasByAccount.Do(func() {
		l.byAccount = newLoader(aliasesByLedgerAccountBatch(l.aliases))
	})
	return l.byAccount
}

// HolderOfAliasAccount loads holders by id, whether active or soft-deleted: an active
// alias account always has an active holder, and a soft-deleted one (read with
// includeDeleted) still names the holder it belonged to.
func (l *Loaders) HolderOfAliasAccount() *dataloader.Loader[uuid.UUID, *crm.Holder] {
	l.holderOfAlias.Do(func() {
		l.holder = newLoader(holdersBatch(l.holders))
	})
	return l.holder
}

// aliasesByHolderBatch groups one query's accounts by holder; a holder without
// accounts gets an empty list.
func aliasesByHolderBatch(aliases crm.AliasAccountService) dataloader.BatchFunc[uuid.UUID, []*crm.AliasAccount] {
	return func(ctx context.Context, holderIDs []uuid.UUID) []*dataloader.Result[[]*crm.AliasAccount] {
		byHolder, err := findAliasesByHolder(ctx, aliases, holderIDs)
		out := make([]*dataloader.Result[[]*crm.AliasAccount], len(holderIDs))
		for i, id := range holderIDs {
			if err != nil {
				out[i] = &dataloader.Result[[]*crm.AliasAccount]{Error: err}
			} else {
				out[i] = &dataloader.Result[[]*crm.AliasAccount]{Data: byHolder[id]}
			}
		}
		return out
	}
}

// findAliasesByHolder returns the active alias accounts of each holder (an empty list
// for a holder without any) in one statement.
func findAliasesByHolder(ctx context.Context, aliases crm.AliasAccountService, holderIDs []uuid.UUID) (map[uuid.UUID][]*crm.AliasAccount, error) {
	as, err := aliases.FindAliasAccountsByHolderIDs(ctx, holderIDs)
	if err != nil {
		return nil, err
	}
	byHolder := make(map[uuid.UUID][]*crm.AliasAccount, len(holderIDs))
	for _, id := range holderIDs {
		byHolder[id] = []*crm.AliasAccount{}
	}
	for _, a := range as {
		byHolder[a.HolderID] = append(byHolder[a.HolderID], a)
	}
	return byHolder, nil
}

// aliasesByLedgerAccountBatch returns one result per Midaz account id, nil for an
// account without an active alias account.
func aliasesByLedgerAccountBatch(aliases crm.AliasAccountService) dataloader.BatchFunc[uuid.UUID, *crm.AliasAccount] {
	return func(ctx context.Context, accountIDs []uuid.UUID) []*dataloader.Result[*crm.AliasAccount] {
		as, err := aliases.FindAliasAccountsByLedgerAccounts(ctx, accountIDs)
		byAccount := make(map[uuid.UUID]*crm.AliasAccount, len(as))
		for _, a := range as {
			byAccount[a.AccountID] = a
		}
		out := make([]*dataloader.Result[*crm.AliasAccount], len(accountIDs))
		for i, id := range accountIDs {
			out[i] = &dataloader.Result[*crm.AliasAccount]{Data: byAccount[id], Error: err}
		}
		return out
	}
}

// holdersBatch returns one result per key, in key order.
func holdersBatch(holders crm.HolderService) dataloader.BatchFunc[uuid.UUID, *crm.Holder] {
	return func(ctx context.Context, ids []uuid.UUID) []*dataloader.Result[*crm.Holder] {
		hs, err := holders.FindHoldersOfAliasAccounts(ctx, ids)
		byID := make(map[uuid.UUID]*crm.Holder, len(hs))
		for _, h := range hs {
			byID[h.ID] = h
		}
		out := make([]*dataloader.Result[*crm.Holder], len(ids))
		for i, id := range ids {
			switch h, ok := byID[id]; {
			case err != nil:
				out[i] = &dataloader.Result[*crm.Holder]{Error: err}
			case !ok:
				out[i] = &dataloader.Result[*crm.Holder]{Error: crm.Errorf(crm.ENOTFOUND, "Holder not found.")}
			default:
				out[i] = &dataloader.Result[*crm.Holder]{Data: h}
			}
		}
		return out
	}
}

type loadersKey struct{}

// loadersMiddleware gives every request its own loaders.
func loadersMiddleware(holders crm.HolderService, aliases crm.AliasAccountService, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), loadersKey{}, NewLoaders(holders, aliases))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// freshLoadersPerMutationField gives each root field of a mutation loaders of its own.
// A mutation's root fields run one after another, and each may change what an earlier one
// read: with the request's loaders shared, a later field's payload would be answered from
// that cache, as the records were before (a holder's old name and version, an alias account
// deleted since still listed). Queries keep one set of loaders for the whole request.
func freshLoadersPerMutationField(holders crm.HolderService, aliases crm.AliasAccountService) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Mutation {
			ctx = context.WithValue(ctx, loadersKey{}, NewLoaders(holders, aliases))
		}
		return next(ctx)
	}
}

// loadersFrom returns the request's loaders.
func loadersFrom(ctx context.Context) *Loaders {
	l, _ := ctx.Value(loadersKey{}).(*Loaders)
	if l == nil {
		panic("graph: no loaders in context (NewHandler installs them)")
	}
	return l
}

// prefetchAliasAccounts, when the query selects the aliasAccounts at path (e.g.
// edges.node.aliasAccounts on a page, or aliasAccounts of a single holder), loads the
// alias accounts of the holders in one statement and primes the loader, so nothing
// waits for a batch window.
// Each account gets its parent as Holder, so aliasAccounts { holder } costs nothing more.
func prefetchAliasAccounts(ctx context.Context, aliases crm.AliasAccountService, holders []*crm.Holder, path ...string) error {
	if len(holders) == 0 || !selects(ctx, path...) {
		return nil
	}
	ids := make([]uuid.UUID, len(holders))
	for i, h := range holders {
		ids[i] = h.ID
	}
	byHolder, err := findAliasesByHolder(ctx, aliases, ids)
	if err != nil {
		return err
	}
	l := loadersFrom(ctx).AliasAccountsByHolder()
	for _, h := range holders {
		for _, a := range byHolder[h.ID] {
			a.Holder = h
		}
		l.Prime(ctx, h.ID, byHolder[h.ID])
	}
	return nil
}

// prefetchHolders, when the query selects edges.node.holder, loads the holders of a
// whole page of alias accounts in one statement and attaches them.
func prefetchHolders(ctx context.Context, holders crm.HolderService, accounts []*crm.AliasAccount) error {
	if len(accounts) == 0 || !selects(ctx, "edges", "node", "holder") {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(accounts))
	for _, a := range accounts {
		ids = append(ids, a.HolderID)
	}
	hs, err := holders.FindHoldersOfAliasAccounts(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[uuid.UUID]*crm.Holder, len(hs))
	for _, h := range hs {
		byID[h.ID] = h
	}
	for _, a := range accounts {
		a.Holder = byID[a.HolderID] // nil if absent: the resolver then reports it
	}
	return nil
}

// selects reports whether the current field's selection reaches the field path, e.g.
// selects(ctx, "edges", "node", "aliasAccounts"), fragments included.
func selects(ctx context.Context, path ...string) bool {
	opCtx := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for i, name := range path {
		var next *graphql.CollectedField
		for j := range fields {
			if fields[j].Name == name {
				next = &fields[j]
				break
			}
		}
		if next == nil {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		fields = graphql.CollectFields(opCtx, next.Selections, nil)
	}
	return false
}

// holderWithAliasAccounts is the answer of a single-holder query, with its alias
// accounts prefetched when they are selected.
func holderWithAliasAccounts(ctx context.Context, aliases crm.AliasAccountService, h *crm.Holder, err error) (*crm.Holder, error) {
	if err != nil || h == nil {
		return h, err
	}
	if err := prefetchAliasAccounts(ctx, aliases, []*crm.Holder{h}, "aliasAccounts"); err != nil {
		return nil, err
	}
	return h, nil
}
