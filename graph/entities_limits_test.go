package graph_test

import (
	"testing"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestEntitiesComplexity: _entities weighs as a list of its representations, so the
// complexity limit holds for a federation request as for a page: a selection that is
// refused under holders(first: 100) is refused under 500 representations too, while a
// gateway's usual batch goes through.
func TestEntitiesComplexity(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, graph.HandlerOptions{ComplexityLimit: 5000})
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id aliasAccounts { id holder { id } } } } }`
	reps := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"__typename": "Holder", "id": h.ID}
		}
		return out
	}

	var got struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	s.mustPost(t, org, query, map[string]any{"r": reps(2)}, &got)
	if len(got.Entities) != 2 || got.Entities[0] == nil || got.Entities[0].ID != h.ID {
		t.Fatalf("a small batch: %+v", got.Entities)
	}
	wantCode(t, s.post(t, org, query, map[string]any{"r": reps(500)}, nil), "COMPLEXITY_LIMIT_EXCEEDED")
	wantCode(t, s.post(t, org, `{ holders(first: 100) { edges { node { id aliasAccounts { id holder { id } } } } } }`, nil, nil), "COMPLEXITY_LIMIT_EXCEEDED")
}

// TestEntitiesAccountNeedsOrganization: an Account representation, even with only its id
// selected (nothing to look up), is refused without X-Organization-Id, as every
// operation is.
func TestEntitiesAccountNeedsOrganization(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id } } }`
	vars := map[string]any{"r": []map[string]any{{"__typename": "Account", "id": uuidString()}}}
	var got struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	errs := s.post(t, "", query, vars, &got)
	if len(errs) == 0 || errs[0].Extensions.Code != crm.EMISSINGORG {
		t.Fatalf("without an organization: errors %+v, entities %+v; want MISSING_ORGANIZATION", errs, got.Entities)
	}
	for _, e := range got.Entities {
		if e != nil {
			t.Fatalf("an entity answered without an organization: %+v", e)
		}
	}
	s.mustPost(t, newOrg(), query, vars, &got)
	if len(got.Entities) != 1 || got.Entities[0] == nil {
		t.Fatalf("with an organization: %+v", got.Entities)
	}
}
