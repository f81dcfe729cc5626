package graph_test

import (
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Deleting (SPEC §6): soft delete, hard delete, restore for holders and alias accounts,
// HOLDER_HAS_ALIAS_ACCOUNTS and cascade, conflicts on restore, Lerian's integration
// cases, and no trace of a hard-deleted holder in any table.

const (
	softDeleteHolderMutation = `mutation($input: SoftDeleteHolderInput!) { softDeleteHolder(input: $input) { holder { ` + holderFields + ` } } }`
	hardDeleteHolderMutation = `mutation($input: HardDeleteHolderInput!) { hardDeleteHolder(input: $input) { id } }`
	restoreHolderMutation    = `mutation($input: RestoreHolderInput!) { restoreHolder(input: $input) { holder { ` + holderFields + ` } } }`
	softDeleteAliasMutation  = `mutation($input: SoftDeleteAliasAccountInput!) { softDeleteAliasAccount(input: $input) { aliasAccount { ` + aliasFields + ` } } }`
	hardDeleteAliasMutation  = `mutation($input: HardDeleteAliasAccountInput!) { hardDeleteAliasAccount(input: $input) { id } }`
	restoreAliasMutation     = `mutation($input: RestoreAliasAccountInput!) { restoreAliasAccount(input: $input) { aliasAccount { ` + aliasFields + ` } } }`
)

func softDeleteHolder(t *testing.T, s *testServer, org, id string, cascade bool) holderJSON {
	t.Helper()
	var out struct{ SoftDeleteHolder struct{ Holder holderJSON } }
	s.mustPost(t, org, softDeleteHolderMutation, map[string]any{"input": map[string]any{"id": id, "cascade": cascade}}, &out)
	return out.SoftDeleteHolder.Holder
}

func hardDeleteHolder(t *testing.T, s *testServer, org, id string, cascade bool) string {
	t.Helper()
	var out struct{ HardDeleteHolder struct{ ID string } }
	s.mustPost(t, org, hardDeleteHolderMutation, map[string]any{"input": map[string]any{"id": id, "cascade": cascade}}, &out)
	return out.HardDeleteHolder.ID
}

func restoreHolder(t *testing.T, s *testServer, org, id string) holderJSON {
	t.Helper()
	var out struct{ RestoreHolder struct{ Holder holderJSON } }
	s.mustPost(t, org, restoreHolderMutation, map[string]any{"input": map[string]any{"id": id}}, &out)
	return out.RestoreHolder.Holder
}

func softDeleteAlias(t *testing.T, s *testServer, org, id string) aliasJSON {
	t.Helper()
	var out struct {
		SoftDeleteAliasAccount struct{ AliasAccount aliasJSON }
	}
	s.mustPost(t, org, softDeleteAliasMutation, map[string]any{"input": map[string]any{"id": id}}, &out)
	return out.SoftDeleteAliasAccount.AliasAccount
}

func restoreAlias(t *testing.T, s *testServer, org, id string) aliasJSON {
	t.Helper()
	var out struct {
		RestoreAliasAccount struct{ AliasAccount aliasJSON }
	}
	s.mustPost(t, org, restoreAliasMutation, map[string]any{"input": map[string]any{"id": id}}, &out)
	return out.RestoreAliasAccount.AliasAccount
}

// idInput is the {"input": {"id": id}} of the delete and restore mutations.
func idInput(id string) map[string]any { return map[string]any{"input": map[string]any{"id": id}} }

type holderReads struct {
	Holder           *holderJSON
	Deleted          *holderJSON
	HolderByDocument *holderJSON
	Active           holderConnJSON
	All              holderConnJSON
	ByDocument       holderConnJSON
	ByDocumentAll    holderConnJSON
}

// readHolderEverywhere asks every holder query about one holder.
func readHolderEverywhere(t *testing.T, s *testServer, org, id, document string) holderReads {
	t.Helper()
	var out holderReads
	s.mustPost(t, org, `query($id: ID!, $d: String!) {
	  holder(id: $id) { `+holderFields+` }
	  deleted: holder(id: $id, includeDeleted: true) { `+holderFields+` }
	  holderByDocument(document: $d) { `+holderFields+` }
	  active: holders(first: 100) { totalCount edges { node { id } } }
	  all: holders(first: 100, includeDeleted: true) { totalCount edges { node { id } } }
	  byDocument: holders(filter: {document: $d}) { totalCount edges { node { id } } }
	  byDocumentAll: holders(filter: {document: $d}, includeDeleted: true) { totalCount edges { node { id } } }
	}`, map[string]any{"id": id, "d": document}, &out)
	return out
}

func (c holderConnJSON) ids() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.ID
	}
	return out
}

