package graph_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Input handling through GraphQL: metadata numbers float64 would round, text
// PostgreSQL cannot store in filters, and empty nested input objects.

// TestInput: the three kinds of input, over one server, each subtest in its own organization.
func TestInput(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"MetadataNumbers", testMetadataNumbers},
		{"FilterText", testFilterText},
		{"EmptyNestedObjects", testEmptyNestedObjects},
	})
}

// wantFields fails unless errs is one BAD_USER_INPUT naming exactly fields.
func wantFields(t *testing.T, errs []gqlError, fields ...string) {
	t.Helper()
	e := wantCode(t, errs, crm.EINVALID)
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	got := map[string]bool{}
	for f, why := range e.Extensions.Fields {
		if why == "" {
			t.Errorf("field %q has no reason", f)
		}
		got[f] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extensions.fields = %v, want %v (%s)", e.Extensions.Fields, fields, e.Message)
	}
}

const holdersTotalQuery = `query($f: HolderFilter) { holders(filter: $f) { totalCount edges { node { id } } } }`

func holdersTotal(t *testing.T, s *testServer, org string, filter map[string]any) int {
	t.Helper()
	var out struct{ Holders holderConnJSON }
	s.mustPost(t, org, holdersTotalQuery, map[string]any{"f": filter}, &out)
	return out.Holders.TotalCount
}

// Regression (fixed bug): crm/metadata.go converted a json.Number with Float64() and
// kept the result, so createHolder with metadata {"n": 9007199254740993} stored and
// answered 9007199254740992 without an error, and a metadata filter on the value sent
// matched nothing. Such a number is now BAD_USER_INPUT naming metadata.n.
func testMetadataNumbers(t *testing.T, s *testServer) {
	const beyond = json.Number("9007199254740993") // 2^53+1: float64 rounds it to 2^53
	const exact = json.Number("9007199254740992")

	t.Run("holders", func(t *testing.T) {
		org := newOrg()
		in := naturalPersonInput("Ana Souza", "123.456.789-09")
		in["metadata"] = map[string]any{"n": beyond}
		wantFields(t, s.post(t, org, createHolderMutation, map[string]any{"input": in}, nil), "metadata.n")
		if n := countIn(t, s, "holders", org); n != 0 {
			t.Fatalf("%d holders written by a refused create", n)
		}

		in["metadata"] = map[string]any{"n": exact, "small": json.Number("0.1")}
		h := createHolder(t, s, org, in)
		if h.Metadata["n"] != 9007199254740992.0 || h.Metadata["small"] != 0.1 {
			t.Fatalf("metadata answered %v", h.Metadata)
		}
		if read := readHolder(t, s, org, h.ID, false); read == nil || !reflect.DeepEqual(*read, h) {
			t.Fatalf("read back:\n got %+v\nwant %+v", read, h)
		}

		errs := s.post(t, org, updateHolderMutation, map[string]any{"input": map[string]any{"id": h.ID, "metadata": map[string]any{"n": beyond}}}, nil)
		wantFields(t, errs, "metadata.n")
		wantHolderUnchanged(t, s, org, h)

		wantFields(t, s.post(t, org, holdersTotalQuery, map[string]any{"f": map[string]any{"metadata": map[string]any{"n": beyond}}}, nil), "filter.metadata.n")
		// Written into the query, the number reaches the scalar as an int64: the same rule.
		wantFields(t, s.post(t, org, `{ holders(filter: {metadata: {n: 9007199254740993}}) { totalCount } }`, nil, nil), "filter.metadata.n")
		if n := holdersTotal(t, s, org, map[string]any{"metadata": map[string]any{"n": exact}}); n != 1 {
			t.Fatalf("filter on the stored value: totalCount %d, want 1", n)
		}
	})

	t.Run("alias accounts", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		in := minimalAliasInput(h.ID, uuidString(), uuidString())
		in["metadata"] = map[string]any{"n": beyond}
		wantFields(t, s.post(t, org, createAliasMutation, map[string]any{"input": in}, nil), "metadata.n")
		if n := countIn(t, s, "alias_accounts", org); n != 0 {
			t.Fatalf("%d alias accounts written by a refused create", n)
		}

		in["metadata"] = map[string]any{"n": exact}
		a := createAlias(t, s, org, in)
		errs := s.post(t, org, updateAliasMutation, map[string]any{"input": map[string]any{"id": a.ID, "metadata": map[string]any{"n": beyond}}}, nil)
		wantFields(t, errs, "metadata.n")
		if read := readAlias(t, s, org, a.ID, false); read == nil || !reflect.DeepEqual(*read, a) {
			t.Fatalf("alias account changed by a refused update:\n got %+v\nwant %+v", read, a)
		}

		wantFields(t, s.post(t, org, listAliasesQuery, map[string]any{"f": map[string]any{"metadata": map[string]any{"n": beyond}}}, nil), "filter.metadata.n")
		if got := listAliases(t, s, org, map[string]any{"metadata": map[string]any{"n": exact}}, "CREATED_AT_ASC", false); got.TotalCount != 1 {
			t.Fatalf("filter on the stored value: totalCount %d, want 1", got.TotalCount)
		}
	})
}

