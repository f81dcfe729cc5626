package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/auth/authtest"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestEveryOperationHasAuth walks the executable schema: every Query and Mutation field
// must carry @auth, except the federation fields that are open by design (_service) or
// authorised per entity type in their resolver (_entities).
func TestEveryOperationHasAuth(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	exempt := map[string]bool{"_service": true, "_entities": true, "__schema": true, "__type": true, "__typename": true}
	checked := 0
	for _, def := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, f := range def.Fields {
			if exempt[f.Name] {
				continue
			}
			checked++
			d := f.Directives.ForName("auth")
			if d == nil {
				t.Errorf("%s.%s has no @auth directive", def.Name, f.Name)
				continue
			}
			res, act := d.Arguments.ForName("resource").Value.Raw, d.Arguments.ForName("action").Value.Raw
			if (res != "holders" && res != "aliases") || !strings.Contains(" get post patch delete ", " "+act+" ") {
				t.Errorf("%s.%s: @auth(resource: %q, action: %q) is not a known permission", def.Name, f.Name, res, act)
			}
		}
	}
	if checked < 18 {
		t.Fatalf("checked only %d operations", checked)
	}
	// Relations that cross into the other resource are guarded too.
	for typ, field := range map[string]string{"Holder": "aliasAccounts", "AliasAccount": "holder"} {
		if schema.Types[typ].Fields.ForName(field).Directives.ForName("auth") == nil {
			t.Errorf("%s.%s has no @auth directive", typ, field)
		}
	}
}

const (
	userOwner = "lerian"
	userSub   = "ana"
)

func userSubject() string { return userOwner + "/" + userSub }

func newAuthServer(t *testing.T, am *authtest.Server, opts auth.ClientOptions) *testServer {
	t.Helper()
	opts.Address = am.URL
	if opts.Timeout == 0 {
		opts.Timeout = 300 * time.Millisecond
	}
	return newTestServerWith(t, graph.HandlerOptions{Authorizer: auth.NewClient(opts)})
}

