package graph_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Input handling through GraphQL: metadata numbers float64 would round, and text
// PostgreSQL cannot store in filters.

// TestInput: kinds of input, over one server, each subtest in its own organization.
func TestInput(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"MetadataNumbers", testMetadataNumbers},
		{"FilterText", testFilterText},
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
