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
			assertValidation(t, err, tt.fields...)
		})
	}
}

// The alias account half of TestHolder_DropEmptyObjects.
func TestAliasAccount_DropEmptyObjects(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		a := validAlias()
		a.BankingDetails = &crm.BankingDetails{}
		a.RegulatoryFields = &crm.RegulatoryFields{ParticipantDocument: nil}
		a.DropEmptyObjects()
		if a.BankingDetails != nil || a.RegulatoryFields != nil {
			t.Fatalf("bankingDetails = %+v, regulatoryFields = %+v; want both absent", a.BankingDetails, a.RegulatoryFields)
		}
		// And an update sending the same empty objects leaves the same account.
		n := a.Apply(crm.AliasAccountUpdate{
			BankingDetails:   crm.SetTo(crm.BankingDetailsUpdate{}),
			RegulatoryFields: crm.SetTo(crm.RegulatoryFieldsUpdate{ParticipantDocument: crm.Clear[string]()}),
		})
		if n.BankingDetails != nil || n.RegulatoryFields != nil {
			t.Fatalf("after Apply: bankingDetails = %+v, regulatoryFields = %+v; want both absent", n.BankingDetails, n.RegulatoryFields)
		}
	})
	t.Run("WithFields", func(t *testing.T) {
		a := validAlias()
		b := &crm.BankingDetails{Branch: ptr("0001")}
		r := &crm.RegulatoryFields{ParticipantDocument: ptr("1")}
		a.BankingDetails, a.RegulatoryFields = b, r
		a.DropEmptyObjects()
		if a.BankingDetails != b || a.RegulatoryFields != r {
			t.Fatalf("objects with a field set were changed: %+v, %+v", a.BankingDetails, a.RegulatoryFields)
		}
	})
}