// Regression (fixed bug): filters were not validated, so a NUL character reached
// PostgreSQL and came back through the SQLSTATE 22021 mapping as BAD_USER_INPUT without
// extensions.fields. The domain's filter validation now names each bad field.
func testFilterText(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	createAlias(t, s, org, aliasInput(h.ID, uuidString(), uuidString()))
	const nul = "a\u0000b"

	t.Run("the reported query", func(t *testing.T) {
		errs := s.post(t, org, `query($x: String!) { holders(filter: {externalId: $x}) { totalCount } }`, map[string]any{"x": nul}, nil)
		wantFields(t, errs, "filter.externalId")
	})
	holderCases := []struct {
		name   string
		filter map[string]any
		fields []string
	}{
		{"externalId", map[string]any{"externalId": nul}, []string{"filter.externalId"}},
		{"document", map[string]any{"document": nul}, []string{"filter.document"}},
		{"metadata value", map[string]any{"metadata": map[string]any{"k": nul}}, []string{"filter.metadata.k"}},
		{"metadata key", map[string]any{"metadata": map[string]any{nul: "v"}}, []string{"filter.metadata"}},
		{"several", map[string]any{"externalId": nul, "metadata": map[string]any{"k": nul}}, []string{"filter.externalId", "filter.metadata.k"}},
	}
	for _, tc := range holderCases {
		t.Run("holders "+tc.name, func(t *testing.T) {
			wantFields(t, s.post(t, org, holdersTotalQuery, map[string]any{"f": tc.filter}, nil), tc.fields...)
		})
	}
	aliasCases := []struct {
		name   string
		filter map[string]any
		fields []string
	}{
		{"branch", map[string]any{"branch": nul}, []string{"filter.branch"}},
		{"holderDocument", map[string]any{"holderDocument": nul}, []string{"filter.holderDocument"}},
		{"bankAccount", map[string]any{"bankAccount": nul}, []string{"filter.bankAccount"}},
		{"iban", map[string]any{"iban": nul}, []string{"filter.iban"}},
		{"participantDocument", map[string]any{"participantDocument": nul}, []string{"filter.participantDocument"}},
		{"relatedPartyDocument", map[string]any{"relatedPartyDocument": nul}, []string{"filter.relatedPartyDocument"}},
		{"metadata value", map[string]any{"metadata": map[string]any{"k": nul}}, []string{"filter.metadata.k"}},
		{"metadata key", map[string]any{"metadata": map[string]any{nul: "v"}}, []string{"filter.metadata"}},
	}
	for _, tc := range aliasCases {
		t.Run("aliasAccounts "+tc.name, func(t *testing.T) {
			wantFields(t, s.post(t, org, listAliasesQuery, map[string]any{"f": tc.filter}, nil), tc.fields...)
		})
	}
	t.Run("text without NUL still filters", func(t *testing.T) {
		if n := holdersTotal(t, s, org, map[string]any{"externalId": "ext-123.456.789-09"}); n != 1 {
			t.Fatalf("totalCount %d, want 1", n)
		}
		if got := listAliases(t, s, org, map[string]any{"branch": "0001"}, "CREATED_AT_ASC", false); got.TotalCount != 1 {
			t.Fatalf("totalCount %d, want 1", got.TotalCount)
		}
	})
}

