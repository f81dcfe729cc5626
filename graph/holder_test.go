package graph_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

const holderFields = `id type name document externalId version createdAt updatedAt deletedAt metadata
  addresses {
    primary { line1 line2 zipCode city state country description }
    additional1 { line1 line2 zipCode city state country description }
    additional2 { line1 city country }
  }
  contact { primaryEmail secondaryEmail mobilePhone otherPhone }
  naturalPerson { favoriteName socialName gender birthDate civilStatus nationality motherName fatherName status }
  legalPerson { tradeName activity type foundingDate size status representative { name document email role } }`

const createHolderMutation = `mutation($input: CreateHolderInput!) { createHolder(input: $input) { holder { ` + holderFields + ` } } }`

// holderJSON mirrors the Holder GraphQL type.
type holderJSON struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Document   string         `json:"document"`
	ExternalID *string        `json:"externalId"`
	Version    int            `json:"version"`
	CreatedAt  string         `json:"createdAt"`
	UpdatedAt  string         `json:"updatedAt"`
	DeletedAt  *string        `json:"deletedAt"`
	Metadata   map[string]any `json:"metadata"`
	Addresses  *struct {
		Primary     map[string]any `json:"primary"`
		Additional1 map[string]any `json:"additional1"`
		Additional2 map[string]any `json:"additional2"`
	} `json:"addresses"`
	Contact       map[string]any `json:"contact"`
	NaturalPerson map[string]any `json:"naturalPerson"`
	LegalPerson   map[string]any `json:"legalPerson"`
}

func naturalPersonInput(name, document string) map[string]any {
	return map[string]any{
		"type": "NATURAL_PERSON", "name": name, "document": document, "externalId": "ext-" + document,
		"addresses": map[string]any{
			"primary": map[string]any{"line1": "Rua Augusta 1500", "line2": "Apto 12", "zipCode": "01304-001",
				"city": "São Paulo", "state": "SP", "country": "BR", "description": "home"},
			"additional1": map[string]any{"line1": "Av. Paulista 1000", "line2": "Sala 3", "zipCode": "01310-100",
				"city": "São Paulo", "state": "SP", "country": "BR", "description": "work"},
		},
		"contact": map[string]any{"primaryEmail": "ana.souza@example.com", "secondaryEmail": "ana@example.org",
			"mobilePhone": "+55 11 91234-5678", "otherPhone": "+55 11 3333-4444"},
		"naturalPerson": map[string]any{"favoriteName": "Aninha", "socialName": "Ana S.", "gender": "female",
			"birthDate": "1990-05-01", "civilStatus": "single", "nationality": "Brazilian",
			"motherName": "Maria Souza", "fatherName": "João Souza", "status": "active"},
		"metadata": map[string]any{"segment": "retail", "score": 7.5, "vip": true, "note": nil},
	}
}

func legalPersonInput(name, document string) map[string]any {
	return map[string]any{
		"type": "LEGAL_PERSON", "name": name, "document": document,
		"addresses": map[string]any{"primary": map[string]any{"line1": "Av. Faria Lima 3000", "city": "São Paulo", "country": "BR"}},
		"contact":   map[string]any{"primaryEmail": "contato@acme.com.br"},
		"legalPerson": map[string]any{"tradeName": "ACME", "activity": "Software", "type": "LTDA",
			"foundingDate": "2010-02-03", "size": "medium", "status": "active",
			"representative": map[string]any{"name": "Carlos Lima", "document": "987.654.321-00",
				"email": "carlos@acme.com.br", "role": "CEO"}},
		"metadata": map[string]any{"tier": "gold"},
	}
}

func createHolder(t *testing.T, s *testServer, org string, input map[string]any) holderJSON {
	t.Helper()
	var out struct{ CreateHolder struct{ Holder holderJSON } }
	s.mustPost(t, org, createHolderMutation, map[string]any{"input": input}, &out)
	return out.CreateHolder.Holder
}

