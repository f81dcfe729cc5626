package graph_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// TestNoNPlusOne: a page of 100 holders with their alias accounts and each account's
// holder costs at most 3 SQL statements (holders page, alias accounts by holder,
// holders by id), never one per row.
func TestNoNPlusOne(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	org := newOrg()
	ledger := uuid.Must(uuid.NewV7()).String()
	for i := range 100 {
		h := createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": fmt.Sprintf("Holder %d", i), "document": fmt.Sprintf("DOC-%03d", i)})
		for range 2 {
			s.mustPost(t, org, `mutation($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
				map[string]any{"in": map[string]any{"holderId": h.ID, "ledgerId": ledger, "accountId": uuid.Must(uuid.NewV7()).String()}}, nil)
		}
	}

	s.stmts.Reset()
	var got struct {
		Holders struct {
			Edges []struct {
				Node struct {
					ID            string
					AliasAccounts []struct {
						ID     string
						Holder struct{ ID string }
					}
				}
			}
		}
	}
	s.mustPost(t, org, `{ holders(first: 100) { edges { node { id aliasAccounts { id holder { id } } } } } }`, nil, &got)
	if n := s.stmts.Count(); n > 3 {
		t.Fatalf("the page issued %d SQL statements, want at most 3", n)
	}
	if len(got.Holders.Edges) != 100 {
		t.Fatalf("got %d holders, want 100", len(got.Holders.Edges))
	}
	for _, e := range got.Holders.Edges {
		if len(e.Node.AliasAccounts) != 2 {
			t.Fatalf("holder %s has %d alias accounts, want 2", e.Node.ID, len(e.Node.AliasAccounts))
		}
		for _, a := range e.Node.AliasAccounts {
			if a.Holder.ID != e.Node.ID {
				t.Fatalf("alias account %s resolves holder %s, want %s", a.ID, a.Holder.ID, e.Node.ID)
			}
		}
	}

	// Without the nested holder: exactly the page and one batch.
	s.stmts.Reset()
	s.mustPost(t, org, `{ holders(first: 100) { edges { node { id aliasAccounts { id } } } } }`, nil, nil)
	if n := s.stmts.Count(); n != 2 {
		t.Fatalf("page with alias accounts issued %d statements, want 2", n)
	}
}