func TestAuthEnabled(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t,
		authtest.Rule(userSubject(), "holders", "get"),
		authtest.Rule(userSubject(), "holders", "post"),
		authtest.Rule(userSubject(), "aliases", "get"),
	)
	s := newAuthServer(t, am, auth.ClientOptions{})
	org := newOrg()
	token := authtest.UserToken(userOwner, userSub)
	input := map[string]any{"input": naturalPersonInput("Ana Souza", "123.456.789-09")}

	t.Run("no token is UNAUTHENTICATED and writes nothing", func(t *testing.T) {
		wantCode(t, s.post(t, org, createHolderMutation, input, nil), crm.EUNAUTHENTICATED)
		wantCode(t, s.post(t, org, `{ holders { totalCount } }`, nil, nil), crm.EUNAUTHENTICATED)
		if n := s.count(t, "holders"); n != 0 {
			t.Fatalf("%d holders written", n)
		}
	})
	t.Run("malformed token is UNAUTHENTICATED", func(t *testing.T) {
		wantCode(t, s.postAs(t, org, "not-a-jwt", `{ holders { totalCount } }`, nil, nil), crm.EUNAUTHENTICATED)
	})

	var created struct{ CreateHolder struct{ Holder holderJSON } }
	t.Run("allowed gets the data", func(t *testing.T) {
		if errs := s.postAs(t, org, token, createHolderMutation, input, &created); len(errs) > 0 {
			t.Fatalf("errors: %+v", errs)
		}
		var got struct{ Holder *holderJSON }
		if errs := s.postAs(t, org, token, `query($id: ID!) { holder(id: $id) { id name } }`, map[string]any{"id": created.CreateHolder.Holder.ID}, &got); len(errs) > 0 || got.Holder == nil {
			t.Fatalf("allowed read failed: %+v %+v", errs, got)
		}
	})

	t.Run("denied is FORBIDDEN and writes nothing", func(t *testing.T) {
		errs := s.postAs(t, org, token, `mutation($id: ID!) { hardDeleteHolder(input: {id: $id}) { id } }`, map[string]any{"id": created.CreateHolder.Holder.ID}, nil)
		wantCode(t, errs, crm.EFORBIDDEN)
		if n := s.count(t, "holders"); n != 1 {
			t.Fatalf("holders = %d after a denied delete, want 1", n)
		}
	})

	t.Run("multi-field mutation: the denied field writes nothing", func(t *testing.T) {
		var out struct {
			A *struct{ Holder struct{ ID string } }
			B *struct{ ID string }
		}
		errs := s.postAs(t, org, token, `mutation($in: CreateHolderInput!, $id: ID!) {
			a: createHolder(input: $in) { holder { id } }
			b: softDeleteHolder(input: {id: $id}) { holder { id } }
		}`, map[string]any{"in": naturalPersonInput("Bruno Lima", "222.333.444-55"), "id": created.CreateHolder.Holder.ID}, &out)
		e := wantCode(t, errs, crm.EFORBIDDEN)
		if fmt.Sprint(e.Path) != "[b]" {
			t.Fatalf("error path = %v, want [b]", e.Path)
		}
		if out.A == nil || out.A.Holder.ID == "" {
			t.Fatalf("allowed field did not run: %+v", out)
		}
		var deleted int
		if err := s.db.Get(&deleted, `SELECT count(*) FROM holders WHERE deleted_at IS NOT NULL`); err != nil {
			t.Fatal(err)
		}
		if deleted != 0 {
			t.Fatalf("the denied soft delete wrote: %d deleted holders", deleted)
		}
	})

	t.Run("nested relation of another resource is authorised too", func(t *testing.T) {
		// The caller may read holders but not alias accounts... here it may (aliases/get),
		// so use a second user who may only read holders.
		am.Allow(authtest.Rule("lerian/bob", "holders", "get"))
		bob := authtest.UserToken("lerian", "bob")
		var out struct {
			Holders struct {
				Edges []struct{ Node struct{ AliasAccounts []any } }
			}
		}
		errs := s.postAs(t, org, bob, `{ holders { edges { node { id aliasAccounts { id } } } } }`, nil, &out)
		if len(errs) == 0 || errs[0].Extensions.Code != crm.EFORBIDDEN {
			t.Fatalf("want FORBIDDEN on aliasAccounts, got %+v", errs)
		}
	})
}

// TestAuthProtocol checks that the Access Manager receives exactly what lib-auth sends.
func TestAuthProtocol(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t,
		authtest.Rule(userSubject(), "holders", "get"),
		authtest.Rule("admin/crm-test-editor-role", "holders", "get"),
	)
	s := newAuthServer(t, am, auth.ClientOptions{ApplicationName: "crm-test"})
	org := newOrg()

	user := authtest.UserToken(userOwner, userSub)
	s.mustPostAs(t, org, user, `{ holders { totalCount } }`)
	reqs := am.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d authorize calls, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/authorize" || r.Authorization != user || !strings.HasPrefix(r.ContentType, "application/json") {
		t.Fatalf("request = %+v", r)
	}
	want := map[string]any{"sub": userSubject(), "resource": "holders", "action": "get", "product": "crm-test"}
	if fmt.Sprint(r.Body) != fmt.Sprint(want) {
		t.Fatalf("body = %v, want %v", r.Body, want)
	}

	am.Reset()
	machine := authtest.MachineToken("svc-ledger")
	s.mustPostAs(t, org, machine, `{ holders { totalCount } }`)
	reqs = am.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d authorize calls, want 1", len(reqs))
	}
	want = map[string]any{"sub": "admin/crm-test-editor-role", "resource": "holders", "action": "get"}
	if fmt.Sprint(reqs[0].Body) != fmt.Sprint(want) || reqs[0].Authorization != machine {
		t.Fatalf("machine body = %v (authorization %q), want %v", reqs[0].Body, reqs[0].Authorization, want)
	}
}