// TestCreateGetList round-trips both holder types with every sub-object through
// createHolder, holder(id) and holders.
func TestCreateGetList(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()

	for _, input := range []map[string]any{naturalPersonInput("Ana Souza", "123.456.789-09"), legalPersonInput("ACME Ltda", "12.345.678/0001-95")} {
		t.Run(input["type"].(string), func(t *testing.T) {
			created := createHolder(t, s, org, input)
			if created.Version != 1 || created.CreatedAt == "" || created.CreatedAt != created.UpdatedAt || created.DeletedAt != nil {
				t.Fatalf("server fields: %+v", created)
			}
			if created.Type != input["type"] || created.Name != input["name"] || created.Document != input["document"] {
				t.Fatalf("scalars differ: %+v", created)
			}
			wantSubset(t, "contact", input["contact"], created.Contact)
			wantSubset(t, "metadata", input["metadata"], created.Metadata)
			if np, ok := input["naturalPerson"]; ok {
				wantSubset(t, "naturalPerson", np, created.NaturalPerson)
				wantSubset(t, "addresses.primary", input["addresses"].(map[string]any)["primary"], created.Addresses.Primary)
				wantSubset(t, "addresses.additional1", input["addresses"].(map[string]any)["additional1"], created.Addresses.Additional1)
				if created.LegalPerson != nil || created.Addresses.Additional2 != nil {
					t.Fatalf("unexpected sub-objects: %+v", created)
				}
			} else {
				wantSubset(t, "legalPerson", input["legalPerson"], created.LegalPerson)
				if created.NaturalPerson != nil {
					t.Fatalf("naturalPerson on a legal person: %+v", created.NaturalPerson)
				}
			}

			var got struct{ Holder holderJSON }
			s.mustPost(t, org, `query($id: ID!) { holder(id: $id) { `+holderFields+` } }`, map[string]any{"id": created.ID}, &got)
			if !reflect.DeepEqual(got.Holder, created) {
				t.Fatalf("get differs from create:\n got %+v\nwant %+v", got.Holder, created)
			}

			var list struct {
				Holders struct {
					TotalCount int
					Edges      []struct {
						Cursor string
						Node   holderJSON
					}
				}
			}
			s.mustPost(t, org, `query($d: String!) { holders(filter: {document: $d}) { totalCount edges { cursor node { `+holderFields+` } } } }`,
				map[string]any{"d": input["document"]}, &list)
			if list.Holders.TotalCount != 1 || len(list.Holders.Edges) != 1 || !reflect.DeepEqual(list.Holders.Edges[0].Node, created) {
				t.Fatalf("list by document: %+v", list)
			}
		})
	}
}

// wantSubset fails unless every key of want (a map from the input) has the same value in got.
func wantSubset(t *testing.T, what string, want, got any) {
	t.Helper()
	w, _ := want.(map[string]any)
	g, _ := got.(map[string]any)
	if g == nil {
		t.Fatalf("%s: missing, want %v", what, w)
	}
	for k, wv := range w {
		gv := g[k]
		if sub, ok := wv.(map[string]any); ok {
			wantSubset(t, what+"."+k, sub, gv)
			continue
		}
		if fmt.Sprint(gv) != fmt.Sprint(wv) {
			t.Fatalf("%s.%s = %v, want %v", what, k, gv, wv)
		}
	}
}

// TestCreateHolderInvalidInput checks that bad input is BAD_USER_INPUT naming the
// offending fields, and that nothing is written.
func TestCreateHolderInvalidInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()
	with := func(mutate func(in map[string]any)) map[string]any {
		in := naturalPersonInput("Ana Souza", "123.456.789-09")
		mutate(in)
		return in
	}
	cases := []struct {
		name   string
		input  map[string]any
		fields []string
	}{
		{"bad enum", with(func(in map[string]any) { in["type"] = "ROBOT" }), []string{"type"}},
		{"bad e-mail", with(func(in map[string]any) { in["contact"].(map[string]any)["primaryEmail"] = "not-an-email" }), []string{"contact.primaryEmail"}},
		{"bad country", with(func(in map[string]any) {
			in["addresses"].(map[string]any)["primary"].(map[string]any)["country"] = "XX"
		}), []string{"addresses.primary.country"}},
		{"metadata value of 2001 characters", with(func(in map[string]any) { in["metadata"] = map[string]any{"long": strings.Repeat("x", 2001)} }), []string{"metadata.long"}},
		{"nested metadata", with(func(in map[string]any) { in["metadata"] = map[string]any{"nested": map[string]any{"a": 1}} }), []string{"metadata.nested"}},
		{"naturalPerson on a LEGAL_PERSON", with(func(in map[string]any) { in["type"] = "LEGAL_PERSON" }), []string{"naturalPerson"}},
		{"bad date", with(func(in map[string]any) { in["naturalPerson"].(map[string]any)["birthDate"] = "1990-13-45" }), []string{"naturalPerson.birthDate"}},
		{"several at once", with(func(in map[string]any) {
			in["name"] = ""
			in["contact"].(map[string]any)["secondaryEmail"] = "a@"
			in["addresses"].(map[string]any)["additional1"].(map[string]any)["zipCode"] = strings.Repeat("9", 21)
		}), []string{"name", "contact.secondaryEmail", "addresses.additional1.zipCode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := s.post(t, org, createHolderMutation, map[string]any{"input": tc.input}, nil)
			e := wantCode(t, errs, crm.EINVALID)
			var got []string
			for f := range e.Extensions.Fields {
				got = append(got, f)
			}
			sort.Strings(got)
			want := append([]string(nil), tc.fields...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fields = %v, want %v (%s)", got, want, e.Message)
			}
			for _, secret := range []string{"Ana Souza", "123.456.789-09", "not-an-email", "ROBOT"} {
				if strings.Contains(e.Message, secret) || strings.Contains(fmt.Sprint(e.Extensions.Fields), secret) {
					t.Fatalf("error echoes input value %q: %+v", secret, e)
				}
			}
		})
	}
	if n := s.count(t, "holders"); n != 0 {
		t.Fatalf("%d holders written by rejected mutations", n)
	}
}

