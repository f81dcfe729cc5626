package graph_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// updateHolder and updateAliasAccount with SPEC §5 semantics: omitted = unchanged, null =
// cleared, nested objects merge, metadata merges key by key, immutable fields refused,
// versions and expectedVersion, timestamps.

const updateHolderMutation = `mutation($input: UpdateHolderInput!) { updateHolder(input: $input) { holder { ` + holderFields + ` } } }`

const updateAliasMutation = `mutation($input: UpdateAliasAccountInput!) { updateAliasAccount(input: $input) { aliasAccount { ` + aliasFields + ` } } }`

func updateHolder(t *testing.T, s *testServer, org string, input map[string]any) holderJSON {
	t.Helper()
	var out struct{ UpdateHolder struct{ Holder holderJSON } }
	s.mustPost(t, org, updateHolderMutation, map[string]any{"input": input}, &out)
	return out.UpdateHolder.Holder
}

// readHolder returns holder(id, includeDeleted), nil when the query answers null.
func readHolder(t *testing.T, s *testServer, org, id string, includeDeleted bool) *holderJSON {
	t.Helper()
	var out struct{ Holder *holderJSON }
	s.mustPost(t, org, `query($id: ID!, $inc: Boolean) { holder(id: $id, includeDeleted: $inc) { `+holderFields+` } }`,
		map[string]any{"id": id, "inc": includeDeleted}, &out)
	return out.Holder
}

func updateAlias(t *testing.T, s *testServer, org string, input map[string]any) aliasJSON {
	t.Helper()
	var out struct {
		UpdateAliasAccount struct{ AliasAccount aliasJSON }
	}
	s.mustPost(t, org, updateAliasMutation, map[string]any{"input": input}, &out)
	return out.UpdateAliasAccount.AliasAccount
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v
}

// wantChanged checks the bookkeeping of a successful change from before to after:
// version +1, updatedAt later, createdAt kept.
func wantChanged(t *testing.T, beforeVersion int, beforeCreated, beforeUpdated string, afterVersion int, afterCreated, afterUpdated string) {
	t.Helper()
	if afterVersion != beforeVersion+1 {
		t.Fatalf("version = %d, want %d", afterVersion, beforeVersion+1)
	}
	if afterCreated != beforeCreated {
		t.Fatalf("createdAt changed from %s to %s", beforeCreated, afterCreated)
	}
	if !mustTime(t, afterUpdated).After(mustTime(t, beforeUpdated)) {
		t.Fatalf("updatedAt %s not after %s", afterUpdated, beforeUpdated)
	}
}

// withHolderChanges returns a copy of h as the test expects it after an update:
// bookkeeping fields taken from got, the rest from h after edit.
func withHolderChanges(h, got holderJSON, edit func(*holderJSON)) holderJSON {
	w := h
	w.Version, w.UpdatedAt = got.Version, got.UpdatedAt
	// Deep-copy the maps the edit may change.
	w.Metadata = cloneMap(h.Metadata)
	w.Contact = cloneMap(h.Contact)
	w.NaturalPerson = cloneMap(h.NaturalPerson)
	w.LegalPerson = cloneMap(h.LegalPerson)
	if h.Addresses != nil {
		a := *h.Addresses
		a.Primary, a.Additional1, a.Additional2 = cloneMap(a.Primary), cloneMap(a.Additional1), cloneMap(a.Additional2)
		w.Addresses = &a
	}
	if edit != nil {
		edit(&w)
	}
	return w
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// wantHolderState fails unless the returned holder and the holder read back both equal want.
func wantHolderState(t *testing.T, s *testServer, org string, got, want holderJSON) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("returned holder:\n got %+v\nwant %+v", got, want)
	}
	if read := readHolder(t, s, org, want.ID, false); read == nil || !reflect.DeepEqual(*read, want) {
		t.Fatalf("holder read back:\n got %+v\nwant %+v", read, want)
	}
}

// wantHolderUnchanged fails unless the holder read back equals h.
func wantHolderUnchanged(t *testing.T, s *testServer, org string, h holderJSON) {
	t.Helper()
	if read := readHolder(t, s, org, h.ID, false); read == nil || !reflect.DeepEqual(*read, h) {
		t.Fatalf("holder changed by a refused update:\n got %+v\nwant %+v", read, h)
	}
}

