package graph

import (
	"context"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Error codes of the operation limits (OWASP GraphQL cheat sheet: depth, amount, cost).
const (
	codeTooDeep             = "QUERY_TOO_DEEP"
	codeTooManyFields       = "TOO_MANY_FIELDS"
	codeIntrospectionClosed = "GRAPHQL_VALIDATION_FAILED"
)

// operationPolicy is a gqlgen extension that checks every operation before it runs:
// its depth and its number of fields (aliases included) are bounded, and introspection
// is refused when switched off — while federation's _service keeps working, which
// gqlgen would otherwise refuse together with introspection.
type operationPolicy struct {
	introspection bool
	maxDepth      int
	maxFields     int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationPolicy{}

func (operationPolicy) ExtensionName() string                   { return "OperationPolicy" }
func (operationPolicy) Validate(graphql.ExecutableSchema) error { return nil }

func (p operationPolicy) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if !p.introspection {
		for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
			if f.Name == "__schema" || f.Name == "__type" {
				err := gqlerror.Errorf("Introspection is disabled on this server.")
				err.Extensions = map[string]any{"code": codeIntrospectionClosed}
				return err
			}
		}
	}
	// gqlgen's own switch would also block _service; __schema and __type are refused above.
	oc.DisableIntrospection = false

	if err := checkRepresentations(oc); err != nil {
		return err
	}

	w := walker{doc: oc.Doc}
	depth := w.depth(oc.Operation.SelectionSet, 0)
	if p.maxDepth > 0 && depth > p.maxDepth {
		err := gqlerror.Errorf("The query is %d levels deep; at most %d are allowed.", depth, p.maxDepth)
		err.Extensions = map[string]any{"code": codeTooDeep}
		return err
	}
	if p.maxFields > 0 && w.fields > p.maxFields {
		err := gqlerror.Errorf("The query selects %d fields (aliases included); at most %d are allowed.", w.fields, p.maxFields)
		err.Extensions = map[string]any{"code": codeTooManyFields}
		return err
	}
	return nil
}

// walker measures an operation, expanding fragments. Introspection subtrees are not
// counted: tools such as GraphiQL send deep introspection queries. With scope set, it
// also gathers the parts of records the operation reads (see readScope).
type walker struct {
	doc    *ast.QueryDocument
	fields int
	seen   int // fragment expansions, at most maxFragmentExpansions
	scope  *crm.ReadScope
}

// maxFragmentExpansions bounds the walk of pathological documents.
const maxFragmentExpansions = 10000

func (w *walker) depth(set ast.SelectionSet, level int) int {
	max := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				continue
			}
			w.fields++
			if w.scope != nil {
				addFieldParts(w.scope, s)
			}
			d = level + 1
			if len(s.SelectionSet) > 0 {
				d = w.depth(s.SelectionSet, level+1)
			}
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			w.seen++
			if f := w.doc.Fragments.ForName(s.Name); f != nil && w.seen < maxFragmentExpansions {
				d = w.depth(f.SelectionSet, level)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}

// entityTypes are the federation entities this subgraph resolves, all keyed by a UUID id.
var entityTypes = map[string]bool{"Holder": true, "AliasAccount": true, "Account": true}

// checkRepresentations refuses malformed _entities representations up front as
// BAD_USER_INPUT (gqlgen's generated resolution would report them as internal errors).
func checkRepresentations(oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation.Operation != ast.Query {
		return nil
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		if f.Name != "_entities" {
			continue
		}
		for i, r := range asList(f.ArgumentMap(oc.Variables)["representations"]) {
			rep, _ := r.(map[string]any)
			typ, _ := rep["__typename"].(string)
			id, _ := rep["id"].(string)
			if _, err := UnmarshalUUID(id); !entityTypes[typ] || err != nil {
				e := gqlerror.Errorf("Invalid entity representation at index %d: it needs a __typename of Holder, AliasAccount or Account and a UUID id.", i)
				e.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
				return e
			}
		}
	}
	return nil
}

// asList returns an argument's value as the list gqlgen will resolve: GraphQL input
// coercion accepts a single value where a list is expected and makes it a list of one.
// Written inline, the value arrives as it is; sent in a variable, gqlparser has already
// wrapped it, in a slice of its own type ([]map[string]any for an object).
func asList(v any) []any {
	if v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return []any{v}
	}
	l := make([]any, rv.Len())
	for i := range l {
		l[i] = rv.Index(i).Interface()
	}
	return l
}