func (s *testServer) mustPostAs(t *testing.T, org, token, query string) {
	t.Helper()
	if errs := s.postAs(t, org, token, query, nil, nil); len(errs) > 0 {
		t.Fatalf("unexpected errors: %+v", errs)
	}
}

// TestAuthFailsClosed: an Access Manager that is down, hangs past the timeout or
// answers garbage refuses every operation with AUTH_UNAVAILABLE.
func TestAuthFailsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode authtest.Mode
		stop bool
	}{
		{"stopped", authtest.Normal, true},
		{"hanging past the timeout", authtest.Hang, false},
		{"answering non-JSON", authtest.Garbage, false},
		{"answering 500", authtest.Fail500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSubject(), "holders", "post"), authtest.Rule(userSubject(), "holders", "get"))
			am.SetMode(tc.mode)
			s := newAuthServer(t, am, auth.ClientOptions{Timeout: 200 * time.Millisecond, AllowTTL: time.Minute, DenyTTL: time.Minute})
			if tc.stop {
				am.Close()
			}
			token := authtest.UserToken(userOwner, userSub)
			var out struct {
				CreateHolder *struct{ Holder struct{ ID string } }
			}
			errs := s.postAs(t, newOrg(), token, createHolderMutation, map[string]any{"input": naturalPersonInput("Ana", "1")}, &out)
			wantCode(t, errs, crm.EAUTHUNAVAILABLE)
			wantCode(t, s.postAs(t, newOrg(), token, `{ holders { totalCount } }`, nil, nil), crm.EAUTHUNAVAILABLE)
			if out.CreateHolder != nil || s.count(t, "holders") != 0 {
				t.Fatalf("an operation was allowed: %+v", out)
			}
		})
	}
}