// TestDeleting: soft delete, hard delete and restore of holders and alias accounts.
func TestDeleting(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"LerianCases", testDeleteHolderLerianCases},
		{"HolderWithAliasAccounts", testDeleteHolderWithAliasAccounts},
		{"AliasAccount", testDeleteAliasAccount},
	})
}

// testDeleteHolderLerianCases are the Midaz CRM integration cases: duplicate document,
// reuse after soft delete, the same document in two organizations, soft / hard /
// not-found / already-deleted deletes.
func testDeleteHolderLerianCases(t *testing.T, s *testServer) {

	t.Run("duplicate document", func(t *testing.T) {
		org := newOrg()
		createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		for _, doc := range []string{"123.456.789-09", "12345678909", " 123 456 789 09 "} {
			wantCode(t, s.post(t, org, createHolderMutation, map[string]any{"input": naturalPersonInput("Other", doc)}, nil), crm.EDOCUMENTEXISTS)
		}
		wantCode(t, s.post(t, org, createHolderMutation, map[string]any{"input": legalPersonInput("Other Ltda", "123-456-789/09")}, nil), crm.EDOCUMENTEXISTS)
	})

	t.Run("reuse of a document after soft delete", func(t *testing.T) {
		org := newOrg()
		old := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		softDeleteHolder(t, s, org, old.ID, false)
		fresh := createHolder(t, s, org, naturalPersonInput("Ana Souza Nova", "12345678909"))
		r := readHolderEverywhere(t, s, org, old.ID, "123.456.789-09")
		if r.HolderByDocument == nil || r.HolderByDocument.ID != fresh.ID {
			t.Fatalf("holderByDocument = %+v, want the new holder", r.HolderByDocument)
		}
		if !slices.Equal(r.ByDocument.ids(), []string{fresh.ID}) || r.ByDocument.TotalCount != 1 {
			t.Fatalf("holders(document) = %+v", r.ByDocument)
		}
		if got := r.ByDocumentAll.ids(); len(got) != 2 || r.ByDocumentAll.TotalCount != 2 {
			t.Fatalf("holders(document, includeDeleted) = %v", got)
		}
		if r.Holder != nil || r.Deleted == nil || r.Deleted.DeletedAt == nil {
			t.Fatalf("old holder: %+v / %+v", r.Holder, r.Deleted)
		}
	})

	t.Run("same document in two organizations", func(t *testing.T) {
		orgA, orgB := newOrg(), newOrg()
		a := createHolder(t, s, orgA, naturalPersonInput("Ana Souza", "123.456.789-09"))
		b := createHolder(t, s, orgB, naturalPersonInput("Ana Souza", "123.456.789-09"))
		if a.ID == b.ID {
			t.Fatal("same id in two organizations")
		}
		// Deleting in one leaves the other alone.
		softDeleteHolder(t, s, orgA, a.ID, false)
		if got := readHolder(t, s, orgB, b.ID, false); got == nil || got.DeletedAt != nil {
			t.Fatalf("B's holder after A's delete: %+v", got)
		}
		wantCode(t, s.post(t, orgB, softDeleteHolderMutation, idInput(a.ID), nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, orgB, hardDeleteHolderMutation, idInput(a.ID), nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, orgB, restoreHolderMutation, idInput(a.ID), nil), crm.ENOTFOUND)
		if got := readHolder(t, s, orgA, a.ID, true); got == nil || got.DeletedAt == nil {
			t.Fatalf("A's holder after B's attempts: %+v", got)
		}
	})

	t.Run("soft delete hides the holder from every read", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		keep := createHolder(t, s, org, legalPersonInput("ACME Ltda", "12.345.678/0001-95"))

		var out struct {
			SoftDeleteHolder struct {
				Holder struct {
					ID        string
					DeletedAt *string
				}
			}
		}
		s.mustPost(t, org, `mutation($id: ID!) { softDeleteHolder(input: {id: $id}) { holder { id deletedAt } } }`, map[string]any{"id": h.ID}, &out)
		if out.SoftDeleteHolder.Holder.ID != h.ID || out.SoftDeleteHolder.Holder.DeletedAt == nil {
			t.Fatalf("softDeleteHolder payload = %+v", out.SoftDeleteHolder.Holder)
		}
		deletedAt := *out.SoftDeleteHolder.Holder.DeletedAt

		r := readHolderEverywhere(t, s, org, h.ID, "12345678909")
		if r.Holder != nil || r.HolderByDocument != nil {
			t.Fatalf("soft-deleted holder still readable: %+v / %+v", r.Holder, r.HolderByDocument)
		}
		if !slices.Equal(r.Active.ids(), []string{keep.ID}) || r.Active.TotalCount != 1 {
			t.Fatalf("holders = %v (totalCount %d), want only %s", r.Active.ids(), r.Active.TotalCount, keep.ID)
		}
		if r.ByDocument.TotalCount != 0 || len(r.ByDocument.Edges) != 0 {
			t.Fatalf("holders(document) = %+v", r.ByDocument)
		}
		if r.Deleted == nil || r.Deleted.DeletedAt == nil || *r.Deleted.DeletedAt != deletedAt || r.Deleted.Version != 2 || r.Deleted.Name != "Ana Souza" {
			t.Fatalf("holder(id, includeDeleted) = %+v", r.Deleted)
		}
		if !slices.Equal(r.All.ids(), []string{keep.ID, h.ID}) || r.All.TotalCount != 2 {
			t.Fatalf("holders(includeDeleted) = %v (totalCount %d)", r.All.ids(), r.All.TotalCount)
		}
		for _, f := range []map[string]any{{"type": "NATURAL_PERSON"}, {"externalId": "ext-123.456.789-09"}, {"metadata": map[string]any{"segment": "retail"}}} {
			var c struct{ Holders holderConnJSON }
			s.mustPost(t, org, `query($f: HolderFilter) { holders(filter: $f) { totalCount edges { node { id } } } }`, map[string]any{"f": f}, &c)
			if c.Holders.TotalCount != 0 || len(c.Holders.Edges) != 0 {
				t.Fatalf("holders(%v) finds the soft-deleted holder: %+v", f, c.Holders)
			}
			s.mustPost(t, org, `query($f: HolderFilter) { holders(filter: $f, includeDeleted: true) { totalCount edges { node { id } } } }`, map[string]any{"f": f}, &c)
			if !slices.Equal(c.Holders.ids(), []string{h.ID}) || c.Holders.TotalCount != 1 {
				t.Fatalf("holders(%v, includeDeleted) = %+v", f, c.Holders)
			}
		}

		// Already deleted: every write is NOT_FOUND, and nothing changes.
		wantCode(t, s.post(t, org, softDeleteHolderMutation, idInput(h.ID), nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, org, softDeleteHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "cascade": true}}, nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "name": "Zombie"}}, nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": minimalAliasInput(h.ID, uuidString(), uuidString())}, nil), crm.ENOTFOUND)
		if got := readHolder(t, s, org, h.ID, true); got == nil || !reflect.DeepEqual(*got, *r.Deleted) {
			t.Fatalf("refused writes changed the deleted holder: %+v", got)
		}
		// The document is free again (uniqueness counts active holders only).
		createHolder(t, s, org, naturalPersonInput("Ana Nova", "123.456.789-09"))
	})

	t.Run("unknown ids", func(t *testing.T) {
		org := newOrg()
		for _, q := range []string{softDeleteHolderMutation, hardDeleteHolderMutation, restoreHolderMutation,
			softDeleteAliasMutation, hardDeleteAliasMutation, restoreAliasMutation} {
			wantCode(t, s.post(t, org, q, idInput(uuidString()), nil), crm.ENOTFOUND)
		}
		e := wantCode(t, s.post(t, org, hardDeleteHolderMutation, idInput("not-a-uuid"), nil), crm.EINVALID)
		wantField(t, e, "id")
	})

	t.Run("hard delete", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		if id := hardDeleteHolder(t, s, org, h.ID, false); id != h.ID {
			t.Fatalf("hardDeleteHolder id = %q, want %s", id, h.ID)
		}
		if got := readHolder(t, s, org, h.ID, true); got != nil {
			t.Fatalf("hard-deleted holder still readable with includeDeleted: %+v", got)
		}
		for _, q := range []string{hardDeleteHolderMutation, softDeleteHolderMutation, restoreHolderMutation} {
			wantCode(t, s.post(t, org, q, idInput(h.ID), nil), crm.ENOTFOUND)
		}
		createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	})

	t.Run("hard delete of a soft-deleted holder", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		softDeleteHolder(t, s, org, h.ID, false)
		if id := hardDeleteHolder(t, s, org, h.ID, false); id != h.ID {
			t.Fatalf("hardDeleteHolder id = %q", id)
		}
		var n int
		if err := s.db.Get(&n, "SELECT count(*) FROM holders WHERE id = $1", h.ID); err != nil || n != 0 {
			t.Fatalf("rows left: %d (%v)", n, err)
		}
	})
}

