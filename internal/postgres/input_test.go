package postgres_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Input the domain refuses before it reaches PostgreSQL: text PostgreSQL cannot store
// in filters.

// Regression (fixed bug): filters were not validated, so NUL reached PostgreSQL, whose
// SQLSTATE 22021 errors.go maps to BAD_USER_INPUT without naming the field.
func TestHolderService_FindHolders_UnstorableText(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	mustCreate(t, ctx, s, simpleHolder("1"))
	page := crm.Page{First: 10, Order: crm.CreatedAtAsc}
	tests := []struct {
		name   string
		filter crm.HolderFilter
		fields []string
	}{
		{"ExternalID", crm.HolderFilter{ExternalID: ptr("a\x00b")}, []string{"filter.externalId"}},
		{"Document", crm.HolderFilter{Document: ptr("1\x00")}, []string{"filter.document"}},
		{"MetadataValue", crm.HolderFilter{Metadata: crm.Metadata{"k": "a\x00b"}}, []string{"filter.metadata.k"}},
		{"MetadataKey", crm.HolderFilter{Metadata: crm.Metadata{"k\x00": "v"}}, []string{"filter.metadata"}},
		{"Several", crm.HolderFilter{ExternalID: ptr("\x00"), Metadata: crm.Metadata{"k": "\x00"}}, []string{"filter.externalId", "filter.metadata.k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.Page = page
			p, err := s.FindHolders(ctx, f)
			assertInvalid(t, err, tt.fields...)
			if p != nil {
				t.Error("a page was returned with the error")
			}
		})
	}
}

func newAliasService(t *testing.T) (*postgres.HolderService, *postgres.AliasAccountService) {
	t.Helper()
	db, hs := newService(t)
	return hs, postgres.NewAliasAccountService(db, pgtest.Encrypter(t))
}

func newAlias(holder uuid.UUID) *crm.AliasAccount {
	return &crm.AliasAccount{HolderID: holder, LedgerID: uuid.New(), AccountID: uuid.New()}
}

// The alias account half of the test above.
func TestAliasAccountService_Input(t *testing.T) {
	t.Parallel()
	hs, s := newAliasService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, hs, simpleHolder("1"))
	if err := s.CreateAliasAccount(ctx, newAlias(h.ID)); err != nil {
		t.Fatal(err)
	}
	page := crm.Page{First: 10, Order: crm.CreatedAtAsc}

	t.Run("FilterUnstorableText", func(t *testing.T) {
		nul := ptr("a\x00b")
		for _, tt := range []struct {
			filter crm.AliasAccountFilter
			field  string
		}{
			{crm.AliasAccountFilter{Branch: nul}, "filter.branch"},
			{crm.AliasAccountFilter{HolderDocument: nul}, "filter.holderDocument"},
			{crm.AliasAccountFilter{BankAccount: nul}, "filter.bankAccount"},
			{crm.AliasAccountFilter{IBAN: nul}, "filter.iban"},
			{crm.AliasAccountFilter{ParticipantDocument: nul}, "filter.participantDocument"},
			{crm.AliasAccountFilter{RelatedPartyDocument: nul}, "filter.relatedPartyDocument"},
			{crm.AliasAccountFilter{Metadata: crm.Metadata{"k": *nul}}, "filter.metadata.k"},
			{crm.AliasAccountFilter{Metadata: crm.Metadata{*nul: "v"}}, "filter.metadata"},
		} {
			f := tt.filter
			f.Page = page
			p, err := s.FindAliasAccounts(ctx, f)
			assertInvalid(t, err, tt.field)
			if p != nil {
				t.Errorf("%s: a page was returned with the error", tt.field)
			}
		}
	})
}
