package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Requests of the benchmarks and allocation budgets (alloc_test.go), in-process over
// ServeHTTP: the whole GraphQL path (parse cache, validation, resolvers, dataloaders,
// SQL, mapping, JSON) without the network.
const (
	// A holder as a back office reads it, with its two alias accounts.
	benchHolderByIDQuery = `query($id: ID!) { holder(id: $id) { id type name document externalId version createdAt updatedAt
  metadata contact { primaryEmail mobilePhone } naturalPerson { birthDate nationality status }
  aliasAccounts { id ledgerId accountId version createdAt bankingDetails { branch account type } } } }`
	// The page of issue 7 (and of the bench harness).
	benchPageQuery = `{ holders(first: 100) { edges { node { id name aliasAccounts { id accountId } } } } }`
	// The hot path of issue 7.
	benchHotPathQuery = `query($a: ID!) { aliasAccountByLedgerAccount(accountId: $a) { id holder { id name document } } }`
)

// benchFixture is a test server over a database holding 100 holders with two alias
// accounts each, in one organization.
type benchFixture struct {
	*testServer
	org       uuid.UUID
	ctx       context.Context // acting for org
	holders   *postgres.HolderService
	aliases   *postgres.AliasAccountService
	holderIDs []uuid.UUID // oldest first
	accountID uuid.UUID   // ledger account of an alias account of holderIDs[0]
}

// newBenchFixture is newTestServer for benchmarks (which need a testing.TB), loaded
// with postgres.BulkLoad (the same mapping as the create mutations, without 300 round
// trips).
func newBenchFixture(tb testing.TB) *benchFixture {
	tb.Helper()
	db, stmts := pgtest.MustOpenCountingDB(tb)
	enc := pgtest.Encrypter(tb)
	f := &benchFixture{org: uuid.Must(uuid.NewV7()), holders: postgres.NewHolderService(db, enc), aliases: postgres.NewAliasAccountService(db, enc)}
	r := &graph.Resolver{HolderService: f.holders, AliasAccountService: f.aliases}
	f.testServer = &testServer{db: db, stmts: stmts, handler: graph.OrganizationMiddleware(graph.NewHandler(r, graph.HandlerOptions{}))}
	f.ctx = crm.NewContextWithOrganization(context.Background(), f.org)

	ptr := func(s string) *string { return &s }
	ledger := uuid.New()
	var hs []*crm.Holder
	var as []*crm.AliasAccount
	for i := range 100 {
		h := &crm.Holder{
			ID: uuid.Must(uuid.NewV7()), Type: crm.NaturalPersonType, Name: fmt.Sprintf("Ana Souza %03d", i),
			Document: fmt.Sprintf("%011d", i), ExternalID: ptr(fmt.Sprintf("ext-%d", i)),
			Addresses: &crm.Addresses{Primary: &crm.Address{Line1: ptr("Rua Augusta 1500"), Line2: ptr("Apto 12"),
				ZipCode: ptr("01304-001"), City: ptr("São Paulo"), State: ptr("SP"), Country: ptr("BR")}},
			Contact: &crm.Contact{PrimaryEmail: ptr(fmt.Sprintf("ana.%d@example.com", i)), MobilePhone: ptr("+55 11 91234-5678")},
			NaturalPerson: &crm.NaturalPerson{BirthDate: &crm.Date{Time: time.Date(1990, 5, 1, 0, 0, 0, 0, time.UTC)},
				Nationality: ptr("Brazilian"), Status: ptr("active")},
			Metadata: crm.Metadata{"segment": "retail"},
		}
		hs = append(hs, h)
		f.holderIDs = append(f.holderIDs, h.ID)
		for j := range 2 {
			as = append(as, &crm.AliasAccount{
				HolderID: h.ID, LedgerID: ledger, AccountID: uuid.New(),
				BankingDetails: &crm.BankingDetails{Branch: ptr("0001"), Account: ptr(fmt.Sprintf("%05d-%d", i, j)), Type: ptr("CACC"), CountryCode: ptr("BR")},
				RelatedParties: []*crm.RelatedParty{{Document: h.Document, Name: h.Name, Role: crm.PrimaryHolder,
					StartDate: crm.Date{Time: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}}},
			})
		}
	}
	if err := postgres.BulkLoad(f.ctx, db, enc, hs, as); err != nil {
		tb.Fatal(err)
	}
	f.accountID = as[0].AccountID
	return f
}

