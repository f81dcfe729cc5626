package graph_test

import (
	"encoding/json"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Reads decrypt and decode only the parts of records a query selects (graph/scope.go),
// and never at the expense of another selection of the same request or of a write.

// countingEncrypter counts Decrypt calls.
type countingEncrypter struct {
	fieldcrypt.Encrypter
	decrypts atomic.Int64
}

func (c *countingEncrypter) Decrypt(ciphertext []byte, aad string) ([]byte, error) {
	c.decrypts.Add(1)
	return c.Encrypter.Decrypt(ciphertext, aad)
}

func TestReadScope(t *testing.T) {
	t.Parallel()
	db, stmts := pgtest.MustOpenCountingDB(t)
	enc := &countingEncrypter{Encrypter: pgtest.Encrypter(t)}
	r := &graph.Resolver{HolderService: postgres.NewHolderService(db, enc), AliasAccountService: postgres.NewAliasAccountService(db, enc)}
	s := &testServer{db: db, stmts: stmts, handler: graph.OrganizationMiddleware(graph.NewHandler(r, graph.HandlerOptions{}))}
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	ledger := uuidString()
	accounts := []string{uuidString(), uuidString()}
	for _, acc := range accounts {
		createAlias(t, s, org, aliasInput(h.ID, ledger, acc))
	}
	full := readAlias(t, s, org, createAlias(t, s, org, aliasInput(createHolder(t, s, org, naturalPersonInput("Bia", "987.654.321-00")).ID, ledger, uuidString())).ID, false)

	// decrypts runs a query and returns how many ciphertexts it opened.
	decrypts := func(t *testing.T, query string, vars map[string]any, out any) int64 {
		t.Helper()
		before := enc.decrypts.Load()
		s.mustPost(t, org, query, vars, out)
		return enc.decrypts.Load() - before
	}

	t.Run("plain columns only: nothing decrypted", func(t *testing.T) {
		var out struct {
			Holders struct {
				Edges []struct {
					Node struct {
						ID, Type      string
						AliasAccounts []struct{ ID, AccountID string }
					}
				}
			}
		}
		if n := decrypts(t, `{ holders(first: 10) { edges { node { id type aliasAccounts { id accountId } } } } }`, nil, &out); n != 0 {
			t.Fatalf("opened %d ciphertexts, want 0", n)
		}
		accountsOf := map[string]int{}
		for _, e := range out.Holders.Edges {
			accountsOf[e.Node.ID] = len(e.Node.AliasAccounts)
		}
		if len(accountsOf) != 2 || accountsOf[h.ID] != 2 {
			t.Fatalf("page = %+v", out)
		}
	})

	t.Run("hot path: the holder's personal data, not the account's", func(t *testing.T) {
		var out struct {
			AliasAccountByLedgerAccount struct {
				ID     string
				Holder struct{ ID, Name, Document string }
			}
		}
		if n := decrypts(t, `query($a: ID!) { aliasAccountByLedgerAccount(accountId: $a) { id holder { id name document } } }`,
			map[string]any{"a": accounts[0]}, &out); n != 1 {
			t.Fatalf("opened %d ciphertexts, want 1 (the holder's)", n)
		}
		if got := out.AliasAccountByLedgerAccount.Holder; got.ID != h.ID || got.Name != "Ana Souza" || got.Document != "123.456.789-09" {
			t.Fatalf("holder = %+v", got)
		}
	})

	t.Run("metadata alone needs no decryption", func(t *testing.T) {
		var out struct {
			AliasAccount struct{ Metadata map[string]any }
		}
		if n := decrypts(t, `query($id: ID!) { aliasAccount(id: $id) { metadata } }`, map[string]any{"id": full.ID}, &out); n != 0 {
			t.Fatalf("opened %d ciphertexts, want 0", n)
		}
		if !reflect.DeepEqual(out.AliasAccount.Metadata, full.Metadata) {
			t.Fatalf("metadata = %v, want %v", out.AliasAccount.Metadata, full.Metadata)
		}
	})

	// One request, two selections of the same records through the same loaders: one
	// asks for ids only, the other (through a fragment) for everything. Both get what
	// they asked for.
	t.Run("a fragment elsewhere in the request widens the scope for all", func(t *testing.T) {
		var out struct {
			Holders struct {
				Edges []struct {
					Node struct{ AliasAccounts []struct{ ID string } }
				}
			}
			AliasAccountByLedgerAccount json.RawMessage
		}
		s.mustPost(t, org, `query($a: ID!) {
  holders(first: 10) { edges { node { aliasAccounts { id } } } }
  aliasAccountByLedgerAccount(accountId: $a) { ...Whole }
}
fragment Whole on AliasAccount { `+aliasFields+` }`, map[string]any{"a": full.AccountID}, &out)
		var got aliasJSON
		if err := json.Unmarshal(out.AliasAccountByLedgerAccount, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, *full) {
			t.Fatalf("through the fragment:\n got %+v\nwant %+v", got, *full)
		}
	})

	t.Run("federation entities", func(t *testing.T) {
		var out struct {
			Entities []aliasJSON `json:"_entities"`
		}
		s.mustPost(t, org, `query($r: [_Any!]!) { _entities(representations: $r) { ... on AliasAccount { `+aliasFields+` } } }`,
			map[string]any{"r": []any{map[string]any{"__typename": "AliasAccount", "id": full.ID}}}, &out)
		if len(out.Entities) != 1 || !reflect.DeepEqual(out.Entities[0], *full) {
			t.Fatalf("entities = %+v, want %+v", out.Entities, *full)
		}
	})

	// A mutation that selects nothing personal still keeps every part of the record.
	t.Run("mutations read and write whole records", func(t *testing.T) {
		s.mustPost(t, org, `mutation($id: ID!) { updateAliasAccount(input: { id: $id, metadata: { note: "x" } }) { aliasAccount { id } } }`,
			map[string]any{"id": full.ID}, nil)
		after := readAlias(t, s, org, full.ID, false)
		want := *full
		want.Metadata = map[string]any{}
		for k, v := range full.Metadata {
			want.Metadata[k] = v
		}
		want.Metadata["note"] = "x"
		want.Version, want.UpdatedAt = after.Version, after.UpdatedAt
		if after.Version != full.Version+1 || !reflect.DeepEqual(*after, want) {
			t.Fatalf("after the update:\n got %+v\nwant %+v", *after, want)
		}
	})
}
