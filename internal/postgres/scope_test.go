package postgres_test

import (
	"reflect"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// TestReadScope: reads return only the parts their context's crm.ReadScope names, and
// a write under a narrow scope still reads, merges and stores the whole record.
func TestReadScope(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, s, fullNatural())

	narrow := crm.NewContextWithReadScope(ctx, crm.ReadScope{Holder: crm.MetadataPart})
	got, err := s.FindHolderByID(narrow, h.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "" || got.Document != "" || got.Addresses != nil || got.Contact != nil || got.NaturalPerson != nil {
		t.Errorf("personal data read outside the scope: %q %q %v %v %v", got.Name, got.Document, got.Addresses, got.Contact, got.NaturalPerson)
	}
	if got.ID != h.ID || got.Type != h.Type || got.Version != h.Version || *got.ExternalID != *h.ExternalID || len(got.Metadata) != len(h.Metadata) {
		t.Errorf("plain columns or metadata missing: %+v", got)
	}
	none := crm.NewContextWithReadScope(ctx, crm.ReadScope{})
	if got, err := s.FindHolderByID(none, h.ID, false); err != nil || got.Metadata != nil || got.Name != "" {
		t.Errorf("empty scope: %+v, %v", got, err)
	}

	// An update under the narrowest scope keeps every part it does not change.
	updated, err := s.UpdateHolder(none, h.ID, crm.HolderUpdate{ExternalID: crm.SetTo("crm-ext-0002")})
	if err != nil {
		t.Fatal(err)
	}
	want := *h
	want.ExternalID, want.Version, want.UpdatedAt = updated.ExternalID, h.Version+1, updated.UpdatedAt
	assertHolderEqual(t, updated, &want)
	stored, err := s.FindHolderByID(ctx, h.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	assertHolderEqual(t, stored, &want)
}

// TestReadScope_AliasAccount: the same for alias accounts, whose banking details mix
// plain columns and encrypted values.
func TestReadScope_AliasAccount(t *testing.T) {
	t.Parallel()
	db, hs := newService(t)
	as := postgres.NewAliasAccountService(db, pgtest.Encrypter(t))
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, hs, fullNatural())
	a := bulkAlias(h.ID, h.Document, h.Name)
	if err := as.CreateAliasAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	whole, err := as.FindAliasAccountByID(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}

	none := crm.NewContextWithReadScope(ctx, crm.ReadScope{})
	got, err := as.FindAliasAccountByLedgerAccount(none, a.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if got.BankingDetails != nil || got.RegulatoryFields != nil || got.RelatedParties != nil || got.Metadata != nil {
		t.Errorf("parts read outside the scope: %+v", got)
	}
	if got.ID != a.ID || got.HolderID != h.ID || got.AccountID != a.AccountID || got.Holder == nil || got.Holder.Name != "" {
		t.Errorf("plain columns: %+v (holder %+v)", got, got.Holder)
	}
	personal := crm.NewContextWithReadScope(ctx, crm.ReadScope{Holder: crm.PersonalData, AliasAccount: crm.PersonalData})
	if got, err := as.FindAliasAccountByLedgerAccount(personal, a.AccountID); err != nil || got.Holder.Name != h.Name ||
		!reflect.DeepEqual(got.RelatedParties, whole.RelatedParties) || !reflect.DeepEqual(got.BankingDetails, whole.BankingDetails) {
		t.Errorf("personal scope: %+v, %v", got, err)
	}

	updated, err := as.UpdateAliasAccount(none, a.ID, crm.AliasAccountUpdate{Metadata: crm.SetTo(crm.Metadata{"note": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := as.FindAliasAccountByID(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*crm.AliasAccount{updated, stored} {
		if !reflect.DeepEqual(x.BankingDetails, whole.BankingDetails) || !reflect.DeepEqual(x.RegulatoryFields, whole.RegulatoryFields) ||
			!reflect.DeepEqual(x.RelatedParties, whole.RelatedParties) || x.Metadata["product"] != "checking" || x.Metadata["note"] != "x" ||
			x.Version != whole.Version+1 {
			t.Errorf("after an update under an empty scope: %+v", x)
		}
	}
}
