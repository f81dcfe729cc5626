package postgres_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// bulkAlias returns an alias account of holder with every encrypted and indexed field set.
func bulkAlias(holder uuid.UUID, document, name string) *crm.AliasAccount {
	return &crm.AliasAccount{
		HolderID: holder, LedgerID: uuid.New(), AccountID: uuid.New(),
		BankingDetails: &crm.BankingDetails{
			Branch: ptr("0001"), Account: ptr("12345-6"), Type: ptr("CACC"), IBAN: ptr("BR15 0000 0000 0000 1093 2840 814P 2"),
			OpeningDate: ptr(crm.NewDate(2020, time.January, 2)), CountryCode: ptr("BR"), BankID: ptr("341"),
		},
		RegulatoryFields: &crm.RegulatoryFields{ParticipantDocument: ptr("12.345.678/0001-95")},
		RelatedParties: []*crm.RelatedParty{{Document: document, Name: name, Role: crm.PrimaryHolder,
			StartDate: crm.NewDate(2020, time.January, 2)}},
		Metadata: crm.Metadata{"product": "checking"},
	}
}

// TestBulkLoad_RoundTrip: rows stored by BulkLoad read back through the services exactly
// like rows stored by CreateHolder / CreateAliasAccount, blind indexes included.
func TestBulkLoad_RoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpenDB(t)
	enc := pgtest.Encrypter(t)
	holders, aliases := postgres.NewHolderService(db, enc), postgres.NewAliasAccountService(db, enc)
	ctx, org := orgContext()

	natural, legal, minimal := fullNatural(), fullLegal(), simpleHolder("000.000.001-91")
	natural.ID = uuid.Must(uuid.NewV7()) // kept, so alias accounts of the same call can name it
	as := []*crm.AliasAccount{bulkAlias(natural.ID, natural.Document, natural.Name), bulkAlias(natural.ID, natural.Document, natural.Name)}
	as[1].BankingDetails, as[1].RegulatoryFields, as[1].RelatedParties, as[1].Metadata = nil, nil, nil, nil
	wantAlias := *as[0]
	wantID := natural.ID

	before := time.Now().Add(-time.Second)
	if err := postgres.BulkLoad(ctx, db, enc, []*crm.Holder{natural, legal, minimal}, as); err != nil {
		t.Fatalf("BulkLoad: %v", err)
	}
	after := time.Now().Add(time.Second)

	if natural.ID != wantID {
		t.Fatalf("a preset ID was replaced: %s, want %s", natural.ID, wantID)
	}
	metadata := map[*crm.Holder]crm.Metadata{ // as read back: numbers are float64
		natural: {"segment": "retail", "score": 42.5, "count": 7.0, "active": true, "closedAt": nil},
		legal:   {"segment": "corporate", "employees": 1200.0, "listed": false, "parent": nil},
		minimal: {},
	}
	for _, h := range []*crm.Holder{natural, legal, minimal} {
		if h.ID == uuid.Nil || h.ID.Version() != 7 || h.OrganizationID != org || h.Version != 1 || h.DeletedAt != nil {
			t.Fatalf("holder %q stored as {id %s org %s v%d deleted %v}", h.Name, h.ID, h.OrganizationID, h.Version, h.DeletedAt)
		}
		if h.CreatedAt.Before(before) || h.CreatedAt.After(after) || !h.CreatedAt.Equal(h.UpdatedAt) {
			t.Fatalf("holder %q timestamps %v / %v, want about now", h.Name, h.CreatedAt, h.UpdatedAt)
		}
		want := *h
		want.Metadata = metadata[h]
		got, err := holders.FindHolderByID(ctx, h.ID, false)
		if err != nil {
			t.Fatalf("FindHolderByID(%q): %v", h.Name, err)
		}
		assertHolderEqual(t, got, &want)
		byDoc, err := holders.FindHolderByDocument(ctx, crm.NormalizeDocument(h.Document))
		if err != nil {
			t.Fatalf("FindHolderByDocument(%q): %v", h.Document, err)
		}
		assertHolderEqual(t, byDoc, &want)
	}

	got, err := aliases.FindAliasAccountByLedgerAccount(ctx, wantAlias.AccountID)
	if err != nil {
		t.Fatalf("FindAliasAccountByLedgerAccount: %v", err)
	}
	if got.ID != as[0].ID || got.ID.Version() != 7 || got.HolderID != natural.ID || got.OrganizationID != org || got.Version != 1 {
		t.Fatalf("alias account = {id %s holder %s org %s v%d}, want {id %s holder %s org %s v1}",
			got.ID, got.HolderID, got.OrganizationID, got.Version, as[0].ID, natural.ID, org)
	}
	if got.Holder == nil || got.Holder.ID != natural.ID || got.Holder.Name != natural.Name {
		t.Fatalf("alias account holder = %+v, want %s", got.Holder, natural.ID)
	}
	jsonEqual(t, "BankingDetails", got.BankingDetails, wantAlias.BankingDetails)
	jsonEqual(t, "RegulatoryFields", got.RegulatoryFields, wantAlias.RegulatoryFields)
	jsonEqual(t, "Metadata", got.Metadata, wantAlias.Metadata)
	if len(got.RelatedParties) != 1 || got.RelatedParties[0].ID == uuid.Nil || got.RelatedParties[0].ID != as[0].RelatedParties[0].ID ||
		got.RelatedParties[0].Document != natural.Document || got.RelatedParties[0].Role != crm.PrimaryHolder {
		t.Fatalf("related parties = %+v", got.RelatedParties)
	}

	// The blind indexes are the services' own: every search filter finds the account.
	for name, f := range map[string]crm.AliasAccountFilter{
		"bank account":           {BankAccount: ptr("123456")},
		"IBAN":                   {IBAN: ptr("BR1500000000000010932840814P2")},
		"participant document":   {ParticipantDocument: ptr("12345678000195")},
		"related-party document": {RelatedPartyDocument: ptr(natural.Document)},
		"holder document":        {HolderDocument: ptr(natural.Document), BankAccount: ptr("12345-6")},
	} {
		f.Page = crm.Page{First: 10, Order: crm.CreatedAtAsc}
		page, err := aliases.FindAliasAccounts(ctx, f)
		if err != nil {
			t.Fatalf("FindAliasAccounts by %s: %v", name, err)
		}
		if len(page.AliasAccounts) != 1 || page.AliasAccounts[0].ID != as[0].ID {
			t.Errorf("FindAliasAccounts by %s found %d accounts, want only %s", name, len(page.AliasAccounts), as[0].ID)
		}
	}
	byHolder, err := aliases.FindAliasAccountsByHolderIDs(ctx, []uuid.UUID{natural.ID, legal.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(byHolder) != 2 {
		t.Fatalf("FindAliasAccountsByHolderIDs = %d accounts, want 2", len(byHolder))
	}

	// Encrypted at rest like any other row.
	var data []byte
	if err := db.Get(&data, `SELECT data_enc FROM holders WHERE id = $1`, natural.ID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(natural.Name)) || bytes.Contains(data, []byte(natural.Document)) {
		t.Fatal("holder data stored in plain text")
	}

	// A bulk-loaded holder is an ordinary holder: the services change it.
	updated, err := holders.UpdateHolder(ctx, natural.ID, crm.HolderUpdate{ExpectedVersion: ptr(1), Name: crm.SetTo("Renamed Holder")})
	if err != nil {
		t.Fatalf("UpdateHolder: %v", err)
	}
	if updated.Version != 2 || updated.Name != "Renamed Holder" || updated.Document != natural.Document {
		t.Fatalf("updated = {v%d %q %q}, want {v2 \"Renamed Holder\" %q}", updated.Version, updated.Name, updated.Document, natural.Document)
	}
}

// TestBulkLoad_AllOrNothing: a bad record, a taken document or ledger account, or an
// alias account of an unknown holder stores nothing at all.
func TestBulkLoad_AllOrNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpenDB(t)
	enc := pgtest.Encrypter(t)
	ctx, org := orgContext()
	existing := simpleHolder("EXISTING-1")
	if err := postgres.BulkLoad(ctx, db, enc, []*crm.Holder{existing}, []*crm.AliasAccount{bulkAlias(existingID(existing), "X1", "X")}); err != nil {
		t.Fatal(err)
	}
	var taken crm.AliasAccount
	if err := db.Get(&taken.AccountID, `SELECT account_id FROM alias_accounts`); err != nil {
		t.Fatal(err)
	}

	// Holders an alias account may not name: another organization's, and a soft-deleted one.
	otherCtx, _ := orgContext()
	foreign := simpleHolder("FOREIGN-1")
	if err := postgres.BulkLoad(otherCtx, db, enc, []*crm.Holder{foreign}, nil); err != nil {
		t.Fatal(err)
	}
	deleted := simpleHolder("DELETED-1")
	if err := postgres.BulkLoad(ctx, db, enc, []*crm.Holder{deleted}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewHolderService(db, enc).DeleteHolder(ctx, deleted.ID, false, false); err != nil {
		t.Fatal(err)
	}
	const stored = 2 // existing and deleted

	fresh := func() *crm.Holder { return simpleHolder("FRESH-" + uuid.NewString()) }
	invalid := fresh()
	invalid.Name = ""
	takenAlias := bulkAlias(existing.ID, "X2", "X")
	takenAlias.AccountID = taken.AccountID

	for _, tc := range []struct {
		name    string
		holders []*crm.Holder
		aliases []*crm.AliasAccount
		code    string
		fields  []string
	}{
		{"invalid holder", []*crm.Holder{fresh(), invalid}, nil, crm.EINVALID, []string{"holders[1].name"}},
		{"invalid alias account", []*crm.Holder{fresh()}, []*crm.AliasAccount{{HolderID: existing.ID, AccountID: uuid.New()}}, crm.EINVALID, []string{"aliasAccounts[0].ledgerId"}},
		{"document taken", []*crm.Holder{fresh(), simpleHolder("existing.1")}, nil, crm.EDOCUMENTEXISTS, nil},
		{"same document twice", []*crm.Holder{simpleHolder("TWICE-1"), simpleHolder("twice1")}, nil, crm.EDOCUMENTEXISTS, nil},
		{"ledger account taken", []*crm.Holder{fresh()}, []*crm.AliasAccount{takenAlias}, crm.EACCOUNTLINKED, nil},
		{"unknown holder", []*crm.Holder{fresh()}, []*crm.AliasAccount{bulkAlias(existing.ID, "X3", "X"), bulkAlias(uuid.Must(uuid.NewV7()), "X3", "X")},
			crm.ENOTFOUND, []string{"aliasAccounts[1].holderId"}},
		{"another organization's holder", nil, []*crm.AliasAccount{bulkAlias(foreign.ID, "X4", "X")}, crm.ENOTFOUND, []string{"aliasAccounts[0].holderId"}},
		{"a soft-deleted holder", nil, []*crm.AliasAccount{bulkAlias(deleted.ID, "X5", "X")}, crm.ENOTFOUND, []string{"aliasAccounts[0].holderId"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := postgres.BulkLoad(ctx, db, enc, tc.holders, tc.aliases)
			switch {
			case tc.code == crm.EINVALID:
				assertInvalid(t, err, tc.fields...)
			case tc.fields != nil:
				assertCode(t, err, tc.code)
				var e *crm.Error
				if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[tc.fields[0]] == "" {
					t.Fatalf("error %v does not name exactly %s", err, tc.fields[0])
				}
			default:
				assertCode(t, err, tc.code)
			}
			if n := countOrgHolders(t, db, org); n != stored {
				t.Fatalf("%d holders stored, want only the %d stored before", n, stored)
			}
			var aliasCount int
			if err := db.Get(&aliasCount, `SELECT count(*) FROM alias_accounts`); err != nil {
				t.Fatal(err)
			}
			if aliasCount != 1 {
				t.Fatalf("%d alias accounts stored, want only the existing one", aliasCount)
			}
		})
	}

	if err := postgres.BulkLoad(t.Context(), db, enc, []*crm.Holder{fresh()}, nil); crm.ErrorCode(err) != crm.EMISSINGORG {
		t.Fatalf("BulkLoad without an organization: %v, want %s", err, crm.EMISSINGORG)
	}
}

// existingID gives h an id now, so an alias account of the same BulkLoad can name it.
func existingID(h *crm.Holder) uuid.UUID {
	h.ID = uuid.Must(uuid.NewV7())
	return h.ID
}

// TestFindAliasAccountByLedgerAccount_HolderOfAnotherOrganization: the hot path joins the
// holder within the caller's organization. Were an alias account ever linked to another
// organization's holder (no API allows it; the foreign key names the holder's id alone),
// the lookup finds nothing rather than that holder's personal data.
func TestFindAliasAccountByLedgerAccount_HolderOfAnotherOrganization(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpenDB(t)
	enc := pgtest.Encrypter(t)
	ctxA, _ := orgContext()
	ctxB, _ := orgContext()
	holderA, holderB := simpleHolder("TENANT-A"), simpleHolder("TENANT-B")
	if err := postgres.BulkLoad(ctxA, db, enc, []*crm.Holder{holderA}, nil); err != nil {
		t.Fatal(err)
	}
	alias := bulkAlias(existingID(holderB), "X", "X")
	if err := postgres.BulkLoad(ctxB, db, enc, []*crm.Holder{holderB}, []*crm.AliasAccount{alias}); err != nil {
		t.Fatal(err)
	}
	aliases := postgres.NewAliasAccountService(db, enc)
	if got, err := aliases.FindAliasAccountByLedgerAccount(ctxB, alias.AccountID); err != nil || got.Holder == nil || got.Holder.ID != holderB.ID {
		t.Fatalf("before: %+v, %v; want the alias account with its own holder", got, err)
	}
	if _, err := db.Exec(`UPDATE alias_accounts SET holder_id = $1 WHERE id = $2`, holderA.ID, alias.ID); err != nil {
		t.Fatal(err)
	}
	got, err := aliases.FindAliasAccountByLedgerAccount(ctxB, alias.AccountID)
	assertCode(t, err, crm.ENOTFOUND)
	if got != nil {
		t.Fatalf("found %+v through another organization's holder", got)
	}
}