// TestAuthCallBudget: reading 100 holders with their alias accounts asks the Access
// Manager at most twice (holders/get, aliases/get); with the cache on, a repeat asks 0 times.
func TestAuthCallBudget(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t,
		authtest.Rule(userSubject(), "holders", "get"), authtest.Rule(userSubject(), "holders", "post"),
		authtest.Rule(userSubject(), "aliases", "get"), authtest.Rule(userSubject(), "aliases", "post"),
	)
	s := newAuthServer(t, am, auth.ClientOptions{AllowTTL: time.Minute, DenyTTL: time.Second})
	org := newOrg()
	token := authtest.UserToken(userOwner, userSub)
	ledger := uuid.Must(uuid.NewV7()).String()
	for i := range 100 {
		var h struct {
			CreateHolder struct{ Holder struct{ ID string } }
		}
		if errs := s.postAs(t, org, token, createHolderMutation, map[string]any{"input": map[string]any{"type": "LEGAL_PERSON", "name": fmt.Sprint("Co ", i), "document": fmt.Sprint("CNPJ-", i)}}, &h); len(errs) > 0 {
			t.Fatal(errs)
		}
		if errs := s.postAs(t, org, token, `mutation($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
			map[string]any{"in": map[string]any{"holderId": h.CreateHolder.Holder.ID, "ledgerId": ledger, "accountId": uuid.Must(uuid.NewV7()).String()}}, nil); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	query := `{ holders(first: 100) { edges { node { id name aliasAccounts { id holder { id } } } } } }`

	// The creates above filled the cache for holders/get only through nested reads;
	// start from an empty slate so the first page shows the per-request dedup alone.
	s = newTestServerFrom(t, s, graph.HandlerOptions{Authorizer: auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute})})
	am.Reset()
	var got struct{ Holders struct{ Edges []any } }
	if errs := s.postAs(t, org, token, query, nil, &got); len(errs) > 0 || len(got.Holders.Edges) != 100 {
		t.Fatalf("errors %+v, %d edges", errs, len(got.Holders.Edges))
	}
	if n := len(am.Requests()); n > 2 {
		t.Fatalf("%d authorize calls for one page, want at most 2", n)
	}
	am.Reset()
	s.mustPostAs(t, org, token, query)
	if n := len(am.Requests()); n != 0 {
		t.Fatalf("%d authorize calls on a cached repeat, want 0", n)
	}
}

// TestAuthNestedFieldsOfMutations: a mutation whose payload selects a field guarded by
// another permission (a holder's aliasAccounts, an alias account's holder) is refused
// before it writes when that permission is missing, and answered as a refusal of the
// mutation field itself: null, one error at its path. Without the nested field, the same
// caller's mutation goes through.
func TestAuthNestedFieldsOfMutations(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t,
		authtest.Rule(userSubject(), "holders", "get"),
		authtest.Rule(userSubject(), "holders", "post"),
		authtest.Rule(userSubject(), "aliases", "post"),
	)
	s := newAuthServer(t, am, auth.ClientOptions{})
	org := newOrg()
	token := authtest.UserToken(userOwner, userSub)

	t.Run("createHolder selecting aliasAccounts without aliases/get", func(t *testing.T) {
		var out struct {
			CreateHolder *struct{ Holder struct{ ID string } }
		}
		errs := s.postAs(t, org, token, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id aliasAccounts { id } } } }`,
			map[string]any{"in": naturalPersonInput("Ana Souza", "123.456.789-09")}, &out)
		e := wantCode(t, errs, crm.EFORBIDDEN)
		if fmt.Sprint(e.Path) != "[createHolder]" || out.CreateHolder != nil {
			t.Fatalf("error path %v, createHolder %+v; want [createHolder] and null", e.Path, out.CreateHolder)
		}
		if n := s.count(t, "holders"); n != 0 {
			t.Fatalf("%d holders written by a refused mutation", n)
		}
	})

	var holderID string
	t.Run("the same mutation without the nested field goes through", func(t *testing.T) {
		var out struct {
			CreateHolder struct{ Holder struct{ ID string } }
		}
		if errs := s.postAs(t, org, token, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
			map[string]any{"in": naturalPersonInput("Ana Souza", "123.456.789-09")}, &out); len(errs) > 0 {
			t.Fatalf("errors: %+v", errs)
		}
		holderID = out.CreateHolder.Holder.ID
	})

	t.Run("a fragment on the payload is checked too, and only its mutation field is refused", func(t *testing.T) {
		var out struct {
			A *struct{ Holder struct{ ID string } }
			B *struct{ AliasAccount struct{ ID string } }
		}
		errs := s.postAs(t, org, token, `mutation($in: CreateHolderInput!, $alias: CreateAliasAccountInput!) {
			a: createHolder(input: $in) { holder { id } }
			b: createAliasAccount(input: $alias) { ...withHolder }
		}
		fragment withHolder on CreateAliasAccountPayload { aliasAccount { id holder { id aliasAccounts { id } } } }`,
			map[string]any{"in": naturalPersonInput("Bruno Lima", "222.333.444-55"), "alias": minimalAliasInput(holderID, uuidString(), uuidString())}, &out)
		e := wantCode(t, errs, crm.EFORBIDDEN)
		if fmt.Sprint(e.Path) != "[b]" || out.B != nil || out.A == nil || out.A.Holder.ID == "" {
			t.Fatalf("error path %v, a %+v, b %+v; want a created, b null with the error at [b]", e.Path, out.A, out.B)
		}
		if n := s.count(t, "alias_accounts"); n != 0 {
			t.Fatalf("%d alias accounts written by a refused mutation", n)
		}
		if n := s.count(t, "holders"); n != 2 {
			t.Fatalf("%d holders, want 2 (the allowed field's holder written)", n)
		}
	})

	t.Run("a skipped nested field is not asked for", func(t *testing.T) {
		var out struct {
			CreateAliasAccount *struct{ AliasAccount struct{ ID string } }
		}
		if errs := s.postAs(t, org, token, `mutation($alias: CreateAliasAccountInput!, $no: Boolean!) {
			createAliasAccount(input: $alias) { aliasAccount { id holder @include(if: $no) { id aliasAccounts { id } } } }
		}`, map[string]any{"alias": minimalAliasInput(holderID, uuidString(), uuidString()), "no": false}, &out); len(errs) > 0 || out.CreateAliasAccount == nil {
			t.Fatalf("errors: %+v, out %+v", errs, out.CreateAliasAccount)
		}
	})
}