// TestDocumentUniqueness covers DOCUMENT_ALREADY_EXISTS, normalisation, the per-organization
// scope, and a race of 20 concurrent creates.
func TestDocumentUniqueness(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	orgA, orgB := newOrg(), newOrg()

	createHolder(t, s, orgA, naturalPersonInput("Ana Souza", "123.456.789-09"))
	errs := s.post(t, orgA, createHolderMutation, map[string]any{"input": naturalPersonInput("Other Name", "12345678909")}, nil)
	wantCode(t, errs, crm.EDOCUMENTEXISTS)
	createHolder(t, s, orgB, naturalPersonInput("Ana Souza", "123.456.789-09"))

	org := newOrg()
	var wg sync.WaitGroup
	codes := make([]string, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ CreateHolder struct{ Holder holderJSON } }
			if errs := s.post(t, org, createHolderMutation, map[string]any{"input": naturalPersonInput("Racer", "555.555.555-55")}, &out); len(errs) > 0 {
				codes[i] = errs[0].Extensions.Code
			} else {
				codes[i] = "OK"
			}
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case "OK":
			ok++
		case crm.EDOCUMENTEXISTS:
		default:
			t.Fatalf("unexpected outcome %q in %v", c, codes)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent creates succeeded, want exactly 1: %v", ok, codes)
	}
	if n := s.count(t, "holders"); n != 3 {
		t.Fatalf("holders = %d, want 3", n)
	}
}

// TestTenancy: records of one organization are invisible from another, and an
// operation without a valid organization reads and writes nothing.
func TestTenancy(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	orgA, orgB := newOrg(), newOrg()
	h := createHolder(t, s, orgA, naturalPersonInput("Ana Souza", "123.456.789-09"))

	var got struct {
		Holder           *holderJSON
		HolderByDocument *holderJSON
		Holders          struct {
			TotalCount int
			Edges      []struct{ Node holderJSON }
		}
	}
	s.mustPost(t, orgB, `query($id: ID!, $d: String!) { holder(id: $id) { id } holderByDocument(document: $d) { id } holders { totalCount edges { node { id } } } }`,
		map[string]any{"id": h.ID, "d": "12345678909"}, &got)
	if got.Holder != nil || got.HolderByDocument != nil || got.Holders.TotalCount != 0 || len(got.Holders.Edges) != 0 {
		t.Fatalf("organization B sees A's holder: %+v", got)
	}

	for name, org := range map[string]string{"missing": "", "malformed": "not-a-uuid", "nil uuid": "00000000-0000-0000-0000-000000000000"} {
		t.Run(name, func(t *testing.T) {
			errs := s.post(t, org, createHolderMutation, map[string]any{"input": naturalPersonInput("Bob", "111")}, nil)
			wantCode(t, errs, crm.EMISSINGORG)
			errs = s.post(t, org, `query($id: ID!) { holder(id: $id) { id } }`, map[string]any{"id": h.ID}, nil)
			wantCode(t, errs, crm.EMISSINGORG)
			// Bad input without an organization is refused for the organization first.
			errs = s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": uuidString(),
				"relatedParty": map[string]any{"document": "", "name": "", "role": "RESPONSIBLE_PARTY", "startDate": "2024-01-01"}}}, nil)
			wantCode(t, errs, crm.EMISSINGORG)
		})
	}
	if n := s.count(t, "holders"); n != 1 {
		t.Fatalf("holders = %d, want 1", n)
	}
}

// TestHolderByIDNotFound: an unknown id is null, a malformed id is BAD_USER_INPUT.
func TestHolderByIDNotFound(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var got struct{ Holder *holderJSON }
	s.mustPost(t, newOrg(), `{ holder(id: "01890f4e-3b5c-7d2a-9f00-1a2b3c4d5e6f") { id } }`, nil, &got)
	if got.Holder != nil {
		t.Fatalf("holder = %+v, want null", got.Holder)
	}
	errs := s.post(t, newOrg(), `query($id: ID!) { holder(id: $id) { id } }`, map[string]any{"id": "42"}, nil)
	wantCode(t, errs, crm.EINVALID)
}
