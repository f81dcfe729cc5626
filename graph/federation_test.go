package graph_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/auth/authtest"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestServiceSDL: _service { sdl } answers without an organization, a token or
// introspection, and declares the entities.
func TestServiceSDL(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t)
	s := newTestServerWith(t, graph.HandlerOptions{Introspection: false, Authorizer: auth.NewClient(auth.ClientOptions{Address: am.URL})})
	var got struct {
		Service struct{ SDL string } `json:"_service"`
	}
	s.mustPost(t, "", `{ _service { sdl } }`, nil, &got)
	for _, want := range []string{`type Holder @key(fields: "id")`, `type AliasAccount @key(fields: "id")`, `type Account @key(fields: "id")`} {
		if !strings.Contains(got.Service.SDL, want) {
			t.Errorf("SDL lacks %q", want)
		}
	}
	if len(am.Requests()) != 0 {
		t.Fatalf("_service asked the Access Manager")
	}
	wantCode(t, s.post(t, newOrg(), `{ __schema { types { name } } }`, nil, nil), "GRAPHQL_VALIDATION_FAILED")
}

// TestEntities: _entities resolves each type in one statement, in request order, with
// soft-deleted and absent records null, and other organizations' records invisible.
func TestEntities(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()
	ledger := uuid.Must(uuid.NewV7()).String()
	var holders []holderJSON
	var accounts, aliasIDs []string
	for i := range 3 {
		h := createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": "Person " + string(rune('A'+i)), "document": "DOC" + string(rune('A'+i))})
		holders = append(holders, h)
		acc := uuid.Must(uuid.NewV7()).String()
		var out struct {
			CreateAliasAccount struct{ AliasAccount struct{ ID string } }
		}
		s.mustPost(t, org, `mutation($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
			map[string]any{"in": map[string]any{"holderId": h.ID, "ledgerId": ledger, "accountId": acc, "bankingDetails": map[string]any{"iban": "BR15 0000 0000 0000 1093 2840 814P2"}}}, &out)
		accounts = append(accounts, acc)
		aliasIDs = append(aliasIDs, out.CreateAliasAccount.AliasAccount.ID)
	}
	// Soft-delete the second holder's account so it drops out of entity resolution.
	s.mustPost(t, org, `mutation($id: ID!) { softDeleteAliasAccount(input: {id: $id}) { aliasAccount { id } } }`, map[string]any{"id": aliasIDs[1]}, nil)

	missing := uuid.Must(uuid.NewV7()).String()
	reps := []map[string]any{
		{"__typename": "Holder", "id": holders[2].ID},
		{"__typename": "AliasAccount", "id": aliasIDs[0]},
		{"__typename": "Holder", "id": missing},
		{"__typename": "Holder", "id": holders[0].ID},
		{"__typename": "AliasAccount", "id": aliasIDs[1]},
		{"__typename": "Account", "id": accounts[0]},
		{"__typename": "Account", "id": accounts[1]},
		{"__typename": "Account", "id": accounts[2]},
	}
	query := `query($r: [_Any!]!) { _entities(representations: $r) {
		__typename
		... on Holder { id name }
		... on AliasAccount { id accountId }
		... on Account { id holder { name } aliasAccount { bankingDetails { iban } } }
	} }`
	var got struct {
		Entities []*struct {
			Typename     string `json:"__typename"`
			ID           string
			Name         string
			AccountID    string
			Holder       *struct{ Name string }
			AliasAccount *struct{ BankingDetails struct{ IBAN string } }
		} `json:"_entities"`
	}
	s.stmts.Reset()
	s.mustPost(t, org, query, map[string]any{"r": reps}, &got)
	if n := s.stmts.Count(); n > 4 {
		t.Fatalf("_entities issued %d statements, want at most 4 (holders, alias accounts, accounts' aliases, their holders)", n)
	}
	e := got.Entities
	if len(e) != len(reps) {
		t.Fatalf("%d entities, want %d", len(e), len(reps))
	}
	if e[0] == nil || e[0].ID != holders[2].ID || e[3] == nil || e[3].ID != holders[0].ID || e[2] != nil {
		t.Fatalf("holders not in request order or missing not null: %+v %+v %+v", e[0], e[2], e[3])
	}
	if e[1] == nil || e[1].ID != aliasIDs[0] || e[4] != nil {
		t.Fatalf("alias accounts: %+v, soft-deleted %+v", e[1], e[4])
	}
	if e[5].Holder == nil || e[5].Holder.Name != "Person A" || e[5].AliasAccount == nil || e[5].AliasAccount.BankingDetails.IBAN == "" {
		t.Fatalf("account 0: %+v", e[5])
	}
	if e[6].Holder != nil || e[6].AliasAccount != nil {
		t.Fatalf("account with a soft-deleted alias account resolves: %+v", e[6])
	}
	if e[7].Holder == nil || e[7].Holder.Name != "Person C" {
		t.Fatalf("account 2: %+v", e[7])
	}

	// Another organization sees nothing.
	var other struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	s.mustPost(t, newOrg(), `query($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id } } }`,
		map[string]any{"r": reps[:1]}, &other)
	if len(other.Entities) != 1 || other.Entities[0] != nil {
		t.Fatalf("organization B resolved A's holder: %+v", other.Entities)
	}
}

// TestEntitiesAuthorised: _entities is authorised like the queries returning the same
// types, and _service stays open.
func TestEntitiesAuthorised(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSubject(), "holders", "post"))
	s := newAuthServer(t, am, auth.ClientOptions{})
	token := authtest.UserToken(userOwner, userSub)
	org := newOrg()
	var h struct {
		CreateHolder struct{ Holder struct{ ID string } }
	}
	if errs := s.postAs(t, org, token, createHolderMutation, map[string]any{"input": naturalPersonInput("Ana", "1")}, &h); len(errs) > 0 {
		t.Fatal(errs)
	}
	q := `query($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id name } } }`
	r := map[string]any{"r": []map[string]any{{"__typename": "Holder", "id": h.CreateHolder.Holder.ID}}}
	errs := s.postAs(t, org, token, q, r, nil)
	if len(errs) == 0 || errs[0].Extensions.Code != crm.EFORBIDDEN {
		t.Fatalf("want FORBIDDEN, got %+v", errs)
	}
	errs = s.post(t, org, q, r, nil)
	if len(errs) == 0 || errs[0].Extensions.Code != crm.EUNAUTHENTICATED {
		t.Fatalf("want UNAUTHENTICATED, got %+v", errs)
	}
	am.Allow(authtest.Rule(userSubject(), "holders", "get"))
	if errs := s.postAs(t, org, token, q, r, nil); len(errs) > 0 {
		t.Fatalf("allowed: %+v", errs)
	}
	s.mustPost(t, "", `{ _service { sdl } }`, nil, nil)
}

// TestEntitiesBadRepresentation: malformed representations are the caller's error.
func TestEntitiesBadRepresentation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	q := `query($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id } } }`
	for name, rep := range map[string]map[string]any{
		"id not a UUID": {"__typename": "Holder", "id": "nope"},
		"no id":         {"__typename": "Holder"},
		"unknown type":  {"__typename": "Nope", "id": "01890f4e-3b5c-7d2a-9f00-1a2b3c4d5e6f"},
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, s.post(t, newOrg(), q, map[string]any{"r": []map[string]any{rep}}, nil), crm.EINVALID)
		})
	}
}

// TestEntitiesSingleRepresentation: a single representation where the list is expected,
// which GraphQL's input coercion makes a list of one (written inline or sent in a
// variable), is checked like a list: a bad one is BAD_USER_INPUT and nothing of it is
// logged, a good one resolves.
//
// Regression (fixed bug): checkRepresentations (graph/limits.go) read the argument only
// as a list, so a single object went unchecked to gqlgen's generated resolution, whose
// "unknown type: <__typename>" the error presenter logged with the client's text and
// answered INTERNAL_SERVER_ERROR.
func TestEntitiesSingleRepresentation(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	s := newTestServerWith(t, graph.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	const typename = "Zephyrine Quaglia 123.456.789-09"
	const validID = "01890f4e-3b5c-7d2a-9f00-1a2b3c4d5e6f"
	const byVariable = `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"inline", `{ _entities(representations: {__typename: "` + typename + `", id: "x"}) { __typename } }`, nil},
		{"inline, UUID id", `{ _entities(representations: {__typename: "` + typename + `", id: "` + validID + `"}) { __typename } }`, nil},
		{"inline, not an object", `{ _entities(representations: "` + typename + `") { __typename } }`, nil},
		{"variable", byVariable, map[string]any{"r": map[string]any{"__typename": typename, "id": "x"}}},
		{"variable, UUID id", byVariable, map[string]any{"r": map[string]any{"__typename": typename, "id": validID}}},
		{"variable, not an object", byVariable, map[string]any{"r": typename}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := wantCode(t, s.post(t, newOrg(), c.query, c.vars, nil), crm.EINVALID)
			for _, part := range []string{"Zephyrine", "Quaglia", "123.456.789-09"} {
				if strings.Contains(e.Message, part) {
					t.Errorf("the answer repeats %q: %s", part, e.Message)
				}
			}
		})
	}
	if got := logs.String(); got != "" {
		t.Fatalf("refused representations were logged: %s", got)
	}

	org := newOrg()
	h := createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": "Single Rep", "document": "SINGLEREP1"})
	var got struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	s.mustPost(t, org, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id } } }`,
		map[string]any{"r": map[string]any{"__typename": "Holder", "id": h.ID}}, &got)
	if len(got.Entities) != 1 || got.Entities[0] == nil || got.Entities[0].ID != h.ID {
		t.Fatalf("a single valid representation in a variable: %+v", got.Entities)
	}
	s.mustPost(t, org, `{ _entities(representations: {__typename: "Holder", id: "`+h.ID+`"}) { ... on Holder { id } } }`, nil, &got)
	if len(got.Entities) != 1 || got.Entities[0] == nil || got.Entities[0].ID != h.ID {
		t.Fatalf("a single valid representation written inline: %+v", got.Entities)
	}
}

// lockedBuffer is a bytes.Buffer for a logger that concurrent resolvers may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
