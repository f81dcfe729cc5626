package postgres_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// BenchmarkHolderMapping reads a fully filled holder by id: one statement, then the
// row mapping (AES-256-GCM open bound to the row, JSON decode of the personal data and
// of the metadata). The cipher alone on a holder-sized JSON is BenchmarkAEAD_EncryptDecrypt
// in internal/fieldcrypt.
func BenchmarkHolderMapping(b *testing.B) {
	db, stmts := pgtest.MustOpenCountingDB(b)
	s := postgres.NewHolderService(db, pgtest.Encrypter(b))
	ctx, _ := orgContext()
	h := fullNatural()
	if err := s.CreateHolder(ctx, h); err != nil {
		b.Fatal(err)
	}
	stmts.Reset()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.FindHolderByID(ctx, h.ID, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(stmts.Count())/float64(b.N), "sql/op")
}

// BenchmarkFindAliasAccountByLedgerAccount is the hot path's storage half: one statement
// joining the alias account and its holder, and both mappings.
func BenchmarkFindAliasAccountByLedgerAccount(b *testing.B) {
	db, stmts := pgtest.MustOpenCountingDB(b)
	enc := pgtest.Encrypter(b)
	ctx, _ := orgContext()
	h := fullNatural()
	h.ID = uuid.Must(uuid.NewV7())
	a := &crm.AliasAccount{
		HolderID: h.ID, LedgerID: uuid.New(), AccountID: uuid.New(),
		BankingDetails: &crm.BankingDetails{Branch: ptr("0001"), Account: ptr("12345-6"), Type: ptr("CACC"),
			OpeningDate: ptr(crm.NewDate(2020, time.January, 2)), CountryCode: ptr("BR"), BankID: ptr("341")},
		RelatedParties: []*crm.RelatedParty{{Document: h.Document, Name: h.Name, Role: crm.PrimaryHolder, StartDate: crm.NewDate(2020, time.January, 2)}},
	}
	if err := postgres.BulkLoad(ctx, db, enc, []*crm.Holder{h}, []*crm.AliasAccount{a}); err != nil {
		b.Fatal(err)
	}
	s := postgres.NewAliasAccountService(db, enc)
	stmts.Reset()
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.FindAliasAccountByLedgerAccount(ctx, a.AccountID)
		if err != nil || got.Holder == nil {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(stmts.Count())/float64(b.N), "sql/op")
}