// body encodes a GraphQL request.
func benchBody(tb testing.TB, query string, vars map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (f *benchFixture) holderByIDBody(tb testing.TB) []byte {
	return benchBody(tb, benchHolderByIDQuery, map[string]any{"id": f.holderIDs[0].String()})
}

func (f *benchFixture) pageBody(tb testing.TB) []byte { return benchBody(tb, benchPageQuery, nil) }

func (f *benchFixture) hotPathBody(tb testing.TB) []byte {
	return benchBody(tb, benchHotPathQuery, map[string]any{"a": f.accountID.String()})
}

// serve posts body to the handler and fails unless the answer is 200 with data and no
// errors, holding want.
func (f *benchFixture) serve(tb testing.TB, body []byte, want []byte) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(graph.OrganizationHeader, f.org.String())
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if b := rec.Body.Bytes(); rec.Code != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) || !bytes.Contains(b, want) {
		tb.Fatalf("HTTP %d: %.500s", rec.Code, b)
	}
}

// Response checks: the data the request asked for is there.
var (
	wantHolderAliases = []byte(`"aliasAccounts":[{"id":"`)
	wantHotPath       = []byte(`"holder":{"id":"`)
)

// benchServe runs body through the handler b.N times, reporting allocations and, over
// a database, SQL statements per request.
func benchServe(b *testing.B, f *benchFixture, body, want []byte) {
	f.serve(b, body, want) // warm the query cache
	if f.stmts != nil {
		f.stmts.Reset()
	}
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, body, want)
	}
	if f.stmts != nil {
		b.ReportMetric(float64(f.stmts.Count())/float64(b.N), "sql/op")
	}
}

// BenchmarkHolderByID: one holder by id with its two alias accounts (2 statements).
func BenchmarkHolderByID(b *testing.B) {
	f := newBenchFixture(b)
	benchServe(b, f, f.holderByIDBody(b), wantHolderAliases)
}

// BenchmarkHolderPage100: a page of 100 holders with their alias accounts (2 statements).
func BenchmarkHolderPage100(b *testing.B) {
	f := newBenchFixture(b)
	benchServe(b, f, f.pageBody(b), wantHolderAliases)
}

// BenchmarkHotPath: aliasAccountByLedgerAccount { id holder { id name document } }.
func BenchmarkHotPath(b *testing.B) {
	f := newBenchFixture(b)
	benchServe(b, f, f.hotPathBody(b), wantHotPath)
}

// storeless answers aliasAccountByLedgerAccount, holder(id), holders and the holders'
// alias accounts from memory; it implements nothing else (the embedded nil interfaces
// panic if anything else is called).
type storeless struct {
	crm.HolderService
	crm.AliasAccountService
	h       crm.Holder                        // holder(id)'s answer, and the hot path's holder
	a       crm.AliasAccount                  // the hot path's alias account
	page    []*crm.Holder                     // holders' answer
	byOwner map[uuid.UUID][]*crm.AliasAccount // alias accounts by holder id
}

func (s *storeless) FindHolders(context.Context, crm.HolderFilter) (*crm.HolderPage, error) {
	return &crm.HolderPage{Holders: s.page, TotalCount: -1}, nil
}

func (s *storeless) FindHolderByID(context.Context, uuid.UUID, bool) (*crm.Holder, error) {
	h := s.h
	return &h, nil
}

func (s *storeless) FindAliasAccountsByHolderIDs(_ context.Context, ids []uuid.UUID) ([]*crm.AliasAccount, error) {
	var out []*crm.AliasAccount
	for _, id := range ids {
		out = append(out, s.byOwner[id]...)
	}
	return out, nil
}

func (s *storeless) FindAliasAccountByLedgerAccount(context.Context, uuid.UUID) (*crm.AliasAccount, error) {
	a, h := s.a, s.h
	a.Holder = &h
	return &a, nil
}

// storelessFixture serves the GraphQL handler over s, acting for org.
func storelessFixture(org uuid.UUID, s *storeless) *benchFixture {
	r := &graph.Resolver{HolderService: s, AliasAccountService: s}
	return &benchFixture{org: org, testServer: &testServer{handler: graph.OrganizationMiddleware(graph.NewHandler(r, graph.HandlerOptions{}))}}
}

// fixtureAliases returns the fixture's alias accounts of holderIDs by holder id.
func (f *benchFixture) fixtureAliases(tb testing.TB, holderIDs []uuid.UUID) map[uuid.UUID][]*crm.AliasAccount {
	as, err := f.aliases.FindAliasAccountsByHolderIDs(f.ctx, holderIDs)
	if err != nil || len(as) != 2*len(holderIDs) {
		tb.Fatal(len(as), err)
	}
	byOwner := map[uuid.UUID][]*crm.AliasAccount{}
	for _, a := range as {
		byOwner[a.HolderID] = append(byOwner[a.HolderID], a)
	}
	return byOwner
}