// TestUpdates: updateHolder and updateAliasAccount with SPEC §5 semantics.
func TestUpdates(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"Holder", testUpdateHolder},
		{"AliasAccount", testUpdateAliasAccount},
	})
}

// testUpdateHolder covers updateHolder's semantics; every subtest has its own organization.
func testUpdateHolder(t *testing.T, s *testServer) {
	natural := func(t *testing.T) (string, holderJSON) {
		org := newOrg()
		return org, createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	}

	t.Run("omitted fields stay", func(t *testing.T) {
		org, h := natural(t)
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "externalId": "crm-42"})
		wantChanged(t, h.Version, h.CreatedAt, h.UpdatedAt, got.Version, got.CreatedAt, got.UpdatedAt)
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) { v := "crm-42"; w.ExternalID = &v }))
	})

	t.Run("null clears", func(t *testing.T) {
		org, h := natural(t)
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "externalId": nil,
			"contact":       map[string]any{"secondaryEmail": nil},
			"addresses":     map[string]any{"additional1": nil},
			"naturalPerson": map[string]any{"birthDate": nil}})
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) {
			w.ExternalID = nil
			w.Contact["secondaryEmail"] = nil
			w.Addresses.Additional1 = nil
			w.NaturalPerson["birthDate"] = nil
		}))
		if got.Version != 2 {
			t.Fatalf("version = %d, want 2", got.Version)
		}
	})

	t.Run("nested objects merge", func(t *testing.T) {
		org, h := natural(t)
		got := updateHolder(t, s, org, map[string]any{"id": h.ID,
			"contact":       map[string]any{"mobilePhone": "+55 11 90000-0000"},
			"addresses":     map[string]any{"primary": map[string]any{"city": "Campinas"}, "additional2": map[string]any{"line1": "Rua Nova 1"}},
			"naturalPerson": map[string]any{"status": "inactive"}})
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) {
			w.Contact["mobilePhone"] = "+55 11 90000-0000"
			w.Addresses.Primary["city"] = "Campinas"
			w.Addresses.Additional2 = map[string]any{"line1": "Rua Nova 1", "city": nil, "country": nil}
			w.NaturalPerson["status"] = "inactive"
		}))
		if got.Contact["primaryEmail"] != "ana.souza@example.com" || got.Addresses.Primary["line1"] != "Rua Augusta 1500" {
			t.Fatalf("merge lost siblings: %+v %+v", got.Contact, got.Addresses.Primary)
		}
		if got.Version != 2 {
			t.Fatalf("one update of several fields: version = %d, want 2", got.Version)
		}
	})

	t.Run("legal person representative merges", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, legalPersonInput("ACME Ltda", "12.345.678/0001-95"))
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "legalPerson": map[string]any{"representative": map[string]any{"role": "CFO"}}})
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) {
			w.LegalPerson["representative"].(map[string]any)["role"] = "CFO"
		}))
		got = updateHolder(t, s, org, map[string]any{"id": h.ID, "legalPerson": map[string]any{"representative": nil}})
		if got.LegalPerson["representative"] != nil || got.LegalPerson["tradeName"] != "ACME" || got.Version != 3 {
			t.Fatalf("representative: null: %+v (version %d)", got.LegalPerson, got.Version)
		}
	})

	t.Run("contact null clears contact", func(t *testing.T) {
		org, h := natural(t)
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": nil, "addresses": nil, "naturalPerson": nil})
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) {
			w.Contact, w.Addresses, w.NaturalPerson = nil, nil, nil
		}))
		// Setting a field of a cleared object creates it again.
		got = updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{"primaryEmail": "new@example.com"}})
		if got.Contact["primaryEmail"] != "new@example.com" || got.Contact["mobilePhone"] != nil || got.Version != 3 {
			t.Fatalf("contact after re-set: %+v (version %d)", got.Contact, got.Version)
		}
	})

	t.Run("metadata merges key by key", func(t *testing.T) {
		org, h := natural(t) // segment retail, score 7.5, vip true, note null
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "metadata": map[string]any{"segment": "private", "vip": nil, "added": 3}})
		wantHolderState(t, s, org, got, withHolderChanges(h, got, func(w *holderJSON) {
			w.Metadata["segment"], w.Metadata["added"] = "private", float64(3)
			delete(w.Metadata, "vip")
		}))
		if _, ok := got.Metadata["vip"]; ok {
			t.Fatalf("vip: null did not remove the key: %v", got.Metadata)
		}
		if got.Metadata["score"] != 7.5 {
			t.Fatalf("untouched key lost: %v", got.Metadata)
		}
		// Removing a key that is not there changes nothing.
		same := updateHolder(t, s, org, map[string]any{"id": h.ID, "metadata": map[string]any{"absent": nil}})
		if same.Version != got.Version || same.UpdatedAt != got.UpdatedAt {
			t.Fatalf("no-op metadata change bumped the version: %d -> %d", got.Version, same.Version)
		}
		cleared := updateHolder(t, s, org, map[string]any{"id": h.ID, "metadata": nil})
		if len(cleared.Metadata) != 0 || cleared.Version != got.Version+1 {
			t.Fatalf("metadata: null: %v (version %d)", cleared.Metadata, cleared.Version)
		}
		e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "metadata": map[string]any{"deep": map[string]any{"a": 1}}}}, nil), crm.EINVALID)
		wantField(t, e, "metadata.deep")
	})

	t.Run("name cannot be cleared", func(t *testing.T) {
		org, h := natural(t)
		e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "name": nil, "externalId": "x"}}, nil), crm.EINVALID)
		wantField(t, e, "name")
		e = wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "name": "  "}}, nil), crm.EINVALID)
		wantField(t, e, "name")
		wantHolderUnchanged(t, s, org, h)
	})

	t.Run("invalid values", func(t *testing.T) {
		org, h := natural(t)
		e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID,
			"contact":       map[string]any{"primaryEmail": "not-an-email"},
			"addresses":     map[string]any{"primary": map[string]any{"country": "XX"}},
			"naturalPerson": map[string]any{"birthDate": "2999-01-01"},
			"externalId":    strings.Repeat("x", 257)}}, nil), crm.EINVALID)
		wantField(t, e, "contact.primaryEmail", "addresses.primary.country", "naturalPerson.birthDate", "externalId")
		e = wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "name": strings.Repeat("n", 257)}}, nil), crm.EINVALID)
		wantField(t, e, "name")
		wantHolderUnchanged(t, s, org, h)
	})

	t.Run("immutable fields cannot be sent", func(t *testing.T) {
		org, h := natural(t)
		// As a variable: the input object does not have these fields.
		for field, value := range map[string]any{"document": "999", "type": "LEGAL_PERSON", "createdAt": "2020-01-01T00:00:00Z", "version": 9} {
			e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, field: value, "externalId": "x"}}, nil), crm.EINVALID)
			wantField(t, e, field)
		}
		// As a literal: the document fails GraphQL validation.
		for _, q := range []string{
			`mutation($id: ID!) { updateHolder(input: {id: $id, document: "999", externalId: "x"}) { holder { id } } }`,
			`mutation($id: ID!) { updateHolder(input: {id: $id, type: LEGAL_PERSON}) { holder { id } } }`,
		} {
			wantCode(t, s.post(t, org, q, map[string]any{"id": h.ID}, nil), "GRAPHQL_VALIDATION_FAILED")
		}
		wantHolderUnchanged(t, s, org, h)
	})

	t.Run("details of the other holder type", func(t *testing.T) {
		org := newOrg()
		legal := createHolder(t, s, org, legalPersonInput("ACME Ltda", "12.345.678/0001-95"))
		e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": legal.ID, "naturalPerson": map[string]any{"gender": "x"}}}, nil), crm.EINVALID)
		wantField(t, e, "naturalPerson")
		wantHolderUnchanged(t, s, org, legal)
		org2, person := natural(t)
		e = wantCode(t, s.post(t, org2, updateHolderMutation, map[string]any{"input": map[string]any{"id": person.ID, "legalPerson": map[string]any{"tradeName": "x"}}}, nil), crm.EINVALID)
		wantField(t, e, "legalPerson")
		wantHolderUnchanged(t, s, org2, person)
	})

	t.Run("versions and timestamps", func(t *testing.T) {
		org, h := natural(t)
		v2 := updateHolder(t, s, org, map[string]any{"id": h.ID, "name": "Ana S. Souza"})
		wantChanged(t, h.Version, h.CreatedAt, h.UpdatedAt, v2.Version, v2.CreatedAt, v2.UpdatedAt)
		v3 := updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{"otherPhone": "+55 11 2222-1111"}})
		wantChanged(t, v2.Version, v2.CreatedAt, v2.UpdatedAt, v3.Version, v3.CreatedAt, v3.UpdatedAt)
		// Updates that change nothing keep version and updatedAt.
		for _, noop := range []map[string]any{
			{"id": h.ID},
			{"id": h.ID, "name": "Ana S. Souza"},
			{"id": h.ID, "externalId": "ext-123.456.789-09", "contact": map[string]any{"primaryEmail": "ana.souza@example.com"}},
			{"id": h.ID, "metadata": map[string]any{}},
			{"id": h.ID, "addresses": map[string]any{"primary": map[string]any{"city": "São Paulo"}}},
			{"id": h.ID, "legalPerson": nil},
			{"id": h.ID, "expectedVersion": 3, "naturalPerson": map[string]any{"gender": "female"}},
		} {
			got := updateHolder(t, s, org, noop)
			if !reflect.DeepEqual(got, v3) {
				t.Fatalf("no-op update %v changed the holder:\n got %+v\nwant %+v", noop, got, v3)
			}
		}
		wantHolderUnchanged(t, s, org, v3)
	})

	t.Run("no-op on absent nested objects keeps the version", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, map[string]any{"type": "LEGAL_PERSON", "name": "Bare Ltda", "document": "BARE-1"})
		for _, noop := range []map[string]any{
			{"id": h.ID, "contact": map[string]any{}},
			{"id": h.ID, "contact": map[string]any{"primaryEmail": nil}},
			{"id": h.ID, "addresses": map[string]any{"primary": map[string]any{"city": nil}}},
			{"id": h.ID, "legalPerson": map[string]any{"representative": map[string]any{}}},
		} {
			if got := updateHolder(t, s, org, noop); !reflect.DeepEqual(got, h) {
				t.Fatalf("no-op update %v changed the holder:\n got %+v\nwant %+v", noop, got, h)
			}
		}
		wantHolderUnchanged(t, s, org, h)
		// Clearing the last field of a nested object removes the object.
		v2 := updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{"primaryEmail": "a@example.com"}})
		v3 := updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{"primaryEmail": nil}})
		if v2.Version != 2 || v3.Version != 3 || v3.Contact != nil {
			t.Fatalf("contact set then emptied: v%d, v%d %v", v2.Version, v3.Version, v3.Contact)
		}
	})

	t.Run("expectedVersion", func(t *testing.T) {
		org, h := natural(t)
		v2 := updateHolder(t, s, org, map[string]any{"id": h.ID, "expectedVersion": 1, "name": "Ana Two"})
		if v2.Version != 2 || v2.Name != "Ana Two" {
			t.Fatalf("update with the right expectedVersion: %+v", v2)
		}
		for _, stale := range []int{1, 3, 0} {
			wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "expectedVersion": stale, "name": "Ana Stale"}}, nil), crm.EVERSIONCONFLICT)
		}
		// A stale version is refused even when the update would change nothing.
		wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "expectedVersion": 1}}, nil), crm.EVERSIONCONFLICT)
		wantHolderUnchanged(t, s, org, v2)
	})

	t.Run("unknown or malformed id", func(t *testing.T) {
		org := newOrg()
		wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": uuidString(), "name": "X"}}, nil), crm.ENOTFOUND)
		e := wantCode(t, s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": "42", "name": "X"}}, nil), crm.EINVALID)
		wantField(t, e, "id")
	})

	t.Run("another organization's holder", func(t *testing.T) {
		org, h := natural(t)
		wantCode(t, s.post(t, newOrg(), updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "name": "Mallory"}}, nil), crm.ENOTFOUND)
		wantHolderUnchanged(t, s, org, h)
	})
}

