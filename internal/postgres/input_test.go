package postgres_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Input the domain refuses or reshapes before it reaches PostgreSQL: metadata numbers
// float64 would round, text PostgreSQL cannot store in filters, and empty nested
// objects.

// beyondFloat64 is 2^53+1: float64 rounds it to 2^53.
const beyondFloat64 = json.Number("9007199254740993")

// Regression (fixed bug): crm/metadata.go stored json.Number through Float64(), so
// 2^53+1 was stored as 2^53 without an error; a filter on the value sent matched nothing.
func TestHolderService_MetadataNumberBeyondFloat64(t *testing.T) {
	t.Parallel()
	db, s := newService(t)
	ctx, org := orgContext()

	h := simpleHolder("1")
	h.Metadata = crm.Metadata{"n": beyondFloat64}
	assertInvalid(t, s.CreateHolder(ctx, h), "metadata.n")
	if n := countOrgHolders(t, db, org); n != 0 {
		t.Fatalf("holders has %d rows after a refused create, want 0", n)
	}

	h = simpleHolder("2")
	h.Metadata = crm.Metadata{"n": json.Number("9007199254740992")}
	h = mustCreate(t, ctx, s, h)
	_, err := s.UpdateHolder(ctx, h.ID, crm.HolderUpdate{Metadata: crm.SetTo(crm.Metadata{"n": beyondFloat64})})
	assertInvalid(t, err, "metadata.n")
	stored, err := s.FindHolderByID(ctx, h.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != 1 || stored.Metadata["n"] != 9007199254740992.0 {
		t.Fatalf("after a refused update: version %d, metadata %v", stored.Version, stored.Metadata)
	}

	page := crm.Page{First: 10, Order: crm.CreatedAtAsc}
	_, err = s.FindHolders(ctx, crm.HolderFilter{Page: page, Metadata: crm.Metadata{"n": beyondFloat64}})
	assertInvalid(t, err, "filter.metadata.n")
	// The largest exact value, sent as text, finds the holder that stored it.
	p, err := s.FindHolders(ctx, crm.HolderFilter{Page: page, Metadata: crm.Metadata{"n": json.Number("9007199254740992")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holders) != 1 || p.Holders[0].ID != h.ID {
		t.Fatalf("filter on 2^53 found %v, want %s", ids(p.Holders), h.ID)
	}
}

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

// Regression (fixed bug): CreateHolder stored `contact: {}` as an empty contact and
// answered it, while an update merging `contact: {}` made it absent, so a no-op update
// changed the holder and its version. Empty objects are now absent at creation too.
func TestHolderService_EmptyObjects(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	h := &crm.Holder{
		Type: crm.LegalPersonType, Name: "ACME", Document: "12.345.678/0001-95",
		Addresses:     &crm.Addresses{Primary: &crm.Address{}},
		Contact:       &crm.Contact{},
		NaturalPerson: &crm.NaturalPerson{}, // on a legal person: absent, so not refused
		LegalPerson:   &crm.LegalPerson{TradeName: ptr("ACME"), Representative: &crm.Representative{}},
	}
	h = mustCreate(t, ctx, s, h)
	want := &crm.Holder{
		ID: h.ID, OrganizationID: h.OrganizationID, Type: crm.LegalPersonType, Name: "ACME", Document: "12.345.678/0001-95",
		LegalPerson: &crm.LegalPerson{TradeName: ptr("ACME")}, Metadata: crm.Metadata{},
		Version: 1, CreatedAt: h.CreatedAt, UpdatedAt: h.CreatedAt,
	}
	assertHolderEqual(t, h, want)
	stored, err := s.FindHolderByID(ctx, h.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	assertHolderEqual(t, stored, want)

	// Sending the same empty objects again changes nothing: no new version.
	noop := crm.HolderUpdate{
		Addresses:   crm.SetTo(crm.AddressesUpdate{Primary: crm.SetTo(crm.AddressUpdate{})}),
		Contact:     crm.SetTo(crm.ContactUpdate{}),
		LegalPerson: crm.SetTo(crm.LegalPersonUpdate{Representative: crm.SetTo(crm.RepresentativeUpdate{})}),
	}
	got, err := s.UpdateHolder(ctx, h.ID, noop)
	if err != nil {
		t.Fatal(err)
	}
	assertHolderEqual(t, got, want)
	if stored, err = s.FindHolderByID(ctx, h.ID, false); err != nil {
		t.Fatal(err)
	}
	assertHolderEqual(t, stored, want)

	// A real change still makes a new version.
	got, err = s.UpdateHolder(ctx, h.ID, crm.HolderUpdate{Contact: crm.SetTo(crm.ContactUpdate{OtherPhone: crm.SetTo("1")})})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Contact == nil || *got.Contact.OtherPhone != "1" {
		t.Fatalf("after a change: version %d, contact %+v", got.Version, got.Contact)
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

// The alias account halves of the three tests above.
func TestAliasAccountService_Input(t *testing.T) {
	t.Parallel()
	hs, s := newAliasService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, hs, simpleHolder("1"))
	if err := s.CreateAliasAccount(ctx, newAlias(h.ID)); err != nil {
		t.Fatal(err)
	}
	page := crm.Page{First: 10, Order: crm.CreatedAtAsc}

	t.Run("MetadataNumberBeyondFloat64", func(t *testing.T) {
		a := newAlias(h.ID)
		a.Metadata = crm.Metadata{"n": beyondFloat64}
		assertInvalid(t, s.CreateAliasAccount(ctx, a), "metadata.n")
		if _, err := s.FindAliasAccountByLedgerAccount(ctx, a.AccountID); crm.ErrorCode(err) != crm.ENOTFOUND {
			t.Fatalf("a refused alias account was stored (err %v)", err)
		}
		a = newAlias(h.ID)
		if err := s.CreateAliasAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, err := s.UpdateAliasAccount(ctx, a.ID, crm.AliasAccountUpdate{Metadata: crm.SetTo(crm.Metadata{"n": beyondFloat64})})
		assertInvalid(t, err, "metadata.n")
		stored, err := s.FindAliasAccountByID(ctx, a.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Version != 1 || len(stored.Metadata) != 0 {
			t.Fatalf("after a refused update: version %d, metadata %v", stored.Version, stored.Metadata)
		}
		_, err = s.FindAliasAccounts(ctx, crm.AliasAccountFilter{Page: page, Metadata: crm.Metadata{"n": beyondFloat64}})
		assertInvalid(t, err, "filter.metadata.n")
	})

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

	t.Run("EmptyObjects", func(t *testing.T) {
		a := newAlias(h.ID)
		a.BankingDetails = &crm.BankingDetails{}
		a.RegulatoryFields = &crm.RegulatoryFields{}
		if err := s.CreateAliasAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		if a.BankingDetails != nil || a.RegulatoryFields != nil || a.Version != 1 {
			t.Fatalf("created: bankingDetails %+v, regulatoryFields %+v, version %d", a.BankingDetails, a.RegulatoryFields, a.Version)
		}
		stored, err := s.FindAliasAccountByID(ctx, a.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if stored.BankingDetails != nil || stored.RegulatoryFields != nil || stored.Version != 1 {
			t.Fatalf("read back: bankingDetails %+v, regulatoryFields %+v, version %d", stored.BankingDetails, stored.RegulatoryFields, stored.Version)
		}
		got, err := s.UpdateAliasAccount(ctx, a.ID, crm.AliasAccountUpdate{
			BankingDetails:   crm.SetTo(crm.BankingDetailsUpdate{}),
			RegulatoryFields: crm.SetTo(crm.RegulatoryFieldsUpdate{ParticipantDocument: crm.Clear[string]()}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.BankingDetails != nil || got.RegulatoryFields != nil || got.Version != 1 || !got.UpdatedAt.Equal(a.UpdatedAt) {
			t.Fatalf("no-op update: bankingDetails %+v, regulatoryFields %+v, version %d", got.BankingDetails, got.RegulatoryFields, got.Version)
		}
	})
}
