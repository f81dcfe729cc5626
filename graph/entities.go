package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/graph/model"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Federation entity resolution. _entities carries no @auth of its own (gqlgen generates
// it), so each entity type is authorised here exactly like the queries that return it.

// entityLookupError is a failure of the storage an entity resolver called. The error
// presenter logs its text, as it does for any resolver; the other errors of _entities
// come from gqlgen's generated federation code, which quotes what clients sent, and are
// logged without it (see fromFederationCode).
type entityLookupError struct{ err error }

func (e entityLookupError) Error() string { return e.err.Error() }
func (e entityLookupError) Unwrap() error { return e.err }

// findHoldersInOrder resolves Holder representations with one statement, in request
// order; absent or soft-deleted holders are null.
func (r *Resolver) findHoldersInOrder(ctx context.Context, reps []*model.HolderByIDsInput) ([]*crm.Holder, error) {
	if err := r.Authorizer.Authorize(ctx, "holders", "get"); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(reps))
	for i, rep := range reps {
		ids[i] = rep.ID
	}
	hs, err := r.HolderService.FindHoldersByIDs(ctx, ids)
	if err != nil {
		return nil, entityLookupError{err}
	}
	return inOrder(ids, hs, func(h *crm.Holder) uuid.UUID { return h.ID }), nil
}

// findAliasAccountsInOrder resolves AliasAccount representations with one statement, in
// request order; absent or soft-deleted accounts are null.
func (r *Resolver) findAliasAccountsInOrder(ctx context.Context, reps []*model.AliasAccountByIDsInput) ([]*crm.AliasAccount, error) {
	if err := r.Authorizer.Authorize(ctx, "aliases", "get"); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(reps))
	for i, rep := range reps {
		ids[i] = rep.ID
	}
	as, err := r.AliasAccountService.FindAliasAccountsByIDs(ctx, ids)
	if err != nil {
		return nil, entityLookupError{err}
	}
	return inOrder(ids, as, func(a *crm.AliasAccount) uuid.UUID { return a.ID }), nil
}

// inOrder arranges found records in the order of ids, nil where one is missing.
func inOrder[T any](ids []uuid.UUID, found []*T, key func(*T) uuid.UUID) []*T {
	byID := make(map[uuid.UUID]*T, len(found))
	for _, v := range found {
		byID[key(v)] = v
	}
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// findAccounts resolves Account representations (owned by the ledger subgraph: nothing
// to look up for the account itself) and, so that the accounts' holder and aliasAccount
// cost one statement each whatever the timing, fetches their alias accounts and those
// accounts' holders for all representations at once and primes the loaders. Without an
// organization nothing is answered, not even the ids sent (every operation needs one); a
// failure of the lookups is left to the fields, which report it each.
func (r *Resolver) findAccounts(ctx context.Context, reps []*model.AccountByIDsInput) ([]*model.Account, error) {
	if _, err := crm.OrganizationFromContext(ctx); err != nil {
		return nil, err
	}
	out := make([]*model.Account, len(reps))
	ids := make([]uuid.UUID, len(reps))
	for i, rep := range reps {
		out[i], ids[i] = &model.Account{ID: rep.ID}, rep.ID
	}
	as, err := r.AliasAccountService.FindAliasAccountsByLedgerAccounts(ctx, ids)
	if err != nil {
		return out, nil
	}
	l := loadersFrom(ctx)
	byAccount := make(map[uuid.UUID]*crm.AliasAccount, len(as))
	holderIDs := make([]uuid.UUID, 0, len(as))
	for _, a := range as {
		byAccount[a.AccountID] = a
		holderIDs = append(holderIDs, a.HolderID)
	}
	for _, id := range ids {
		l.AliasAccountByLedgerAccount().Prime(ctx, id, byAccount[id])
	}
	if len(holderIDs) > 0 {
		if hs, err := r.HolderService.FindHoldersOfAliasAccounts(ctx, holderIDs); err == nil {
			for _, h := range hs {
				l.HolderOfAliasAccount().Prime(ctx, h.ID, h)
			}
		}
	}
	return out, nil
}

// aliasAccountOfLedgerAccount resolves Account.aliasAccount through a loader, so the
// accounts of one _entities call cost one statement.
func aliasAccountOfLedgerAccount(ctx context.Context, accountID uuid.UUID) (*crm.AliasAccount, error) {
	return loadersFrom(ctx).AliasAccountByLedgerAccount().Load(ctx, accountID)()
}

// holderOfLedgerAccount resolves Account.holder: the holder of its active alias account.
func holderOfLedgerAccount(ctx context.Context, accountID uuid.UUID) (*crm.Holder, error) {
	a, err := aliasAccountOfLedgerAccount(ctx, accountID)
	if err != nil || a == nil {
		return nil, err
	}
	if a.Holder != nil {
		return a.Holder, nil
	}
	return loadersFrom(ctx).HolderOfAliasAccount().Load(ctx, a.HolderID)()
}