// BenchmarkHotPathWithoutStorage is the hot path's GraphQL layer alone: the same
// request through the same handler over a service answering from memory, so what it
// costs is parsing the request (query cache on), validating variables, the operation
// policy and read scope, executing and writing the response.
func BenchmarkHotPathWithoutStorage(b *testing.B) {
	s := &storeless{h: crm.Holder{ID: uuid.New(), Name: "Ana Souza", Document: "123.456.789-09"}}
	s.a = crm.AliasAccount{ID: uuid.New(), HolderID: s.h.ID, AccountID: uuid.New()}
	body := benchBody(b, benchHotPathQuery, map[string]any{"a": s.a.AccountID.String()})
	benchServe(b, storelessFixture(uuid.New(), s), body, wantHotPath)
}

// BenchmarkHolderByIDWithoutStorage is BenchmarkHolderByID's GraphQL layer alone (the
// holder and alias accounts of the fixture, from memory).
func BenchmarkHolderByIDWithoutStorage(b *testing.B) {
	full := newBenchFixture(b)
	h, err := full.holders.FindHolderByID(full.ctx, full.holderIDs[0], false)
	if err != nil {
		b.Fatal(err)
	}
	s := &storeless{h: *h, byOwner: full.fixtureAliases(b, full.holderIDs[:1])}
	benchServe(b, storelessFixture(full.org, s), full.holderByIDBody(b), wantHolderAliases)
}

// BenchmarkHolderPage100WithoutStorage is BenchmarkHolderPage100's GraphQL layer
// alone: the fixture's page, read once, answered from memory.
func BenchmarkHolderPage100WithoutStorage(b *testing.B) {
	full := newBenchFixture(b)
	page, err := full.holders.FindHolders(full.ctx, crm.HolderFilter{Page: crm.Page{First: 100, Order: crm.CreatedAtAsc}})
	if err != nil || len(page.Holders) != 100 {
		b.Fatal(err)
	}
	s := &storeless{page: page.Holders, byOwner: full.fixtureAliases(b, full.holderIDs)}
	benchServe(b, storelessFixture(full.org, s), full.pageBody(b), wantHolderAliases)
}

// BenchmarkCreateHolder: createHolder with a holder-sized input (the bench harness's),
// a fresh document each time: validation, encryption, blind index, one prepared INSERT.
func BenchmarkCreateHolder(b *testing.B) {
	f := newBenchFixture(b)
	const mutation = `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`
	n := 0
	next := func() []byte {
		n++
		return benchBody(b, mutation, map[string]any{"in": map[string]any{
			"type": "NATURAL_PERSON", "name": "Ana Souza", "document": fmt.Sprintf("B-%09d", n), "externalId": fmt.Sprintf("ext-%d", n),
			"contact": map[string]any{"primaryEmail": "bench@example.com", "mobilePhone": "+55 11 91234-5678"},
			"addresses": map[string]any{"primary": map[string]any{"line1": "Rua Augusta 1500", "line2": "Apto 12", "zipCode": "01304-001",
				"city": "São Paulo", "state": "SP", "country": "BR"}},
			"naturalPerson": map[string]any{"favoriteName": "Bench", "birthDate": "1990-05-01", "nationality": "Brazilian", "status": "active"},
			"metadata":      map[string]any{"segment": "retail"},
		}})
	}
	want := []byte(`"createHolder":{"holder":{"id":"`)
	f.serve(b, next(), want)
	f.stmts.Reset()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		body := next()
		b.StartTimer()
		f.serve(b, body, want)
	}
	b.ReportMetric(float64(f.stmts.Count())/float64(b.N), "sql/op")
}

// BenchmarkAliasAccountsByHolderBatch100: the alias accounts of 100 holders (200 rows),
// the batch behind Holder.aliasAccounts on a page: straight through the service (one
// statement and 200 mappings), and through a fresh request's dataloader, which also
// waits its batch window (graph.loaderWait) before running the same statement.
func BenchmarkAliasAccountsByHolderBatch100(b *testing.B) {
	f := newBenchFixture(b)
	b.Run("service", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			as, err := f.aliases.FindAliasAccountsByHolderIDs(f.ctx, f.holderIDs)
			if err != nil || len(as) != 200 {
				b.Fatal(len(as), err)
			}
		}
	})
	b.Run("loader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := graph.NewLoaders(f.holders, f.aliases)
			res, errs := l.AliasAccountsByHolder().LoadMany(f.ctx, f.holderIDs)()
			if len(errs) > 0 || len(res) != 100 || len(res[0]) != 2 {
				b.Fatal(len(res), errs)
			}
		}
	})
}
