package crm_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

func validAlias() *crm.AliasAccount {
	return &crm.AliasAccount{HolderID: uuid.New(), LedgerID: uuid.New(), AccountID: uuid.New(), Metadata: crm.Metadata{}}
}

func TestAliasAccount_Validate_MetadataNumbers(t *testing.T) {
	tests := []struct {
		name   string
		value  any
		fields []string
	}{
		{"Exact", json.Number("9007199254740992"), nil},
		{"BeyondFloat64", json.Number("9007199254740993"), []string{"metadata.n"}},
		{"Overflows", json.Number("-1e999"), []string{"metadata.n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAlias()
			a.Metadata["n"] = tt.value
			err := a.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			assertInvalid(t, err, tt.fields...)
		})
	}
}