// wantAliasUnchanged fails unless the alias account read back equals a.
func wantAliasUnchanged(t *testing.T, s *testServer, org string, a aliasJSON) {
	t.Helper()
	if read := readAlias(t, s, org, a.ID, false); read == nil || !reflect.DeepEqual(*read, a) {
		t.Fatalf("alias account changed by a refused update:\n got %+v\nwant %+v", read, a)
	}
}

// aliasFoundBy reports whether aliasAccounts(filter) finds exactly the account id.
func aliasFoundBy(t *testing.T, s *testServer, org, id string, filter map[string]any) bool {
	t.Helper()
	c := listAliases(t, s, org, filter, "CREATED_AT_ASC", false)
	return c.TotalCount == 1 && len(c.Edges) == 1 && c.Edges[0].Node.ID == id
}

// testUpdateAliasAccount covers updateAliasAccount's semantics; every subtest has its
// own organization.
func testUpdateAliasAccount(t *testing.T, s *testServer) {
	setup := func(t *testing.T) (string, aliasJSON) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		return org, createAlias(t, s, org, aliasInput(h.ID, uuidString(), uuidString()))
	}
	expect := func(a, got aliasJSON, edit func(w *aliasJSON)) aliasJSON {
		w := a
		w.Version, w.UpdatedAt = got.Version, got.UpdatedAt
		w.BankingDetails, w.RegulatoryFields, w.Metadata = cloneMap(a.BankingDetails), cloneMap(a.RegulatoryFields), cloneMap(a.Metadata)
		edit(&w)
		return w
	}
	wantState := func(t *testing.T, org string, got, want aliasJSON) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("returned alias account:\n got %+v\nwant %+v", got, want)
		}
		wantAliasUnchanged(t, s, org, want)
	}

	t.Run("omitted fields stay, nested objects merge", func(t *testing.T) {
		org, a := setup(t)
		got := updateAlias(t, s, org, map[string]any{"id": a.ID, "bankingDetails": map[string]any{"branch": "0099", "iban": "DE89 3704 0044 0532 0130 00"}})
		wantChanged(t, a.Version, a.CreatedAt, a.UpdatedAt, got.Version, got.CreatedAt, got.UpdatedAt)
		wantState(t, org, got, expect(a, got, func(w *aliasJSON) {
			w.BankingDetails["branch"], w.BankingDetails["iban"] = "0099", "DE89 3704 0044 0532 0130 00"
		}))
		// The search indexes follow the change.
		if !aliasFoundBy(t, s, org, a.ID, map[string]any{"iban": "DE89370400440532013000"}) || !aliasFoundBy(t, s, org, a.ID, map[string]any{"branch": "0099"}) {
			t.Fatal("not found by the new IBAN / branch")
		}
		if aliasFoundBy(t, s, org, a.ID, map[string]any{"iban": "BR1500000000000010932840814P2"}) || aliasFoundBy(t, s, org, a.ID, map[string]any{"branch": "0001"}) {
			t.Fatal("still found by the old IBAN / branch")
		}
		if !aliasFoundBy(t, s, org, a.ID, map[string]any{"bankAccount": "12345-6"}) || !aliasFoundBy(t, s, org, a.ID, map[string]any{"relatedPartyDocument": "22233344455"}) {
			t.Fatal("untouched searchable values no longer found")
		}
		got2 := updateAlias(t, s, org, map[string]any{"id": a.ID, "regulatoryFields": map[string]any{"participantDocument": "11.111.111/0001-11"}})
		if got2.RegulatoryFields["participantDocument"] != "11.111.111/0001-11" || got2.Version != got.Version+1 || got2.BankingDetails["branch"] != "0099" {
			t.Fatalf("regulatoryFields update: %+v", got2)
		}
		if !aliasFoundBy(t, s, org, a.ID, map[string]any{"participantDocument": "11111111000111"}) || aliasFoundBy(t, s, org, a.ID, map[string]any{"participantDocument": "60701190000104"}) {
			t.Fatal("participantDocument index not updated")
		}
	})

	t.Run("null clears", func(t *testing.T) {
		org, a := setup(t)
		got := updateAlias(t, s, org, map[string]any{"id": a.ID, "bankingDetails": map[string]any{"iban": nil, "closingDate": nil}})
		wantState(t, org, got, expect(a, got, func(w *aliasJSON) {
			w.BankingDetails["iban"], w.BankingDetails["closingDate"] = nil, nil
		}))
		if aliasFoundBy(t, s, org, a.ID, map[string]any{"iban": "BR1500000000000010932840814P2"}) {
			t.Fatal("still found by a cleared IBAN")
		}
		got = updateAlias(t, s, org, map[string]any{"id": a.ID, "bankingDetails": nil, "regulatoryFields": nil})
		if got.BankingDetails != nil || got.RegulatoryFields != nil || got.Version != 3 || len(got.RelatedParties) != 2 {
			t.Fatalf("bankingDetails/regulatoryFields: null: %+v", got)
		}
		for _, f := range []map[string]any{{"branch": "0001"}, {"bankAccount": "123456"}, {"participantDocument": "60701190000104"}} {
			if aliasFoundBy(t, s, org, a.ID, f) {
				t.Fatalf("still found by cleared %v", f)
			}
		}
		wantAliasUnchanged(t, s, org, got)
	})

	t.Run("metadata merges key by key", func(t *testing.T) {
		org, a := setup(t) // segment retail, tier 1, active true
		got := updateAlias(t, s, org, map[string]any{"id": a.ID, "metadata": map[string]any{"tier": 2, "active": nil, "channel": "app"}})
		wantState(t, org, got, expect(a, got, func(w *aliasJSON) {
			w.Metadata["tier"], w.Metadata["channel"] = float64(2), "app"
			delete(w.Metadata, "active")
		}))
		if !aliasFoundBy(t, s, org, a.ID, map[string]any{"metadata": map[string]any{"segment": "retail", "tier": 2}}) ||
			aliasFoundBy(t, s, org, a.ID, map[string]any{"metadata": map[string]any{"active": true}}) {
			t.Fatal("metadata filter does not follow the change")
		}
	})

	t.Run("invalid values", func(t *testing.T) {
		org, a := setup(t) // openingDate 2020-01-15
		e := wantCode(t, s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, "bankingDetails": map[string]any{"closingDate": "2019-01-01"}}}, nil), crm.EINVALID)
		wantField(t, e, "bankingDetails.closingDate")
		e = wantCode(t, s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, "bankingDetails": map[string]any{"countryCode": "XX", "type": "TOO-LONG-TYPE"}}}, nil), crm.EINVALID)
		wantField(t, e, "bankingDetails.countryCode", "bankingDetails.type")
		wantAliasUnchanged(t, s, org, a)
	})

	t.Run("immutable fields cannot be sent", func(t *testing.T) {
		org, a := setup(t)
		for field, value := range map[string]any{"holderId": uuidString(), "accountId": uuidString(), "ledgerId": uuidString(),
			"relatedParties": []any{map[string]any{"document": "1", "name": "X", "role": "PRIMARY_HOLDER", "startDate": "2024-01-01"}}} {
			e := wantCode(t, s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, field: value, "metadata": map[string]any{"x": 1}}}, nil), crm.EINVALID)
			wantField(t, e, field)
		}
		for _, field := range []string{"holderId", "accountId", "ledgerId"} {
			q := `mutation($id: ID!, $v: ID!) { updateAliasAccount(input: {id: $id, ` + field + `: $v}) { aliasAccount { id } } }`
			wantCode(t, s.post(t, org, q, map[string]any{"id": a.ID, "v": uuidString()}, nil), "GRAPHQL_VALIDATION_FAILED")
		}
		wantAliasUnchanged(t, s, org, a)
	})

	t.Run("versions and expectedVersion", func(t *testing.T) {
		org, a := setup(t)
		v2 := updateAlias(t, s, org, map[string]any{"id": a.ID, "expectedVersion": 1, "metadata": map[string]any{"n": 1}})
		wantChanged(t, a.Version, a.CreatedAt, a.UpdatedAt, v2.Version, v2.CreatedAt, v2.UpdatedAt)
		for _, noop := range []map[string]any{
			{"id": a.ID},
			{"id": a.ID, "metadata": map[string]any{"n": 1, "absent": nil}},
			{"id": a.ID, "bankingDetails": map[string]any{"branch": "0001", "iban": "BR1500000000000010932840814P2"}},
			{"id": a.ID, "expectedVersion": 2, "regulatoryFields": map[string]any{"participantDocument": "60.701.190/0001-04"}},
		} {
			if got := updateAlias(t, s, org, noop); !reflect.DeepEqual(got, v2) {
				t.Fatalf("no-op update %v changed the account:\n got %+v\nwant %+v", noop, got, v2)
			}
		}
		for _, stale := range []int{1, 3} {
			wantCode(t, s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, "expectedVersion": stale, "metadata": map[string]any{"n": 2}}}, nil), crm.EVERSIONCONFLICT)
		}
		wantAliasUnchanged(t, s, org, v2)
	})

	t.Run("unknown id", func(t *testing.T) {
		wantCode(t, s.post(t, newOrg(), updateAliasMutation, map[string]any{"input": map[string]any{"id": uuidString(), "metadata": map[string]any{"x": 1}}}, nil), crm.ENOTFOUND)
	})

	// An empty object for absent bankingDetails/regulatoryFields, or clearing a field that
	// is already absent, changes nothing: same version and updatedAt, and the payload
	// answers null like every read (it used to answer an object of nulls and bump the version).
	t.Run("no-op on absent nested objects keeps the version", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		a := createAlias(t, s, org, minimalAliasInput(h.ID, uuidString(), uuidString()))
		for _, noop := range []map[string]any{
			{"id": a.ID, "bankingDetails": map[string]any{}},
			{"id": a.ID, "bankingDetails": map[string]any{"iban": nil}},
			{"id": a.ID, "regulatoryFields": map[string]any{"participantDocument": nil}},
		} {
			got := updateAlias(t, s, org, noop)
			read := readAlias(t, s, org, a.ID, false)
			if read.BankingDetails != nil || read.RegulatoryFields != nil {
				t.Fatalf("no-op %v stored objects: %+v", noop, read)
			}
			if got.Version != a.Version || got.UpdatedAt != a.UpdatedAt {
				t.Errorf("no-op update %v bumped version %d -> %d (updatedAt %s -> %s) without any stored change",
					noop, a.Version, got.Version, a.UpdatedAt, got.UpdatedAt)
			}
			if !reflect.DeepEqual(got.BankingDetails, read.BankingDetails) || !reflect.DeepEqual(got.RegulatoryFields, read.RegulatoryFields) {
				t.Errorf("payload of no-op update %v answers bankingDetails %v / regulatoryFields %v, reads answer %v / %v",
					noop, got.BankingDetails, got.RegulatoryFields, read.BankingDetails, read.RegulatoryFields)
			}
			a = *read
		}
	})
}