// Regression (fixed bug): graph/convert.go turns an empty input object into an empty
// struct, which CreateHolder stored and answered, while an update's merge makes an
// object left with no field absent. So createHolder(contact: {}) answered
// contact {primaryEmail: null} at version 1, and updateHolder(contact: {}), which
// changes nothing, answered contact null at version 2; createAliasAccount answered
// bankingDetails {} that a later read answered as null. Now an object with no field set
// is absent at creation as on update, and a no-op update keeps the version.
func testEmptyNestedObjects(t *testing.T, s *testServer) {
	t.Run("holder", func(t *testing.T) {
		org := newOrg()
		in := map[string]any{"type": "NATURAL_PERSON", "name": "Ana Souza", "document": "123.456.789-09",
			"contact": map[string]any{}, "naturalPerson": map[string]any{"status": nil},
			"addresses": map[string]any{"primary": map[string]any{}, "additional1": map[string]any{"line1": "Rua A 1"}}}
		h := createHolder(t, s, org, in)
		if h.Version != 1 || h.Contact != nil || h.NaturalPerson != nil || h.LegalPerson != nil ||
			h.Addresses == nil || h.Addresses.Primary != nil || h.Addresses.Additional1["line1"] != "Rua A 1" {
			t.Fatalf("created: %+v", h)
		}
		if read := readHolder(t, s, org, h.ID, false); read == nil || !reflect.DeepEqual(*read, h) {
			t.Fatalf("read back:\n got %+v\nwant %+v", read, h)
		}

		// The same empty objects again: nothing changes, so no new version.
		got := updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{},
			"naturalPerson": map[string]any{"status": nil}, "addresses": map[string]any{"primary": map[string]any{}}})
		wantHolderState(t, s, org, got, h)

		// A legal person: an empty representative, and so an empty legalPerson, is absent.
		legal := createHolder(t, s, org, map[string]any{"type": "LEGAL_PERSON", "name": "ACME", "document": "12.345.678/0001-95",
			"legalPerson": map[string]any{"representative": map[string]any{}}})
		if legal.LegalPerson != nil || legal.Version != 1 {
			t.Fatalf("created: legalPerson %v, version %d", legal.LegalPerson, legal.Version)
		}
		got = updateHolder(t, s, org, map[string]any{"id": legal.ID, "legalPerson": map[string]any{"representative": map[string]any{}}})
		wantHolderState(t, s, org, got, legal)

		// A real change still makes a new version.
		got = updateHolder(t, s, org, map[string]any{"id": h.ID, "contact": map[string]any{"otherPhone": "+55 11 3333-4444"}})
		wantChanged(t, h.Version, h.CreatedAt, h.UpdatedAt, got.Version, got.CreatedAt, got.UpdatedAt)
		if got.Contact["otherPhone"] != "+55 11 3333-4444" {
			t.Fatalf("contact = %v", got.Contact)
		}
	})

	t.Run("alias account", func(t *testing.T) {
		org := newOrg()
		h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
		in := minimalAliasInput(h.ID, uuidString(), uuidString())
		in["bankingDetails"] = map[string]any{}
		in["regulatoryFields"] = map[string]any{"participantDocument": nil}
		a := createAlias(t, s, org, in)
		if a.Version != 1 || a.BankingDetails != nil || a.RegulatoryFields != nil {
			t.Fatalf("created: %+v", a)
		}
		if read := readAlias(t, s, org, a.ID, false); read == nil || !reflect.DeepEqual(*read, a) {
			t.Fatalf("read back:\n got %+v\nwant %+v", read, a)
		}

		got := updateAlias(t, s, org, map[string]any{"id": a.ID, "bankingDetails": map[string]any{},
			"regulatoryFields": map[string]any{"participantDocument": nil}})
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("no-op update:\n got %+v\nwant %+v", got, a)
		}
		if read := readAlias(t, s, org, a.ID, false); read == nil || !reflect.DeepEqual(*read, a) {
			t.Fatalf("read back after a no-op update:\n got %+v\nwant %+v", read, a)
		}

		got = updateAlias(t, s, org, map[string]any{"id": a.ID, "bankingDetails": map[string]any{"branch": "0002"}})
		wantChanged(t, a.Version, a.CreatedAt, a.UpdatedAt, got.Version, got.CreatedAt, got.UpdatedAt)
		if got.BankingDetails["branch"] != "0002" {
			t.Fatalf("bankingDetails = %v", got.BankingDetails)
		}
	})
}