// testDeleteHolderWithAliasAccounts: HOLDER_HAS_ALIAS_ACCOUNTS unless cascade, what
// cascade does, restore of holders and alias accounts and their conflicts.
func testDeleteHolderWithAliasAccounts(t *testing.T, s *testServer) {
	setup := func(t *testing.T) (string, holderJSON, aliasJSON, aliasJSON) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		ledger := uuidString()
		return org, h, createAlias(t, s, org, aliasInput(h.ID, ledger, uuidString())), createAlias(t, s, org, minimalAliasInput(h.ID, ledger, uuidString()))
	}

	t.Run("refused without cascade, soft and hard", func(t *testing.T) {
		org, h, a1, a2 := setup(t)
		for _, q := range []string{softDeleteHolderMutation, hardDeleteHolderMutation} {
			for _, in := range []map[string]any{{"id": h.ID}, {"id": h.ID, "cascade": false}} {
				wantCode(t, s.post(t, org, q, map[string]any{"input": in}, nil), crm.EHASALIASES)
			}
		}
		wantHolderUnchanged(t, s, org, h)
		for _, a := range []aliasJSON{a1, a2} {
			if got := readAlias(t, s, org, a.ID, false); got == nil || !reflect.DeepEqual(*got, a) {
				t.Fatalf("alias account changed by refused deletes: %+v", got)
			}
		}
		// Once its alias accounts are soft-deleted, the holder can go.
		softDeleteAlias(t, s, org, a1.ID)
		wantCode(t, s.post(t, org, softDeleteHolderMutation, idInput(h.ID), nil), crm.EHASALIASES)
		softDeleteAlias(t, s, org, a2.ID)
		if got := softDeleteHolder(t, s, org, h.ID, false); got.DeletedAt == nil {
			t.Fatalf("soft delete: %+v", got)
		}
	})

	t.Run("soft delete with cascade", func(t *testing.T) {
		org, h, a1, a2 := setup(t)
		got := softDeleteHolder(t, s, org, h.ID, true)
		if got.DeletedAt == nil || got.Version != h.Version+1 {
			t.Fatalf("cascade soft delete: %+v", got)
		}
		for _, a := range []aliasJSON{a1, a2} {
			if r := readAlias(t, s, org, a.ID, false); r != nil {
				t.Fatalf("alias account %s still active", a.ID)
			}
			if r := aliasByLedgerAccount(t, s, org, a.AccountID); r != nil {
				t.Fatalf("aliasAccountByLedgerAccount still resolves %s", a.ID)
			}
			r := readAlias(t, s, org, a.ID, true)
			if r == nil || r.DeletedAt == nil || r.Version != a.Version+1 {
				t.Fatalf("alias account %s with includeDeleted: %+v", a.ID, r)
			}
			// In the same transaction: the very same instant as the holder.
			if *r.DeletedAt != *got.DeletedAt {
				t.Fatalf("alias deletedAt %s, holder deletedAt %s", *r.DeletedAt, *got.DeletedAt)
			}
			if r.Holder == nil || r.Holder.ID != h.ID || r.Holder.Name != "Ana Souza" {
				t.Fatalf("soft-deleted alias account's holder: %+v", r.Holder)
			}
		}
		for _, f := range []map[string]any{nil, {"holderId": h.ID}, {"holderDocument": "12345678909"}, {"bankAccount": "123456"}, {"relatedPartyDocument": "22233344455"}} {
			if c := listAliases(t, s, org, f, "CREATED_AT_DESC", false); c.TotalCount != 0 || len(c.Edges) != 0 {
				t.Fatalf("aliasAccounts(%v) lists deleted accounts: %v", f, c.ids())
			}
		}
		if c := listAliases(t, s, org, map[string]any{"holderId": h.ID}, "CREATED_AT_ASC", true); !slices.Equal(c.ids(), []string{a1.ID, a2.ID}) || c.TotalCount != 2 {
			t.Fatalf("aliasAccounts(includeDeleted) = %v (totalCount %d)", c.ids(), c.TotalCount)
		}
		deleted := readHolder(t, s, org, h.ID, true)
		var withAliases struct {
			Holder struct{ AliasAccounts []struct{ ID string } }
		}
		s.mustPost(t, org, `query($id: ID!) { holder(id: $id, includeDeleted: true) { aliasAccounts { id } } }`, map[string]any{"id": h.ID}, &withAliases)
		if len(withAliases.Holder.AliasAccounts) != 0 {
			t.Fatalf("deleted holder lists active alias accounts: %+v", withAliases.Holder.AliasAccounts)
		}

		// Restoring an alias account of a deleted holder is refused.
		wantCode(t, s.post(t, org, restoreAliasMutation, idInput(a1.ID), nil), crm.ENOTFOUND)
		if r := readAlias(t, s, org, a1.ID, true); r == nil || r.DeletedAt == nil {
			t.Fatalf("refused restore changed the alias account: %+v", r)
		}

		// restoreHolder brings the holder back, its alias accounts stay deleted.
		restored := restoreHolder(t, s, org, h.ID)
		if restored.DeletedAt != nil || restored.Version != deleted.Version+1 || restored.CreatedAt != h.CreatedAt {
			t.Fatalf("restored holder: %+v", restored)
		}
		if r := readHolder(t, s, org, h.ID, false); r == nil || !reflect.DeepEqual(*r, restored) {
			t.Fatalf("restored holder read back: %+v", r)
		}
		if r := readAlias(t, s, org, a1.ID, false); r != nil {
			t.Fatal("restoreHolder restored an alias account")
		}
		// Now its alias accounts can be restored one by one.
		ra := restoreAlias(t, s, org, a1.ID)
		if ra.DeletedAt != nil || ra.Version != a1.Version+2 {
			t.Fatalf("restored alias account: %+v", ra)
		}
		if r := aliasByLedgerAccount(t, s, org, a1.AccountID); r == nil || r.ID != a1.ID || r.Holder.ID != h.ID {
			t.Fatalf("hot path after restore: %+v", r)
		}
	})

	// With includeDeleted: true the holderDocument filter also matches a soft-deleted
	// holder, as holderId does (SPEC §6; it used to require an active holder).
	t.Run("includeDeleted finds a deleted holder's alias accounts by holderDocument", func(t *testing.T) {
		org, h, a1, a2 := setup(t)
		softDeleteHolder(t, s, org, h.ID, true)
		byID := listAliases(t, s, org, map[string]any{"holderId": h.ID}, "CREATED_AT_ASC", true)
		if !slices.Equal(byID.ids(), []string{a1.ID, a2.ID}) {
			t.Fatalf("by holderId with includeDeleted: %v", byID.ids())
		}
		if c := listAliases(t, s, org, map[string]any{"holderDocument": "123.456.789-09"}, "CREATED_AT_ASC", false); c.TotalCount != 0 {
			t.Fatalf("by holderDocument without includeDeleted: %v", c.ids())
		}
		byDoc := listAliases(t, s, org, map[string]any{"holderDocument": "123.456.789-09"}, "CREATED_AT_ASC", true)
		if !slices.Equal(byDoc.ids(), byID.ids()) || byDoc.TotalCount != 2 {
			t.Errorf("aliasAccounts(filter: {holderDocument}, includeDeleted: true) = %v (totalCount %d), want %v as by holderId",
				byDoc.ids(), byDoc.TotalCount, byID.ids())
		}
	})

	t.Run("hard delete with cascade", func(t *testing.T) {
		org, h, a1, a2 := setup(t)
		softDeleteAlias(t, s, org, a2.ID)
		if id := hardDeleteHolder(t, s, org, h.ID, true); id != h.ID {
			t.Fatalf("hardDeleteHolder id = %q", id)
		}
		for _, a := range []aliasJSON{a1, a2} {
			if r := readAlias(t, s, org, a.ID, true); r != nil {
				t.Fatalf("alias account %s survived its holder's hard delete", a.ID)
			}
			wantCode(t, s.post(t, org, restoreAliasMutation, idInput(a.ID), nil), crm.ENOTFOUND)
		}
		// The ledger accounts are free again.
		h2 := createHolder(t, s, org, naturalPersonInput("Bea Lima", "321.654.987-00"))
		createAlias(t, s, org, minimalAliasInput(h2.ID, a1.LedgerID, a1.AccountID))
	})

	t.Run("hard delete without cascade removes soft-deleted alias accounts", func(t *testing.T) {
		org, h, a1, a2 := setup(t)
		softDeleteAlias(t, s, org, a1.ID)
		softDeleteAlias(t, s, org, a2.ID)
		hardDeleteHolder(t, s, org, h.ID, false)
		var n int
		if err := s.db.Get(&n, "SELECT count(*) FROM alias_accounts WHERE holder_id = $1", h.ID); err != nil || n != 0 {
			t.Fatalf("alias accounts left: %d (%v)", n, err)
		}
	})

	t.Run("restoreHolder when the document was taken", func(t *testing.T) {
		org := newOrg()
		old := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		deleted := softDeleteHolder(t, s, org, old.ID, false)
		taker := createHolder(t, s, org, naturalPersonInput("Ana Outra", "123 456 789 09"))
		wantCode(t, s.post(t, org, restoreHolderMutation, idInput(old.ID), nil), crm.EDOCUMENTEXISTS)
		if r := readHolder(t, s, org, old.ID, true); r == nil || !reflect.DeepEqual(*r, deleted) {
			t.Fatalf("refused restore changed the holder:\n got %+v\nwant %+v", r, deleted)
		}
		if r := readHolderEverywhere(t, s, org, old.ID, "12345678909"); r.HolderByDocument == nil || r.HolderByDocument.ID != taker.ID {
			t.Fatalf("holderByDocument = %+v", r.HolderByDocument)
		}
		// Once the taker is gone, the restore works.
		softDeleteHolder(t, s, org, taker.ID, false)
		if r := restoreHolder(t, s, org, old.ID); r.DeletedAt != nil || r.Version != deleted.Version+1 {
			t.Fatalf("restore: %+v", r)
		}
	})

	t.Run("restoreAliasAccount when the ledger account was linked again", func(t *testing.T) {
		org, h, a1, _ := setup(t)
		deleted := softDeleteAlias(t, s, org, a1.ID)
		taker := createAlias(t, s, org, minimalAliasInput(h.ID, a1.LedgerID, a1.AccountID))
		wantCode(t, s.post(t, org, restoreAliasMutation, idInput(a1.ID), nil), crm.EACCOUNTLINKED)
		if r := readAlias(t, s, org, a1.ID, true); r == nil || !reflect.DeepEqual(*r, deleted) {
			t.Fatalf("refused restore changed the alias account:\n got %+v\nwant %+v", r, deleted)
		}
		if r := aliasByLedgerAccount(t, s, org, a1.AccountID); r == nil || r.ID != taker.ID {
			t.Fatalf("hot path = %+v, want the new alias account", r)
		}
	})
}