// TestAuthCascade: deleting a holder with cascade: true deletes its active alias accounts
// too, so it needs aliases/delete besides holders/delete; without cascade, or with both
// permissions, the holder's delete goes on as usual.
func TestAuthCascade(t *testing.T) {
	t.Parallel()
	holderAdmin := "lerian/holder-admin" // holders only
	fullAdmin := "lerian/full-admin"     // holders and alias accounts
	var rules []string
	for _, sub := range []string{holderAdmin, fullAdmin} {
		for _, act := range []string{"get", "post", "delete"} {
			rules = append(rules, authtest.Rule(sub, "holders", act))
		}
		rules = append(rules, authtest.Rule(sub, "aliases", "post"))
	}
	rules = append(rules, authtest.Rule(fullAdmin, "aliases", "delete"))
	am := authtest.NewServer(t, rules...)
	s := newAuthServer(t, am, auth.ClientOptions{})
	org := newOrg()
	holderToken, fullToken := authtest.UserToken("lerian", "holder-admin"), authtest.UserToken("lerian", "full-admin")

	newHolderWithAlias := func(doc string) string {
		var out struct {
			CreateHolder struct{ Holder struct{ ID string } }
		}
		if errs := s.postAs(t, org, fullToken, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
			map[string]any{"in": naturalPersonInput("Ana Souza", doc)}, &out); len(errs) > 0 {
			t.Fatalf("create holder: %+v", errs)
		}
		id := out.CreateHolder.Holder.ID
		if errs := s.postAs(t, org, fullToken, `mutation($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
			map[string]any{"in": minimalAliasInput(id, uuidString(), uuidString())}, nil); len(errs) > 0 {
			t.Fatalf("create alias account: %+v", errs)
		}
		return id
	}
	active := func(holderID string) (holders, aliases int) {
		if err := s.db.Get(&holders, `SELECT count(*) FROM holders WHERE id = $1 AND deleted_at IS NULL`, holderID); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Get(&aliases, `SELECT count(*) FROM alias_accounts WHERE holder_id = $1 AND deleted_at IS NULL`, holderID); err != nil {
			t.Fatal(err)
		}
		return holders, aliases
	}

	for _, mutation := range []string{
		`mutation($id: ID!, $c: Boolean) { softDeleteHolder(input: {id: $id, cascade: $c}) { holder { id } } }`,
		`mutation($id: ID!, $c: Boolean) { hardDeleteHolder(input: {id: $id, cascade: $c}) { id } }`,
	} {
		id := newHolderWithAlias(fmt.Sprintf("CASCADE-%d", len(mutation)))
		wantCode(t, s.postAs(t, org, holderToken, mutation, map[string]any{"id": id, "c": true}, nil), crm.EFORBIDDEN)
		if h, a := active(id); h != 1 || a != 1 {
			t.Fatalf("%s refused, yet %d holders and %d alias accounts are left active, want 1 and 1", mutation, h, a)
		}
		wantCode(t, s.postAs(t, org, holderToken, mutation, map[string]any{"id": id, "c": false}, nil), crm.EHASALIASES)
		if errs := s.postAs(t, org, fullToken, mutation, map[string]any{"id": id, "c": true}, nil); len(errs) > 0 {
			t.Fatalf("%s with both permissions: %+v", mutation, errs)
		}
		if h, a := active(id); h != 0 || a != 0 {
			t.Fatalf("%s: %d holders and %d alias accounts left active, want none", mutation, h, a)
		}
	}
}
