package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// The parts of a stored record each field of Holder and AliasAccount needs. A field
// missing here (one added to the schema later) counts as needing the whole record;
// TestReadScopeTablesCoverSchema keeps the tables complete.
var (
	holderFieldParts = map[string]crm.Parts{
		"id": 0, "type": 0, "externalId": 0, "version": 0, "createdAt": 0, "updatedAt": 0, "deletedAt": 0,
		"aliasAccounts": 0, "__typename": 0,
		"name": crm.PersonalData, "document": crm.PersonalData, "addresses": crm.PersonalData,
		"contact": crm.PersonalData, "naturalPerson": crm.PersonalData, "legalPerson": crm.PersonalData,
		"metadata": crm.MetadataPart,
	}
	aliasFieldParts = map[string]crm.Parts{
		"id": 0, "holder": 0, "ledgerId": 0, "accountId": 0, "version": 0, "createdAt": 0, "updatedAt": 0,
		"deletedAt": 0, "__typename": 0,
		"bankingDetails": crm.PersonalData, "regulatoryFields": crm.PersonalData, "relatedParties": crm.PersonalData,
		"metadata": crm.MetadataPart,
	}
)

// addFieldParts adds to s the parts a selected field needs.
func addFieldParts(s *crm.ReadScope, f *ast.Field) {
	if f.ObjectDefinition == nil {
		return
	}
	if f.ObjectDefinition.Kind != ast.Object && f.Name != "__typename" {
		// A field of an interface (none in the schema today) may resolve on a holder or
		// an alias account: read both whole.
		s.Holder, s.AliasAccount = crm.AllParts, crm.AllParts
		return
	}
	var table map[string]crm.Parts
	var parts *crm.Parts
	switch f.ObjectDefinition.Name {
	case "Holder":
		table, parts = holderFieldParts, &s.Holder
	case "AliasAccount":
		table, parts = aliasFieldParts, &s.AliasAccount
	default:
		return
	}
	p, ok := table[f.Name]
	if !ok {
		p = crm.AllParts
	}
	*parts |= p
}

// readScope narrows the reads of a query to the parts of holders and alias accounts it
// selects anywhere, fragments included: a page asking for names and alias account ids
// decrypts no alias account, and one asking for no metadata decodes none. The scope is
// per operation, not per field, because a request's dataloaders share records between
// all its selections. Directives such as @skip are ignored, which can only widen it.
// Mutations read whole records (they compare and write them back).
func readScope(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	var s crm.ReadScope
	w := walker{doc: oc.Doc, scope: &s}
	w.depth(oc.Operation.SelectionSet, 0)
	if w.seen >= maxFragmentExpansions {
		return next(ctx) // the walk stopped expanding fragments: read whole records
	}
	return next(crm.NewContextWithReadScope(ctx, s))
}