// testDeleteAliasAccount covers softDeleteAliasAccount, hardDeleteAliasAccount and
// restoreAliasAccount on their own.
func testDeleteAliasAccount(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	a := createAlias(t, s, org, aliasInput(h.ID, uuidString(), uuidString()))
	other := createAlias(t, s, org, minimalAliasInput(h.ID, a.LedgerID, uuidString()))

	deleted := softDeleteAlias(t, s, org, a.ID)
	if deleted.ID != a.ID || deleted.DeletedAt == nil || deleted.Version != 2 || len(deleted.RelatedParties) != 2 || deleted.Holder == nil || deleted.Holder.ID != h.ID {
		t.Fatalf("softDeleteAliasAccount payload = %+v", deleted)
	}
	wantChanged(t, a.Version, a.CreatedAt, a.UpdatedAt, deleted.Version, deleted.CreatedAt, deleted.UpdatedAt)
	if r := readAlias(t, s, org, a.ID, false); r != nil {
		t.Fatal("soft-deleted alias account still readable")
	}
	if r := readAlias(t, s, org, a.ID, true); r == nil || !reflect.DeepEqual(*r, deleted) {
		t.Fatalf("aliasAccount(includeDeleted) = %+v", r)
	}
	if r := aliasByLedgerAccount(t, s, org, a.AccountID); r != nil {
		t.Fatal("hot path resolves a soft-deleted alias account")
	}
	if c := listAliases(t, s, org, nil, "CREATED_AT_ASC", false); !slices.Equal(c.ids(), []string{other.ID}) || c.TotalCount != 1 {
		t.Fatalf("aliasAccounts = %v", c.ids())
	}
	if c := listAliases(t, s, org, nil, "CREATED_AT_ASC", true); !slices.Equal(c.ids(), []string{a.ID, other.ID}) || c.TotalCount != 2 {
		t.Fatalf("aliasAccounts(includeDeleted) = %v", c.ids())
	}
	if c := listAliases(t, s, org, map[string]any{"relatedPartyDocument": "22233344455"}, "CREATED_AT_ASC", false); c.TotalCount != 0 {
		t.Fatal("filters find a soft-deleted alias account")
	}
	var hv struct {
		Holder struct{ AliasAccounts []struct{ ID string } }
	}
	s.mustPost(t, org, `query($id: ID!) { holder(id: $id) { aliasAccounts { id } } }`, map[string]any{"id": h.ID}, &hv)
	if len(hv.Holder.AliasAccounts) != 1 || hv.Holder.AliasAccounts[0].ID != other.ID {
		t.Fatalf("holder.aliasAccounts = %+v", hv.Holder.AliasAccounts)
	}

	// Writes on a soft-deleted alias account are NOT_FOUND.
	wantCode(t, s.post(t, org, softDeleteAliasMutation, idInput(a.ID), nil), crm.ENOTFOUND)
	wantCode(t, s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, "metadata": map[string]any{"x": 1}}}, nil), crm.ENOTFOUND)
	wantCode(t, s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID,
		"relatedParty": map[string]any{"document": "1", "name": "X", "role": "PRIMARY_HOLDER", "startDate": "2024-01-01"}}}, nil), crm.ENOTFOUND)
	wantCode(t, s.post(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedPartyId": a.RelatedParties[0].ID}}, nil), crm.ENOTFOUND)
	if r := readAlias(t, s, org, a.ID, true); r == nil || !reflect.DeepEqual(*r, deleted) {
		t.Fatalf("refused writes changed the alias account: %+v", r)
	}

	restored := restoreAlias(t, s, org, a.ID)
	if restored.DeletedAt != nil || restored.Version != 3 || restored.CreatedAt != a.CreatedAt || len(restored.RelatedParties) != 2 {
		t.Fatalf("restored = %+v", restored)
	}
	if r := aliasByLedgerAccount(t, s, org, a.AccountID); r == nil || !reflect.DeepEqual(*r, restored) {
		t.Fatalf("hot path after restore = %+v", r)
	}
	if !aliasFoundBy(t, s, org, a.ID, map[string]any{"relatedPartyDocument": "22233344455"}) {
		t.Fatal("restored alias account not searchable")
	}

	if id := func() string {
		var out struct{ HardDeleteAliasAccount struct{ ID string } }
		s.mustPost(t, org, hardDeleteAliasMutation, idInput(a.ID), &out)
		return out.HardDeleteAliasAccount.ID
	}(); id != a.ID {
		t.Fatalf("hardDeleteAliasAccount id = %q", id)
	}
	if r := readAlias(t, s, org, a.ID, true); r != nil {
		t.Fatal("hard-deleted alias account still readable")
	}
	for _, q := range []string{hardDeleteAliasMutation, softDeleteAliasMutation, restoreAliasMutation} {
		wantCode(t, s.post(t, org, q, idInput(a.ID), nil), crm.ENOTFOUND)
	}

	// Hard delete of a soft-deleted alias account.
	softDeleteAlias(t, s, org, other.ID)
	s.mustPost(t, org, hardDeleteAliasMutation, idInput(other.ID), nil)
	if n := countIn(t, s, "alias_accounts", org); n != 0 {
		t.Fatalf("alias accounts left: %d", n)
	}
	// Without active alias accounts, the holder's soft delete needs no cascade.
	softDeleteHolder(t, s, org, h.ID, false)
}

// TestHardDeleteHolderLeavesNoTrace: after hardDeleteHolder(cascade: true) of a holder
// with active and soft-deleted alias accounts with related parties, no row of any table
// references it or holds any of its values.
func TestHardDeleteHolderLeavesNoTrace(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()

	in := naturalPersonInput("Zebediah Quillfeather", "ZQ-998.877-66")
	in["externalId"] = "zq-external-4711"
	in["contact"] = map[string]any{"primaryEmail": "zebediah.q@example.net", "mobilePhone": "+44 7700 900123"}
	in["addresses"] = map[string]any{"primary": map[string]any{"line1": "Quillfeather Lane 4242", "city": "Zennor", "country": "GB"}}
	in["naturalPerson"] = map[string]any{"motherName": "Ophelia Quillfeather", "birthDate": "1971-07-17"}
	in["metadata"] = map[string]any{"zqMarker": "zq-metadata-value"}
	h := createHolder(t, s, org, in)

	ledger := uuidString()
	activeIn := aliasInput(h.ID, ledger, uuidString())
	activeIn["bankingDetails"] = map[string]any{"branch": "7777", "account": "ZQACC-31337", "iban": "GB82WEST12345698765432", "countryCode": "GB"}
	activeIn["regulatoryFields"] = map[string]any{"participantDocument": "ZQPART-424242"}
	activeIn["relatedParties"] = []any{map[string]any{"document": "XQ-776655", "name": "Ximena Quarrington", "role": "LEGAL_REPRESENTATIVE", "startDate": "2020-01-01"}}
	activeIn["metadata"] = map[string]any{"zqAlias": "zq-alias-meta"}
	active := createAlias(t, s, org, activeIn)
	deletedIn := minimalAliasInput(h.ID, ledger, uuidString())
	deletedIn["relatedParties"] = []any{map[string]any{"document": "YQ-554433", "name": "Yorick Quennell", "role": "RESPONSIBLE_PARTY", "startDate": "2021-01-01"}}
	deletedIn["bankingDetails"] = map[string]any{"account": "ZQACC-99999"}
	deleted := createAlias(t, s, org, deletedIn)
	var added struct {
		AddRelatedParty struct{ RelatedParty partyJSON }
	}
	s.mustPost(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": active.ID,
		"relatedParty": map[string]any{"document": "WQ-332211", "name": "Wilhelmina Quayle", "role": "PRIMARY_HOLDER", "startDate": "2022-02-02"}}}, &added)
	softDeleteAlias(t, s, org, deleted.ID)

	// Neighbours that must survive, in the same and in another organization.
	keep := createHolder(t, s, org, legalPersonInput("ACME Ltda", "12.345.678/0001-95"))
	keepAlias := createAlias(t, s, org, aliasInput(keep.ID, ledger, uuidString()))
	otherOrg := newOrg()
	otherH := createHolder(t, s, otherOrg, naturalPersonInput("Ana Souza", "123.456.789-09"))
	createAlias(t, s, otherOrg, aliasInput(otherH.ID, uuidString(), uuidString()))

	// Values whose presence anywhere would be a trace. Ids and the blind index of the
	// document are traces too (they link rows to the person).
	enc := pgtest.Encrypter(t)
	docHash := hex.EncodeToString(enc.BlindIndex(uuid.MustParse(org), "holder.document", crm.NormalizeDocument("ZQ-998.877-66")))
	traces := []string{h.ID, active.ID, deleted.ID, added.AddRelatedParty.RelatedParty.ID, active.RelatedParties[0].ID, deleted.RelatedParties[0].ID,
		active.AccountID, deleted.AccountID, docHash,
		"Zebediah", "Quillfeather", "ZQ-998.877-66", "ZQ99887766", "zq-external-4711", "zebediah.q@example.net", "7700 900123",
		"Zennor", "Ophelia", "1971-07-17", "zq-metadata-value", "zqMarker",
		"ZQACC-31337", "ZQACC31337", "ZQACC-99999", "GB82WEST12345698765432", "ZQPART-424242", "zq-alias-meta", "zqAlias",
		"XQ-776655", "Ximena", "YQ-554433", "Yorick", "WQ-332211", "Wilhelmina", "Quarrington", "Quennell", "Quayle"}

	var tables []string
	if err := s.db.Select(&tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables, "holders") || !slices.Contains(tables, "alias_accounts") {
		t.Fatalf("tables = %v", tables)
	}
	scan := func() map[string][]string { // trace -> tables holding it
		found := map[string][]string{}
		for _, table := range tables {
			for _, row := range rawRows(t, s, `"`+table+`"`) {
				for _, v := range traces {
					if strings.Contains(row, v) {
						found[v] = append(found[v], table)
					}
				}
			}
		}
		return found
	}
	// The scan does see the holder before the delete (ids and plain metadata at least).
	before := scan()
	for _, v := range []string{h.ID, active.ID, deleted.ID, "zq-metadata-value", "zq-alias-meta", docHash} {
		if len(before[v]) == 0 {
			t.Fatalf("scan does not find %q before the delete: the scan is broken", v)
		}
	}
	// Encrypted at rest: no personal value in plain text even before the delete.
	for _, v := range []string{"Zebediah", "ZQ-998.877-66", "zebediah.q@example.net", "Zennor", "Ophelia", "ZQACC-31337", "GB82WEST12345698765432", "ZQPART-424242", "Ximena", "XQ-776655", "Wilhelmina", "Yorick"} {
		if len(before[v]) != 0 {
			t.Fatalf("%q stored in plain text in %v", v, before[v])
		}
	}

	wantCode(t, s.post(t, org, hardDeleteHolderMutation, idInput(h.ID), nil), crm.EHASALIASES)
	if id := hardDeleteHolder(t, s, org, h.ID, true); id != h.ID {
		t.Fatalf("hardDeleteHolder id = %q", id)
	}

	var refs int
	if err := s.db.Get(&refs, `SELECT (SELECT count(*) FROM holders WHERE id = $1) + (SELECT count(*) FROM alias_accounts WHERE holder_id = $1)`, h.ID); err != nil {
		t.Fatal(err)
	}
	if refs != 0 {
		t.Fatalf("%d rows still reference holder %s", refs, h.ID)
	}
	if found := scan(); len(found) != 0 {
		t.Fatalf("traces of the hard-deleted holder remain: %v", found)
	}
	if got := readHolder(t, s, org, h.ID, true); got != nil {
		t.Fatalf("holder still readable: %+v", got)
	}
	for _, a := range []aliasJSON{active, deleted} {
		if got := readAlias(t, s, org, a.ID, true); got != nil {
			t.Fatalf("alias account still readable: %+v", got)
		}
	}
	// The neighbours are intact.
	wantHolderUnchanged(t, s, org, keep)
	if got := readAlias(t, s, org, keepAlias.ID, false); got == nil || !reflect.DeepEqual(*got, keepAlias) {
		t.Fatalf("neighbour alias account changed: %+v", got)
	}
	if got := readHolder(t, s, otherOrg, otherH.ID, false); got == nil {
		t.Fatal("other organization's holder gone")
	}
	if n := s.count(t, "holders"); n != 2 {
		t.Fatalf("holders = %d, want 2", n)
	}
	if n := s.count(t, "alias_accounts"); n != 2 {
		t.Fatalf("alias accounts = %d, want 2", n)
	}
}
