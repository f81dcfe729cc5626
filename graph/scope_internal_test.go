package graph

import (
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestReadScopeTablesCoverSchema: every field of Holder and AliasAccount says which
// parts of a record it needs, and the tables name no field the schema lacks. A field
// missing from a table still reads whole records (safe but slow); this keeps it from
// going unnoticed.
func TestReadScopeTablesCoverSchema(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for typ, table := range map[string]map[string]crm.Parts{"Holder": holderFieldParts, "AliasAccount": aliasFieldParts} {
		def := schema.Types[typ]
		if def == nil {
			t.Fatalf("no type %s in the schema", typ)
		}
		for _, f := range def.Fields {
			if _, ok := table[f.Name]; !ok {
				t.Errorf("%s.%s is not in the read-scope table", typ, f.Name)
			}
		}
		for name := range table {
			if name != "__typename" && def.Fields.ForName(name) == nil {
				t.Errorf("the read-scope table of %s names %s, which the schema lacks", typ, name)
			}
		}
	}
}
