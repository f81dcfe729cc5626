package graph_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Alias accounts through GraphQL: create/get/list with every field, validation, every
// filter of aliasAccounts, both sort orders, related parties, tenancy, and keyset
// pagination over 250 holders and 250 alias accounts.

const aliasFields = `id ledgerId accountId version createdAt updatedAt deletedAt metadata
  holder { id name document }
  bankingDetails { branch account type openingDate closingDate iban countryCode bankId }
  regulatoryFields { participantDocument }
  relatedParties { id document name role startDate endDate }`

const createAliasMutation = `mutation($input: CreateAliasAccountInput!) { createAliasAccount(input: $input) { aliasAccount { ` + aliasFields + ` } } }`

// partyJSON mirrors the RelatedParty GraphQL type.
type partyJSON struct {
	ID        string  `json:"id"`
	Document  string  `json:"document"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	StartDate string  `json:"startDate"`
	EndDate   *string `json:"endDate"`
}

// aliasJSON mirrors the AliasAccount GraphQL type (holder reduced to id, name, document).
type aliasJSON struct {
	ID        string         `json:"id"`
	LedgerID  string         `json:"ledgerId"`
	AccountID string         `json:"accountId"`
	Version   int            `json:"version"`
	CreatedAt string         `json:"createdAt"`
	UpdatedAt string         `json:"updatedAt"`
	DeletedAt *string        `json:"deletedAt"`
	Metadata  map[string]any `json:"metadata"`
	Holder    *struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Document string `json:"document"`
	} `json:"holder"`
	BankingDetails   map[string]any `json:"bankingDetails"`
	RegulatoryFields map[string]any `json:"regulatoryFields"`
	RelatedParties   []partyJSON    `json:"relatedParties"`
}

// uuidString returns a fresh UUIDv7 as a string (ledger ids, account ids, unknown ids).
func uuidString() string { return uuid.Must(uuid.NewV7()).String() }

// aliasInput is a CreateAliasAccountInput with every field set.
func aliasInput(holderID, ledgerID, accountID string) map[string]any {
	return map[string]any{
		"holderId": holderID, "ledgerId": ledgerID, "accountId": accountID,
		"bankingDetails": map[string]any{"branch": "0001", "account": "12345-6", "type": "CACC",
			"openingDate": "2020-01-15", "closingDate": "2030-12-31", "iban": "BR1500000000000010932840814P2",
			"countryCode": "BR", "bankId": "341"},
		"regulatoryFields": map[string]any{"participantDocument": "60.701.190/0001-04"},
		"relatedParties": []any{
			map[string]any{"document": "222.333.444-55", "name": "Bruna Lima", "role": "PRIMARY_HOLDER", "startDate": "2020-01-15"},
			map[string]any{"document": "333.444.555-66", "name": "Caio Prado", "role": "LEGAL_REPRESENTATIVE",
				"startDate": "2021-03-01", "endDate": "2025-03-01"},
		},
		"metadata": map[string]any{"segment": "retail", "tier": 1, "active": true},
	}
}

// minimalAliasInput is a CreateAliasAccountInput with the required fields only.
func minimalAliasInput(holderID, ledgerID, accountID string) map[string]any {
	return map[string]any{"holderId": holderID, "ledgerId": ledgerID, "accountId": accountID}
}

func createAlias(t *testing.T, s *testServer, org string, input map[string]any) aliasJSON {
	t.Helper()
	var out struct {
		CreateAliasAccount struct{ AliasAccount aliasJSON }
	}
	s.mustPost(t, org, createAliasMutation, map[string]any{"input": input}, &out)
	return out.CreateAliasAccount.AliasAccount
}

// readAlias returns aliasAccount(id, includeDeleted), nil when the query answers null.
func readAlias(t *testing.T, s *testServer, org, id string, includeDeleted bool) *aliasJSON {
	t.Helper()
	var out struct{ AliasAccount *aliasJSON }
	s.mustPost(t, org, `query($id: ID!, $inc: Boolean) { aliasAccount(id: $id, includeDeleted: $inc) { `+aliasFields+` } }`,
		map[string]any{"id": id, "inc": includeDeleted}, &out)
	return out.AliasAccount
}

// aliasByLedgerAccount returns aliasAccountByLedgerAccount(accountId), nil for null.
func aliasByLedgerAccount(t *testing.T, s *testServer, org, accountID string) *aliasJSON {
	t.Helper()
	var out struct{ AliasAccountByLedgerAccount *aliasJSON }
	s.mustPost(t, org, `query($a: ID!) { aliasAccountByLedgerAccount(accountId: $a) { `+aliasFields+` } }`,
		map[string]any{"a": accountID}, &out)
	return out.AliasAccountByLedgerAccount
}

type pageInfoJSON struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

type aliasConnJSON struct {
	TotalCount int          `json:"totalCount"`
	PageInfo   pageInfoJSON `json:"pageInfo"`
	Edges      []struct {
		Cursor string    `json:"cursor"`
		Node   aliasJSON `json:"node"`
	} `json:"edges"`
}

const listAliasesQuery = `query($f: AliasAccountFilter, $first: Int, $after: String, $o: SortOrder, $inc: Boolean) {
  aliasAccounts(filter: $f, first: $first, after: $after, orderBy: $o, includeDeleted: $inc) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ` + aliasFields + ` } } } }`

// listAliases runs aliasAccounts with filter (nil for none), at most 100, in order.
func listAliases(t *testing.T, s *testServer, org string, filter map[string]any, order string, includeDeleted bool) aliasConnJSON {
	t.Helper()
	var out struct{ AliasAccounts aliasConnJSON }
	vars := map[string]any{"first": 100, "o": order, "inc": includeDeleted}
	if filter != nil {
		vars["f"] = filter
	}
	s.mustPost(t, org, listAliasesQuery, vars, &out)
	return out.AliasAccounts
}

func (c aliasConnJSON) ids() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.ID
	}
	return out
}

// wantField fails unless e is BAD_USER_INPUT-like and names every one of fields.
func wantField(t *testing.T, e gqlError, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if _, ok := e.Extensions.Fields[f]; !ok {
			t.Fatalf("error does not name field %q: %+v", f, e)
		}
	}
}

// rawRows returns every row of table as row_to_json text.
func rawRows(t *testing.T, s *testServer, table string) []string {
	t.Helper()
	var rows []string
	if err := s.db.Select(&rows, "SELECT row_to_json(t)::text FROM "+table+" t"); err != nil {
		t.Fatal(err)
	}
	return rows
}

// parallelDo runs fn(0..n-1) on workers goroutines and fails the test with the errors.
func parallelDo(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed, first: %v", len(errs), n, errs[0])
	}
}

// createMany creates records 50 to a request (aliased mutations run one after the other)
// and returns their ids in input order. mutation is e.g. "createHolder", payload the
// payload's record field, e.g. "holder".
func createMany(t *testing.T, s *testServer, org, mutation, inputType, payload string, inputs []map[string]any) []string {
	t.Helper()
	const per = 50
	ids := make([]string, 0, len(inputs))
	for start := 0; start < len(inputs); start += per {
		chunk := inputs[start:min(start+per, len(inputs))]
		var b strings.Builder
		vars := make(map[string]any, len(chunk))
		b.WriteString("mutation(")
		for i := range chunk {
			fmt.Fprintf(&b, "$i%d: %s! ", i, inputType)
			vars[fmt.Sprintf("i%d", i)] = chunk[i]
		}
		b.WriteString(") {")
		for i := range chunk {
			fmt.Fprintf(&b, " m%d: %s(input: $i%d) { %s { id } }", i, mutation, i, payload)
		}
		b.WriteString(" }")
		var out map[string]map[string]struct{ ID string }
		s.mustPost(t, org, b.String(), vars, &out)
		for i := range chunk {
			id := out[fmt.Sprintf("m%d", i)][payload].ID
			if id == "" {
				t.Fatalf("%s %d returned no id", mutation, start+i)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// runShared runs each named test as a parallel subtest on one server: a database costs
// about half a second to create, and every test works in organizations of its own.
func runShared(t *testing.T, tests []sharedTest) {
	t.Helper()
	s := newTestServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

type sharedTest struct {
	name string
	fn   func(*testing.T, *testServer)
}

// countIn returns the rows of table that belong to the given organizations.
func countIn(t *testing.T, s *testServer, table string, orgs ...string) int {
	t.Helper()
	var n int
	if err := s.db.Get(&n, "SELECT count(*) FROM "+table+" WHERE organization_id = ANY($1::uuid[])", pq.Array(orgs)); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAliasAccounts: alias accounts with every field, validation, every filter, related
// parties and tenancy.
func TestAliasAccounts(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"CreateAndRead", testAliasAccountCreateAndRead},
		{"InvalidInput", testAliasAccountInvalidInput},
		{"Filters", testAliasAccountFilters},
		{"RelatedParties", testRelatedParties},
		{"Tenancy", testAliasAccountTenancy},
	})
}

// TestListing: every holders filter, and keyset pagination of holders and alias accounts.
func TestListing(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"HolderFilters", testHoldersListFilters},
		{"Pagination", testPagination},
	})
}

// testAliasAccountCreateAndRead round-trips an alias account with every field through
// createAliasAccount, aliasAccount, aliasAccountByLedgerAccount, aliasAccounts and
// Holder.aliasAccounts, and checks its personal values are not stored in plain text.
func testAliasAccountCreateAndRead(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	ledger, account := uuidString(), uuidString()
	in := aliasInput(h.ID, ledger, account)

	a := createAlias(t, s, org, in)
	if a.ID == "" || a.Version != 1 || a.CreatedAt == "" || a.CreatedAt != a.UpdatedAt || a.DeletedAt != nil {
		t.Fatalf("server fields: %+v", a)
	}
	if a.LedgerID != ledger || a.AccountID != account {
		t.Fatalf("ledger account = %s/%s, want %s/%s", a.LedgerID, a.AccountID, ledger, account)
	}
	if a.Holder == nil || a.Holder.ID != h.ID || a.Holder.Name != "Ana Souza" || a.Holder.Document != "123.456.789-09" {
		t.Fatalf("holder = %+v", a.Holder)
	}
	wantSubset(t, "bankingDetails", in["bankingDetails"], a.BankingDetails)
	wantSubset(t, "regulatoryFields", in["regulatoryFields"], a.RegulatoryFields)
	wantSubset(t, "metadata", in["metadata"], a.Metadata)
	if len(a.RelatedParties) != 2 {
		t.Fatalf("relatedParties = %+v", a.RelatedParties)
	}
	for i, p := range a.RelatedParties {
		want := in["relatedParties"].([]any)[i].(map[string]any)
		if _, err := uuid.Parse(p.ID); err != nil {
			t.Fatalf("related party %d has id %q", i, p.ID)
		}
		if p.Document != want["document"] || p.Name != want["name"] || p.Role != want["role"] || p.StartDate != want["startDate"] {
			t.Fatalf("related party %d = %+v, want %v", i, p, want)
		}
		if end, ok := want["endDate"]; ok != (p.EndDate != nil) || (ok && *p.EndDate != end) {
			t.Fatalf("related party %d endDate = %v, want %v", i, p.EndDate, end)
		}
	}
	if a.RelatedParties[0].ID == a.RelatedParties[1].ID {
		t.Fatalf("related parties share an id: %+v", a.RelatedParties)
	}

	if got := readAlias(t, s, org, a.ID, false); got == nil || !reflect.DeepEqual(*got, a) {
		t.Fatalf("aliasAccount(id) differs from create:\n got %+v\nwant %+v", got, a)
	}
	if got := aliasByLedgerAccount(t, s, org, account); got == nil || !reflect.DeepEqual(*got, a) {
		t.Fatalf("aliasAccountByLedgerAccount differs from create:\n got %+v\nwant %+v", got, a)
	}
	c := listAliases(t, s, org, map[string]any{"accountId": account}, "CREATED_AT_DESC", false)
	if c.TotalCount != 1 || len(c.Edges) != 1 || !reflect.DeepEqual(c.Edges[0].Node, a) {
		t.Fatalf("aliasAccounts(accountId) = %+v", c)
	}
	var viaHolder struct {
		Holder struct {
			AliasAccounts []struct{ ID, AccountID string }
		}
	}
	s.mustPost(t, org, `query($id: ID!) { holder(id: $id) { aliasAccounts { id accountId } } }`, map[string]any{"id": h.ID}, &viaHolder)
	if len(viaHolder.Holder.AliasAccounts) != 1 || viaHolder.Holder.AliasAccounts[0].ID != a.ID {
		t.Fatalf("holder.aliasAccounts = %+v", viaHolder.Holder.AliasAccounts)
	}

	if got := aliasByLedgerAccount(t, s, org, uuidString()); got != nil {
		t.Fatalf("unknown ledger account resolves to %+v", got)
	}
	if got := readAlias(t, s, org, uuidString(), true); got != nil {
		t.Fatalf("unknown alias id resolves to %+v", got)
	}

	rows := rawRows(t, s, "alias_accounts")
	for _, secret := range []string{"12345-6", "123456", "BR1500000000000010932840814P2", "60.701.190/0001-04", "60701190000104",
		"Bruna Lima", "222.333.444-55", "22233344455", "Caio Prado", "333.444.555-66"} {
		for _, r := range rows {
			if strings.Contains(r, secret) {
				t.Fatalf("alias_accounts row holds %q in plain text: %s", secret, r)
			}
		}
	}
}

// testAliasAccountInvalidInput: bad input is BAD_USER_INPUT naming the fields, an
// unknown or foreign holder is NOT_FOUND, a linked account is ACCOUNT_ALREADY_LINKED,
// and nothing is written by a refused mutation.
func testAliasAccountInvalidInput(t *testing.T, s *testServer) {
	org, other := newOrg(), newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	foreign := createHolder(t, s, other, naturalPersonInput("Bea Souza", "999.888.777-66"))
	ledger := uuidString()
	with := func(mutate func(in map[string]any)) map[string]any {
		in := aliasInput(h.ID, ledger, uuidString())
		mutate(in)
		return in
	}
	banking := func(in map[string]any) map[string]any { return in["bankingDetails"].(map[string]any) }
	party := func(in map[string]any, i int) map[string]any { return in["relatedParties"].([]any)[i].(map[string]any) }

	cases := []struct {
		name   string
		input  map[string]any
		fields []string
	}{
		{"closingDate before openingDate", with(func(in map[string]any) { banking(in)["closingDate"] = "2019-12-31" }), []string{"bankingDetails.closingDate"}},
		{"bad countryCode", with(func(in map[string]any) { banking(in)["countryCode"] = "XX" }), []string{"bankingDetails.countryCode"}},
		{"iban of 35 characters", with(func(in map[string]any) { banking(in)["iban"] = strings.Repeat("A", 35) }), []string{"bankingDetails.iban"}},
		{"bad openingDate", with(func(in map[string]any) { banking(in)["openingDate"] = "2020-02-30" }), []string{"bankingDetails.openingDate"}},
		{"related party endDate before startDate", with(func(in map[string]any) { party(in, 1)["endDate"] = "2021-02-28" }), []string{"relatedParties[1].endDate"}},
		{"related party without name", with(func(in map[string]any) { party(in, 0)["name"] = "" }), []string{"relatedParties[0].name"}},
		{"related party with unknown role", with(func(in map[string]any) { party(in, 0)["role"] = "BOSS" }), []string{"relatedParties[0].role"}},
		{"participantDocument of 101 characters", with(func(in map[string]any) {
			in["regulatoryFields"] = map[string]any{"participantDocument": strings.Repeat("1", 101)}
		}), []string{"regulatoryFields.participantDocument"}},
		{"nested metadata", with(func(in map[string]any) { in["metadata"] = map[string]any{"x": []any{1}} }), []string{"metadata.x"}},
		{"several at once", with(func(in map[string]any) {
			banking(in)["closingDate"] = "2019-12-31"
			banking(in)["countryCode"] = "ZZ"
			party(in, 1)["endDate"] = "2000-01-01"
		}), []string{"bankingDetails.closingDate", "bankingDetails.countryCode", "relatedParties[1].endDate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": tc.input}, nil), crm.EINVALID)
			wantField(t, e, tc.fields...)
			for _, secret := range []string{"Bruna Lima", "2019-12-31", "BOSS"} {
				if strings.Contains(e.Message, secret) || strings.Contains(fmt.Sprint(e.Extensions.Fields), secret) {
					t.Fatalf("error echoes input value %q: %+v", secret, e)
				}
			}
		})
	}

	t.Run("unknown holder", func(t *testing.T) {
		wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": aliasInput(uuidString(), ledger, uuidString())}, nil), crm.ENOTFOUND)
	})
	t.Run("holder of another organization", func(t *testing.T) {
		wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": aliasInput(foreign.ID, ledger, uuidString())}, nil), crm.ENOTFOUND)
	})
	t.Run("malformed ids", func(t *testing.T) {
		e := wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": aliasInput(h.ID, "not-a-uuid", uuidString())}, nil), crm.EINVALID)
		wantField(t, e, "ledgerId")
	})
	if n := countIn(t, s, "alias_accounts", org, other); n != 0 {
		t.Fatalf("%d alias accounts written by refused mutations", n)
	}

	t.Run("account already linked", func(t *testing.T) {
		account := uuidString()
		createAlias(t, s, org, minimalAliasInput(h.ID, ledger, account))
		h2 := createHolder(t, s, org, legalPersonInput("ACME", "12.345.678/0001-95"))
		wantCode(t, s.post(t, org, createAliasMutation, map[string]any{"input": minimalAliasInput(h2.ID, uuidString(), account)}, nil), crm.EACCOUNTLINKED)
		// The same ledger account in another organization is another account.
		createAlias(t, s, other, minimalAliasInput(foreign.ID, ledger, account))
		if got := aliasByLedgerAccount(t, s, org, account); got == nil || got.Holder.ID != h.ID {
			t.Fatalf("organization's own link changed: %+v", got)
		}
	})
	if n := countIn(t, s, "alias_accounts", org, other); n != 2 {
		t.Fatalf("alias accounts = %d, want 2", n)
	}
}

// testAliasAccountFilters exercises every filter of aliasAccounts, alone and combined,
// both sort orders and totalCount.
func testAliasAccountFilters(t *testing.T, s *testServer) {
	org := newOrg()
	h1 := createHolder(t, s, org, naturalPersonInput("Ana Souza", "111.222.333-44"))
	h2 := createHolder(t, s, org, legalPersonInput("ACME Ltda", "55.666.777/0001-88"))
	l1, l2 := uuidString(), uuidString()

	a1 := createAlias(t, s, org, aliasInput(h1.ID, l1, uuidString())) // branch 0001, PRIMARY 222…, LEGAL_REP 333…
	a2in := aliasInput(h1.ID, l2, uuidString())
	a2in["bankingDetails"] = map[string]any{"branch": "0002", "account": "99.999-0", "iban": "DE89 3704 0044 0532 0130 00", "countryCode": "DE"}
	a2in["regulatoryFields"] = map[string]any{"participantDocument": "11.111.111/0001-11"}
	a2in["relatedParties"] = []any{map[string]any{"document": "333.444.555-66", "name": "Caio Prado", "role": "RESPONSIBLE_PARTY", "startDate": "2022-01-01"}}
	a2in["metadata"] = map[string]any{"segment": "corporate"}
	a2 := createAlias(t, s, org, a2in)
	a3in := minimalAliasInput(h2.ID, l1, uuidString())
	a3in["relatedParties"] = []any{map[string]any{"document": "444.555.666-77", "name": "Dora Reis", "role": "LEGAL_REPRESENTATIVE", "startDate": "2022-01-01"}}
	a3in["metadata"] = map[string]any{"segment": "retail", "tier": 2}
	a3 := createAlias(t, s, org, a3in)

	// Noise in another organization with the very same values must never match.
	other := newOrg()
	oh := createHolder(t, s, other, naturalPersonInput("Ana Souza", "111.222.333-44"))
	createAlias(t, s, other, aliasInput(oh.ID, l1, uuidString()))

	cases := []struct {
		name   string
		filter map[string]any
		want   []aliasJSON // in creation order
	}{
		{"none", nil, []aliasJSON{a1, a2, a3}},
		{"holderId", map[string]any{"holderId": h1.ID}, []aliasJSON{a1, a2}},
		{"ledgerId", map[string]any{"ledgerId": l1}, []aliasJSON{a1, a3}},
		{"accountId", map[string]any{"accountId": a2.AccountID}, []aliasJSON{a2}},
		{"holderDocument with other punctuation", map[string]any{"holderDocument": "111 222 333 44"}, []aliasJSON{a1, a2}},
		{"holderDocument of a legal person", map[string]any{"holderDocument": "55666777000188"}, []aliasJSON{a3}},
		{"bankAccount normalised", map[string]any{"bankAccount": "123456"}, []aliasJSON{a1}},
		{"bankAccount as sent", map[string]any{"bankAccount": "99.999-0"}, []aliasJSON{a2}},
		{"iban with spaces, stored without", map[string]any{"iban": "BR15 0000 0000 0000 1093 2840 814P 2"}, []aliasJSON{a1}},
		{"iban without spaces, stored with", map[string]any{"iban": "DE89370400440532013000"}, []aliasJSON{a2}},
		{"iban lower case", map[string]any{"iban": "de89370400440532013000"}, []aliasJSON{a2}},
		{"branch", map[string]any{"branch": "0001"}, []aliasJSON{a1}},
		{"branch is exact", map[string]any{"branch": "1"}, nil},
		{"participantDocument", map[string]any{"participantDocument": "60701190000104"}, []aliasJSON{a1}},
		{"relatedPartyDocument", map[string]any{"relatedPartyDocument": "33344455566"}, []aliasJSON{a1, a2}},
		{"relatedPartyDocument only once per account", map[string]any{"relatedPartyDocument": "222-333-444/55"}, []aliasJSON{a1}},
		{"relatedPartyRole", map[string]any{"relatedPartyRole": "LEGAL_REPRESENTATIVE"}, []aliasJSON{a1, a3}},
		{"relatedPartyRole RESPONSIBLE_PARTY", map[string]any{"relatedPartyRole": "RESPONSIBLE_PARTY"}, []aliasJSON{a2}},
		{"relatedPartyDocument and role of the same party", map[string]any{"relatedPartyDocument": "333.444.555-66", "relatedPartyRole": "RESPONSIBLE_PARTY"}, []aliasJSON{a2}},
		{"relatedPartyDocument and role of the same party (a1)", map[string]any{"relatedPartyDocument": "333.444.555-66", "relatedPartyRole": "LEGAL_REPRESENTATIVE"}, []aliasJSON{a1}},
		// a1 has 222… (as PRIMARY_HOLDER) and a LEGAL_REPRESENTATIVE, but not the same party.
		{"relatedPartyDocument and role of different parties", map[string]any{"relatedPartyDocument": "222.333.444-55", "relatedPartyRole": "LEGAL_REPRESENTATIVE"}, nil},
		{"metadata one key", map[string]any{"metadata": map[string]any{"segment": "retail"}}, []aliasJSON{a1, a3}},
		{"metadata two keys", map[string]any{"metadata": map[string]any{"segment": "retail", "tier": 2}}, []aliasJSON{a3}},
		{"metadata boolean", map[string]any{"metadata": map[string]any{"active": true}}, []aliasJSON{a1}},
		{"metadata no match", map[string]any{"metadata": map[string]any{"segment": "none"}}, nil},
		{"combined holderId and ledgerId", map[string]any{"holderId": h1.ID, "ledgerId": l1}, []aliasJSON{a1}},
		{"combined no match", map[string]any{"holderId": h2.ID, "branch": "0001"}, nil},
		{"unknown bankAccount", map[string]any{"bankAccount": "000"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]string, len(tc.want))
			for i, a := range tc.want {
				want[i] = a.ID
			}
			asc := listAliases(t, s, org, tc.filter, "CREATED_AT_ASC", false)
			if got := asc.ids(); !slices.Equal(got, want) || asc.TotalCount != len(want) {
				t.Fatalf("CREATED_AT_ASC: got %v (totalCount %d), want %v", got, asc.TotalCount, want)
			}
			desc := listAliases(t, s, org, tc.filter, "CREATED_AT_DESC", false)
			slices.Reverse(want)
			if got := desc.ids(); !slices.Equal(got, want) || desc.TotalCount != len(want) {
				t.Fatalf("CREATED_AT_DESC: got %v (totalCount %d), want %v", got, desc.TotalCount, want)
			}
			for _, e := range asc.Edges {
				if e.Node.Holder == nil || (e.Node.Holder.ID != h1.ID && e.Node.Holder.ID != h2.ID) {
					t.Fatalf("node %s has holder %+v", e.Node.ID, e.Node.Holder)
				}
			}
		})
	}

	t.Run("nodes are complete", func(t *testing.T) {
		c := listAliases(t, s, org, nil, "CREATED_AT_ASC", false)
		for i, want := range []aliasJSON{a1, a2, a3} {
			if !reflect.DeepEqual(c.Edges[i].Node, want) {
				t.Fatalf("node %d:\n got %+v\nwant %+v", i, c.Edges[i].Node, want)
			}
		}
	})
	t.Run("default order is newest first", func(t *testing.T) {
		var out struct{ AliasAccounts aliasConnJSON }
		s.mustPost(t, org, `{ aliasAccounts { totalCount edges { node { id } } } }`, nil, &out)
		if got := out.AliasAccounts.ids(); !slices.Equal(got, []string{a3.ID, a2.ID, a1.ID}) {
			t.Fatalf("default order: %v", got)
		}
	})
	t.Run("unknown role", func(t *testing.T) {
		wantCode(t, s.post(t, org, listAliasesQuery, map[string]any{"f": map[string]any{"relatedPartyRole": "BOSS"}}, nil), crm.EINVALID)
	})
	t.Run("malformed holderId", func(t *testing.T) {
		wantCode(t, s.post(t, org, listAliasesQuery, map[string]any{"f": map[string]any{"holderId": "42"}}, nil), crm.EINVALID)
	})
}

const addPartyMutation = `mutation($input: AddRelatedPartyInput!) { addRelatedParty(input: $input) {
  relatedParty { id document name role startDate endDate } aliasAccount { ` + aliasFields + ` } } }`

const removePartyMutation = `mutation($input: RemoveRelatedPartyInput!) { removeRelatedParty(input: $input) { aliasAccount { ` + aliasFields + ` } } }`

// testRelatedParties: addRelatedParty returns the party with its id and the account's
// next version, removeRelatedParty removes it, both keep the search indexes right.
func testRelatedParties(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	a := createAlias(t, s, org, minimalAliasInput(h.ID, uuidString(), uuidString()))
	if len(a.RelatedParties) != 0 || a.Version != 1 {
		t.Fatalf("new alias account: %+v", a)
	}
	type addOut struct {
		AddRelatedParty struct {
			RelatedParty partyJSON
			AliasAccount aliasJSON
		}
	}
	dora := map[string]any{"document": "444.555.666-77", "name": "Dora Reis", "role": "RESPONSIBLE_PARTY", "startDate": "2022-01-01", "endDate": "2022-12-31"}
	var add1 addOut
	s.mustPost(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedParty": dora}}, &add1)
	p1 := add1.AddRelatedParty.RelatedParty
	if _, err := uuid.Parse(p1.ID); err != nil || p1.Document != "444.555.666-77" || p1.Name != "Dora Reis" ||
		p1.Role != "RESPONSIBLE_PARTY" || p1.StartDate != "2022-01-01" || p1.EndDate == nil || *p1.EndDate != "2022-12-31" {
		t.Fatalf("added party = %+v", p1)
	}
	if got := add1.AddRelatedParty.AliasAccount; got.Version != 2 || len(got.RelatedParties) != 1 || !reflect.DeepEqual(got.RelatedParties[0], p1) {
		t.Fatalf("account after add = %+v", got)
	}

	eli := map[string]any{"document": "555.666.777-88", "name": "Eli Dias", "role": "PRIMARY_HOLDER", "startDate": "2023-05-05"}
	var add2 addOut
	s.mustPost(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedParty": eli, "expectedVersion": 2}}, &add2)
	p2 := add2.AddRelatedParty.RelatedParty
	if got := add2.AddRelatedParty.AliasAccount; got.Version != 3 || len(got.RelatedParties) != 2 || !reflect.DeepEqual(got.RelatedParties[1], p2) || p2.ID == p1.ID || p2.EndDate != nil {
		t.Fatalf("account after second add = %+v", got)
	}

	t.Run("stale expectedVersion", func(t *testing.T) {
		wantCode(t, s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedParty": eli, "expectedVersion": 2}}, nil), crm.EVERSIONCONFLICT)
		wantCode(t, s.post(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedPartyId": p1.ID, "expectedVersion": 1}}, nil), crm.EVERSIONCONFLICT)
	})
	t.Run("endDate before startDate", func(t *testing.T) {
		bad := map[string]any{"document": "1", "name": "X", "role": "PRIMARY_HOLDER", "startDate": "2023-05-05", "endDate": "2023-05-04"}
		e := wantCode(t, s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedParty": bad}}, nil), crm.EINVALID)
		wantField(t, e, "relatedParty.endDate")
	})
	t.Run("unknown alias account", func(t *testing.T) {
		wantCode(t, s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": uuidString(), "relatedParty": eli}}, nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": uuidString(), "relatedPartyId": p1.ID}}, nil), crm.ENOTFOUND)
	})
	if got := readAlias(t, s, org, a.ID, false); got.Version != 3 || len(got.RelatedParties) != 2 {
		t.Fatalf("refused mutations changed the account: %+v", got)
	}

	found := func(filter map[string]any) bool {
		t.Helper()
		c := listAliases(t, s, org, filter, "CREATED_AT_ASC", false)
		return c.TotalCount == 1 && len(c.Edges) == 1 && c.Edges[0].Node.ID == a.ID
	}
	for _, f := range []map[string]any{
		{"relatedPartyDocument": "44455566677"},
		{"relatedPartyRole": "RESPONSIBLE_PARTY"},
		{"relatedPartyDocument": "444 555 666 77", "relatedPartyRole": "RESPONSIBLE_PARTY"},
		{"relatedPartyDocument": "55566677788", "relatedPartyRole": "PRIMARY_HOLDER"},
	} {
		if !found(f) {
			t.Fatalf("not found by %v after add", f)
		}
	}
	if found(map[string]any{"relatedPartyDocument": "44455566677", "relatedPartyRole": "PRIMARY_HOLDER"}) {
		t.Fatal("found by a document under a role it does not have")
	}

	var rm struct {
		RemoveRelatedParty struct{ AliasAccount aliasJSON }
	}
	s.mustPost(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedPartyId": p1.ID, "expectedVersion": 3}}, &rm)
	if got := rm.RemoveRelatedParty.AliasAccount; got.Version != 4 || len(got.RelatedParties) != 1 || !reflect.DeepEqual(got.RelatedParties[0], p2) {
		t.Fatalf("account after remove = %+v", got)
	}
	if got := readAlias(t, s, org, a.ID, false); got.Version != 4 || len(got.RelatedParties) != 1 || !reflect.DeepEqual(got.RelatedParties[0], p2) {
		t.Fatalf("account read after remove = %+v", got)
	}
	for _, f := range []map[string]any{
		{"relatedPartyDocument": "44455566677"},
		{"relatedPartyRole": "RESPONSIBLE_PARTY"},
		{"relatedPartyDocument": "44455566677", "relatedPartyRole": "RESPONSIBLE_PARTY"},
	} {
		if found(f) {
			t.Fatalf("still found by %v after removal", f)
		}
	}
	if !found(map[string]any{"relatedPartyDocument": "55566677788"}) || !found(map[string]any{"relatedPartyRole": "PRIMARY_HOLDER"}) {
		t.Fatal("the remaining party is no longer searchable")
	}

	t.Run("removing an absent party", func(t *testing.T) {
		wantCode(t, s.post(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedPartyId": p1.ID}}, nil), crm.ENOTFOUND)
		wantCode(t, s.post(t, org, removePartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID, "relatedPartyId": uuidString()}}, nil), crm.ENOTFOUND)
		if got := readAlias(t, s, org, a.ID, false); got.Version != 4 {
			t.Fatalf("version = %d after refused removals, want 4", got.Version)
		}
	})
}

// testAliasAccountTenancy: an alias account of one organization is invisible from
// another and cannot be changed from there.
func testAliasAccountTenancy(t *testing.T, s *testServer) {
	orgA, orgB := newOrg(), newOrg()
	h := createHolder(t, s, orgA, naturalPersonInput("Ana Souza", "123.456.789-09"))
	a := createAlias(t, s, orgA, aliasInput(h.ID, uuidString(), uuidString()))
	createHolder(t, s, orgB, naturalPersonInput("Bea Lima", "321.654.987-00"))

	if got := readAlias(t, s, orgB, a.ID, false); got != nil {
		t.Fatalf("B reads A's alias account: %+v", got)
	}
	if got := readAlias(t, s, orgB, a.ID, true); got != nil {
		t.Fatalf("B reads A's alias account with includeDeleted: %+v", got)
	}
	if got := aliasByLedgerAccount(t, s, orgB, a.AccountID); got != nil {
		t.Fatalf("B resolves A's ledger account: %+v", got)
	}
	for _, f := range []map[string]any{nil, {"accountId": a.AccountID}, {"holderId": h.ID}, {"ledgerId": a.LedgerID},
		{"holderDocument": "12345678909"}, {"bankAccount": "12345-6"}, {"relatedPartyDocument": "22233344455"}, {"branch": "0001"}} {
		for _, inc := range []bool{false, true} {
			if c := listAliases(t, s, orgB, f, "CREATED_AT_ASC", inc); c.TotalCount != 0 || len(c.Edges) != 0 {
				t.Fatalf("B lists A's alias account with filter %v: %+v", f, c)
			}
		}
	}

	mutations := []struct {
		name, query string
		input       map[string]any
	}{
		{"updateAliasAccount", `mutation($input: UpdateAliasAccountInput!) { updateAliasAccount(input: $input) { aliasAccount { id } } }`,
			map[string]any{"id": a.ID, "metadata": map[string]any{"hacked": true}}},
		{"softDeleteAliasAccount", `mutation($input: SoftDeleteAliasAccountInput!) { softDeleteAliasAccount(input: $input) { aliasAccount { id } } }`,
			map[string]any{"id": a.ID}},
		{"restoreAliasAccount", `mutation($input: RestoreAliasAccountInput!) { restoreAliasAccount(input: $input) { aliasAccount { id } } }`,
			map[string]any{"id": a.ID}},
		{"addRelatedParty", `mutation($input: AddRelatedPartyInput!) { addRelatedParty(input: $input) { relatedParty { id } } }`,
			map[string]any{"aliasAccountId": a.ID, "relatedParty": map[string]any{"document": "1", "name": "X", "role": "PRIMARY_HOLDER", "startDate": "2024-01-01"}}},
		{"removeRelatedParty", `mutation($input: RemoveRelatedPartyInput!) { removeRelatedParty(input: $input) { aliasAccount { id } } }`,
			map[string]any{"aliasAccountId": a.ID, "relatedPartyId": a.RelatedParties[0].ID}},
		{"hardDeleteAliasAccount", `mutation($input: HardDeleteAliasAccountInput!) { hardDeleteAliasAccount(input: $input) { id } }`,
			map[string]any{"id": a.ID}},
		{"createAliasAccount under A's holder", createAliasMutation, minimalAliasInput(h.ID, uuidString(), uuidString())},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			wantCode(t, s.post(t, orgB, m.query, map[string]any{"input": m.input}, nil), crm.ENOTFOUND)
		})
	}
	if got := readAlias(t, s, orgA, a.ID, false); got == nil || !reflect.DeepEqual(*got, a) {
		t.Fatalf("A's alias account changed by B:\n got %+v\nwant %+v", got, a)
	}
	if n := countIn(t, s, "alias_accounts", orgA, orgB); n != 1 {
		t.Fatalf("alias accounts = %d, want 1", n)
	}
}

type holderConnJSON struct {
	TotalCount int          `json:"totalCount"`
	PageInfo   pageInfoJSON `json:"pageInfo"`
	Edges      []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			ID        string `json:"id"`
			CreatedAt string `json:"createdAt"`
		} `json:"node"`
	} `json:"edges"`
}

// testHoldersListFilters covers every holders filter (type, externalId, document,
// metadata, createdFrom/createdTo) in both sort orders with totalCount.
func testHoldersListFilters(t *testing.T, s *testServer) {
	org := newOrg()
	h1 := createHolder(t, s, org, naturalPersonInput("Ana Souza", "111.222.333-44"))   // ext-111.222.333-44, segment retail
	h2 := createHolder(t, s, org, legalPersonInput("ACME Ltda", "55.666.777/0001-88")) // tier gold
	in3 := naturalPersonInput("Caio Prado", "999.888.777-66")
	in3["metadata"] = map[string]any{"segment": "private", "vip": true}
	h3 := createHolder(t, s, org, in3)
	other := newOrg()
	createHolder(t, s, other, naturalPersonInput("Ana Souza", "111.222.333-44"))

	query := `query($f: HolderFilter, $o: SortOrder) { holders(filter: $f, orderBy: $o, first: 100) {
	  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id createdAt } } } }`
	cases := []struct {
		name   string
		filter map[string]any
		want   []holderJSON
	}{
		{"none", nil, []holderJSON{h1, h2, h3}},
		{"type NATURAL_PERSON", map[string]any{"type": "NATURAL_PERSON"}, []holderJSON{h1, h3}},
		{"type LEGAL_PERSON", map[string]any{"type": "LEGAL_PERSON"}, []holderJSON{h2}},
		{"externalId", map[string]any{"externalId": "ext-999.888.777-66"}, []holderJSON{h3}},
		{"externalId is exact", map[string]any{"externalId": "ext-99988877766"}, nil},
		{"document normalised", map[string]any{"document": "11122233344"}, []holderJSON{h1}},
		{"metadata", map[string]any{"metadata": map[string]any{"segment": "retail"}}, []holderJSON{h1}},
		{"metadata two keys", map[string]any{"metadata": map[string]any{"segment": "private", "vip": true}}, []holderJSON{h3}},
		{"metadata boolean", map[string]any{"metadata": map[string]any{"vip": true}}, []holderJSON{h1, h3}},
		{"createdFrom is inclusive", map[string]any{"createdFrom": h2.CreatedAt}, []holderJSON{h2, h3}},
		{"createdTo is exclusive", map[string]any{"createdTo": h2.CreatedAt}, []holderJSON{h1}},
		{"created range", map[string]any{"createdFrom": h1.CreatedAt, "createdTo": h3.CreatedAt}, []holderJSON{h1, h2}},
		{"combined", map[string]any{"type": "NATURAL_PERSON", "metadata": map[string]any{"vip": true}, "createdFrom": h2.CreatedAt}, []holderJSON{h3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]string, len(tc.want))
			for i, h := range tc.want {
				want[i] = h.ID
			}
			for _, order := range []string{"CREATED_AT_ASC", "CREATED_AT_DESC"} {
				var out struct{ Holders holderConnJSON }
				vars := map[string]any{"o": order}
				if tc.filter != nil {
					vars["f"] = tc.filter
				}
				s.mustPost(t, org, query, vars, &out)
				got := make([]string, len(out.Holders.Edges))
				for i, e := range out.Holders.Edges {
					got[i] = e.Node.ID
				}
				if order == "CREATED_AT_DESC" {
					slices.Reverse(got)
				}
				if !slices.Equal(got, want) || out.Holders.TotalCount != len(want) || out.Holders.PageInfo.HasNextPage {
					t.Fatalf("%s: got %v (totalCount %d, %+v), want %v", order, got, out.Holders.TotalCount, out.Holders.PageInfo, want)
				}
			}
		})
	}
	t.Run("bad createdFrom", func(t *testing.T) {
		wantCode(t, s.post(t, org, query, map[string]any{"f": map[string]any{"createdFrom": "yesterday"}}, nil), crm.EINVALID)
	})
}

// testPagination walks 250 holders and 250 alias accounts with first: 100 in both
// orders: no gaps, no repeats, hasNextPage true, true, false.
func testPagination(t *testing.T, s *testServer) {

	t.Run("holders", func(t *testing.T) {
		org := newOrg()
		inputs := make([]map[string]any, 250)
		for i := range inputs {
			inputs[i] = map[string]any{"type": "NATURAL_PERSON", "name": fmt.Sprintf("Holder %d", i), "document": fmt.Sprintf("PG-%03d", i)}
		}
		ids := createMany(t, s, org, "createHolder", "CreateHolderInput", "holder", inputs)
		sort.Strings(ids) // UUIDv7: id order is creation order
		query := `query($after: String, $o: SortOrder) { holders(first: 100, after: $after, orderBy: $o) {
		  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id createdAt } } } }`
		for _, order := range []string{"CREATED_AT_ASC", "CREATED_AT_DESC"} {
			t.Run(order, func(t *testing.T) {
				var walked []string
				var after any
				for page := 0; ; page++ {
					var out struct{ Holders holderConnJSON }
					s.mustPost(t, org, query, map[string]any{"after": after, "o": order}, &out)
					c := out.Holders
					wantLen, wantNext := []int{100, 100, 50}[page], page < 2
					if len(c.Edges) != wantLen || c.PageInfo.HasNextPage != wantNext || c.PageInfo.HasPreviousPage != (page > 0) || c.TotalCount != 250 {
						t.Fatalf("page %d: %d edges, pageInfo %+v, totalCount %d", page, len(c.Edges), c.PageInfo, c.TotalCount)
					}
					if *c.PageInfo.StartCursor != c.Edges[0].Cursor || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor {
						t.Fatalf("page %d: start/end cursors %+v do not match the edges", page, c.PageInfo)
					}
					for _, e := range c.Edges {
						walked = append(walked, e.Node.ID)
					}
					if !c.PageInfo.HasNextPage {
						break
					}
					after = *c.PageInfo.EndCursor
				}
				want := slices.Clone(ids)
				if order == "CREATED_AT_DESC" {
					slices.Reverse(want)
				}
				if !slices.Equal(walked, want) {
					t.Fatalf("walk has gaps, repeats or a wrong order (%d ids)", len(walked))
				}
			})
		}
		t.Run("first out of range", func(t *testing.T) {
			for _, first := range []int{101, 0, -1} {
				e := wantCode(t, s.post(t, org, `query($n: Int) { holders(first: $n) { totalCount } }`, map[string]any{"n": first}, nil), crm.EINVALID)
				wantField(t, e, "first")
			}
			e := wantCode(t, s.post(t, org, `{ holders(first: 10, after: "not a cursor!") { totalCount } }`, nil, nil), crm.EINVALID)
			wantField(t, e, "after")
		})
		t.Run("past the end", func(t *testing.T) {
			var out struct{ Holders holderConnJSON }
			s.mustPost(t, org, `query($a: String) { holders(first: 100, after: $a, orderBy: CREATED_AT_ASC) {
			  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } } }`,
				map[string]any{"a": crm.Cursor(uuid.MustParse(ids[len(ids)-1]))}, &out)
			if len(out.Holders.Edges) != 0 || out.Holders.PageInfo.HasNextPage || out.Holders.PageInfo.StartCursor != nil || out.Holders.PageInfo.EndCursor != nil {
				t.Fatalf("page after the last holder: %+v", out.Holders)
			}
		})
	})

	t.Run("aliasAccounts", func(t *testing.T) {
		org := newOrg()
		holders := make([]holderJSON, 5)
		for i := range holders {
			holders[i] = createHolder(t, s, org, map[string]any{"type": "LEGAL_PERSON", "name": fmt.Sprintf("Company %d", i), "document": fmt.Sprintf("CO-%d", i)})
		}
		ledgers := []string{uuidString(), uuidString()}
		inputs := make([]map[string]any, 250)
		for i := range inputs {
			inputs[i] = minimalAliasInput(holders[i%5].ID, ledgers[i%2], uuidString())
		}
		ids := createMany(t, s, org, "createAliasAccount", "CreateAliasAccountInput", "aliasAccount", inputs)
		var onLedger0 []string
		for i, id := range ids {
			if i%2 == 0 {
				onLedger0 = append(onLedger0, id)
			}
		}
		sort.Strings(ids)
		sort.Strings(onLedger0)

		walk := func(t *testing.T, filter map[string]any, order string, want []string, pages []int) {
			t.Helper()
			var walked []string
			var after any
			for page := 0; ; page++ {
				var out struct{ AliasAccounts aliasConnJSON }
				vars := map[string]any{"first": 100, "after": after, "o": order, "inc": false}
				if filter != nil {
					vars["f"] = filter
				}
				s.mustPost(t, org, `query($f: AliasAccountFilter, $first: Int, $after: String, $o: SortOrder, $inc: Boolean) {
				  aliasAccounts(filter: $f, first: $first, after: $after, orderBy: $o, includeDeleted: $inc) {
				    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id holder { id } } } } }`, vars, &out)
				c := out.AliasAccounts
				if page >= len(pages) || len(c.Edges) != pages[page] || c.PageInfo.HasNextPage != (page < len(pages)-1) ||
					c.PageInfo.HasPreviousPage != (page > 0) || c.TotalCount != len(want) {
					t.Fatalf("page %d: %d edges, pageInfo %+v, totalCount %d; want pages %v", page, len(c.Edges), c.PageInfo, c.TotalCount, pages)
				}
				for _, e := range c.Edges {
					walked = append(walked, e.Node.ID)
					if e.Node.Holder == nil {
						t.Fatalf("node %s without holder", e.Node.ID)
					}
				}
				if !c.PageInfo.HasNextPage {
					break
				}
				after = *c.PageInfo.EndCursor
			}
			w := slices.Clone(want)
			if order == "CREATED_AT_DESC" {
				slices.Reverse(w)
			}
			if !slices.Equal(walked, w) {
				t.Fatalf("walk has gaps, repeats or a wrong order (%d ids, want %d)", len(walked), len(w))
			}
		}
		for _, order := range []string{"CREATED_AT_ASC", "CREATED_AT_DESC"} {
			t.Run(order, func(t *testing.T) {
				walk(t, nil, order, ids, []int{100, 100, 50})
				walk(t, map[string]any{"ledgerId": ledgers[0]}, order, onLedger0, []int{100, 25})
			})
		}
		t.Run("first out of range", func(t *testing.T) {
			e := wantCode(t, s.post(t, org, `{ aliasAccounts(first: 101) { totalCount } }`, nil, nil), crm.EINVALID)
			wantField(t, e, "first")
		})
	})
}
