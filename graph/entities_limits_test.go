package graph_test

import (
	"testing"

	"github.com/lerianstudio/crm-registry/graph"
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