// TestMutationFieldsSeeEarlierFields: a mutation's root fields run one after another, and
// each payload shows the records as the fields before it left them, even where an earlier
// field's payload read the same records (through the request's loaders).
func TestMutationFieldsSeeEarlierFields(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Old Name", "321.654.987-00"))
	a := createAlias(t, s, org, minimalAliasInput(h.ID, newOrg(), newOrg()))
	newAccount := newOrg()

	type holderView struct {
		Name          string
		Version       int
		AliasAccounts []struct{ ID string }
	}
	var out struct {
		One struct{ AliasAccount struct{ Holder holderView } }
		Del struct{ AliasAccount struct{ Holder holderView } }
		Ren struct{ Holder holderView }
		Two struct {
			AliasAccount struct {
				ID     string
				Holder holderView
			}
		}
	}
	s.mustPost(t, org, `mutation($h: ID!, $a: ID!, $l: ID!, $acc: ID!) {
		one: updateAliasAccount(input: {id: $a, metadata: {k: "1"}}) { aliasAccount { holder { name version aliasAccounts { id } } } }
		del: softDeleteAliasAccount(input: {id: $a}) { aliasAccount { holder { name version aliasAccounts { id } } } }
		ren: updateHolder(input: {id: $h, name: "New Name"}) { holder { name version aliasAccounts { id } } }
		two: createAliasAccount(input: {holderId: $h, ledgerId: $l, accountId: $acc}) { aliasAccount { id holder { name version aliasAccounts { id } } } }
	}`, map[string]any{"h": h.ID, "a": a.ID, "l": newOrg(), "acc": newAccount}, &out)

	ids := func(v holderView) []string {
		var out []string
		for _, a := range v.AliasAccounts {
			out = append(out, a.ID)
		}
		return out
	}
	if got := ids(out.One.AliasAccount.Holder); !reflect.DeepEqual(got, []string{a.ID}) {
		t.Errorf("one: holder's alias accounts = %v, want [%s]", got, a.ID)
	}
	if got := ids(out.Del.AliasAccount.Holder); len(got) != 0 {
		t.Errorf("del: holder's alias accounts after the soft delete = %v, want none", got)
	}
	if r := out.Ren.Holder; r.Name != "New Name" || r.Version != 2 {
		t.Errorf("ren: holder = %q version %d, want \"New Name\" version 2", r.Name, r.Version)
	}
	two := out.Two.AliasAccount
	if two.Holder.Name != "New Name" || two.Holder.Version != 2 {
		t.Errorf("two: holder = %q version %d, want \"New Name\" version 2 (ren's change)", two.Holder.Name, two.Holder.Version)
	}
	if got := ids(two.Holder); !reflect.DeepEqual(got, []string{two.ID}) {
		t.Errorf("two: holder's alias accounts = %v, want only the new one [%s]", got, two.ID)
	}
}
