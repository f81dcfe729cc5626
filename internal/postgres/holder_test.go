package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

func ptr[T any](v T) *T { return &v }

// newService returns a HolderService over a fresh database of the test's own.
func newService(t *testing.T) (*sqlx.DB, *postgres.HolderService) {
	t.Helper()
	db := pgtest.MustOpenDB(t)
	return db, postgres.NewHolderService(db, pgtest.Encrypter(t))
}

// orgContext returns a context acting for a new organization, and that organization.
func orgContext() (context.Context, uuid.UUID) {
	org := uuid.New()
	return crm.NewContextWithOrganization(context.Background(), org), org
}

func countHolders(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM holders`); err != nil {
		t.Fatal(err)
	}
	return n
}

// countOrgHolders returns the number of rows of one organization.
func countOrgHolders(t *testing.T, db *sqlx.DB, org uuid.UUID) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM holders WHERE organization_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	return n
}

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := crm.ErrorCode(err); got != code {
		t.Fatalf("ErrorCode = %q, want %q (err: %v)", got, code, err)
	}
}

// assertInvalid fails unless err is EINVALID naming exactly fields.
func assertInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	assertCode(t, err, crm.EINVALID)
	var e *crm.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not a *crm.Error", err)
	}
	got := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
}

func mustCreate(t *testing.T, ctx context.Context, s *postgres.HolderService, h *crm.Holder) *crm.Holder {
	t.Helper()
	if err := s.CreateHolder(ctx, h); err != nil {
		t.Fatalf("CreateHolder: %v", err)
	}
	return h
}

// simpleHolder returns a minimal valid natural person.
func simpleHolder(document string) *crm.Holder {
	return &crm.Holder{Type: crm.NaturalPersonType, Name: "Holder " + document, Document: document}
}

func address(street string) *crm.Address {
	return &crm.Address{
		Line1: ptr(street), Line2: ptr("Bloco B, Apto 12"), ZipCode: ptr("04538-132"),
		City: ptr("São Paulo"), State: ptr("SP"), Country: ptr("BR"), Description: ptr("home"),
	}
}

// fullNatural returns a NATURAL_PERSON with every sub-object filled.
func fullNatural() *crm.Holder {
	return &crm.Holder{
		Type:       crm.NaturalPersonType,
		Name:       "Zephyrine Quillfeather",
		Document:   "987.654.321-XQ",
		ExternalID: ptr("crm-ext-0001"),
		Addresses: &crm.Addresses{
			Primary:     address("Rua Xilofone Azulado 4242"),
			Additional1: address("Avenida Pangolim Dourado 77"),
			Additional2: address("Travessa Ornitorrinco 3"),
		},
		Contact: &crm.Contact{
			PrimaryEmail:   ptr("zephyrine.quill@nowhere-example.org"),
			SecondaryEmail: ptr("zq.backup@nowhere-example.org"),
			MobilePhone:    ptr("+55 11 97777-3141"),
			OtherPhone:     ptr("+55 11 3555-2718"),
		},
		NaturalPerson: &crm.NaturalPerson{
			FavoriteName: ptr("Zeph"),
			SocialName:   ptr("Zephyrine Q."),
			Gender:       ptr("female"),
			BirthDate:    ptr(crm.NewDate(1987, time.February, 28)),
			CivilStatus:  ptr("single"),
			Nationality:  ptr("Brazilian"),
			MotherName:   ptr("Ottoline Brackenridge"),
			FatherName:   ptr("Barnabus Quillfeather"),
			Status:       ptr("active"),
		},
		Metadata: crm.Metadata{"segment": "retail", "score": 42.5, "count": 7, "active": true, "closedAt": nil},
	}
}

// fullLegal returns a LEGAL_PERSON with every sub-object filled.
func fullLegal() *crm.Holder {
	return &crm.Holder{
		Type:       crm.LegalPersonType,
		Name:       "Quasarcorp Indústria Ltda",
		Document:   "12.345.678/0001-95",
		ExternalID: ptr("crm-ext-0002"),
		Addresses: &crm.Addresses{
			Primary:     address("Alameda Quasar 1000"),
			Additional1: address("Rodovia Nebulosa km 12"),
			Additional2: address("Rua Pulsar 9"),
		},
		Contact: &crm.Contact{
			PrimaryEmail:   ptr("finance@quasarcorp-example.com"),
			SecondaryEmail: ptr("legal@quasarcorp-example.com"),
			MobilePhone:    ptr("+55 21 98888-1234"),
			OtherPhone:     ptr("+55 21 2222-4321"),
		},
		LegalPerson: &crm.LegalPerson{
			TradeName:    ptr("Quasarcorp"),
			Activity:     ptr("manufacturing"),
			Type:         ptr("LTDA"),
			FoundingDate: ptr(crm.NewDate(1999, time.December, 31)),
			Size:         ptr("large"),
			Status:       ptr("active"),
			Representative: &crm.Representative{
				Name:     ptr("Philomena Starling"),
				Document: ptr("111.222.333-44"),
				Email:    ptr("philomena@quasarcorp-example.com"),
				Role:     ptr("CEO"),
			},
		},
		Metadata: crm.Metadata{"segment": "corporate", "employees": 1200, "listed": false, "parent": nil},
	}
}

// jsonEqual compares two values by their JSON encoding (dates encode as YYYY-MM-DD).
func jsonEqual(t *testing.T, field string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", field, g, w)
	}
}

// assertHolderEqual compares every field of two holders.
func assertHolderEqual(t *testing.T, got, want *crm.Holder) {
	t.Helper()
	if got.ID != want.ID || got.OrganizationID != want.OrganizationID || got.Type != want.Type ||
		got.Name != want.Name || got.Document != want.Document || got.Version != want.Version {
		t.Errorf("holder = {%s %s %s %q %q v%d}, want {%s %s %s %q %q v%d}",
			got.ID, got.OrganizationID, got.Type, got.Name, got.Document, got.Version,
			want.ID, want.OrganizationID, want.Type, want.Name, want.Document, want.Version)
	}
	if !reflect.DeepEqual(got.ExternalID, want.ExternalID) {
		t.Errorf("ExternalID = %v, want %v", got.ExternalID, want.ExternalID)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("CreatedAt/UpdatedAt = %v/%v, want %v/%v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	if (got.DeletedAt == nil) != (want.DeletedAt == nil) || (got.DeletedAt != nil && !got.DeletedAt.Equal(*want.DeletedAt)) {
		t.Errorf("DeletedAt = %v, want %v", got.DeletedAt, want.DeletedAt)
	}
	jsonEqual(t, "Addresses", got.Addresses, want.Addresses)
	jsonEqual(t, "Contact", got.Contact, want.Contact)
	jsonEqual(t, "NaturalPerson", got.NaturalPerson, want.NaturalPerson)
	jsonEqual(t, "LegalPerson", got.LegalPerson, want.LegalPerson)
	if !reflect.DeepEqual(got.Metadata, want.Metadata) {
		t.Errorf("Metadata = %#v, want %#v", got.Metadata, want.Metadata)
	}
}

func TestHolderService_CreateHolder_RoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		holder   func() *crm.Holder
		metadata crm.Metadata // as read back: numbers are float64
	}{
		{"NaturalPerson", fullNatural, crm.Metadata{"segment": "retail", "score": 42.5, "count": 7.0, "active": true, "closedAt": nil}},
		{"LegalPerson", fullLegal, crm.Metadata{"segment": "corporate", "employees": 1200.0, "listed": false, "parent": nil}},
		{"Minimal", func() *crm.Holder { return simpleHolder("000.000.001-91") }, crm.Metadata{}},
	}
	_, s := newService(t) // shared by the subtests, each in its own organization
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, org := orgContext()

			before := time.Now().Add(-time.Second)
			h := mustCreate(t, ctx, s, tt.holder())
			after := time.Now().Add(time.Second)

			if h.ID == uuid.Nil || h.ID.Version() != 7 {
				t.Errorf("ID = %s (version %d), want a UUIDv7", h.ID, h.ID.Version())
			}
			if h.OrganizationID != org {
				t.Errorf("OrganizationID = %s, want %s", h.OrganizationID, org)
			}
			if h.Version != 1 {
				t.Errorf("Version = %d, want 1", h.Version)
			}
			if !h.CreatedAt.Equal(h.UpdatedAt) {
				t.Errorf("CreatedAt %v != UpdatedAt %v", h.CreatedAt, h.UpdatedAt)
			}
			if h.CreatedAt.Before(before) || h.CreatedAt.After(after) {
				t.Errorf("CreatedAt = %v, want about now", h.CreatedAt)
			}
			if h.DeletedAt != nil {
				t.Errorf("DeletedAt = %v, want nil", h.DeletedAt)
			}

			want := tt.holder()
			want.ID, want.OrganizationID, want.Version = h.ID, org, 1
			want.CreatedAt, want.UpdatedAt = h.CreatedAt, h.UpdatedAt
			want.Metadata = tt.metadata

			got, err := s.FindHolderByID(ctx, h.ID, false)
			if err != nil {
				t.Fatalf("FindHolderByID: %v", err)
			}
			assertHolderEqual(t, got, want)

			// The document is stored as sent and found in any punctuation.
			byDoc, err := s.FindHolderByDocument(ctx, crm.NormalizeDocument(want.Document))
			if err != nil {
				t.Fatalf("FindHolderByDocument: %v", err)
			}
			assertHolderEqual(t, byDoc, want)

			byIDs, err := s.FindHoldersByIDs(ctx, []uuid.UUID{h.ID})
			if err != nil {
				t.Fatalf("FindHoldersByIDs: %v", err)
			}
			if len(byIDs) != 1 {
				t.Fatalf("FindHoldersByIDs returned %d holders, want 1", len(byIDs))
			}
			assertHolderEqual(t, byIDs[0], want)
		})
	}
}

func TestHolderService_CreateHolder_IDsIncrease(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	a := mustCreate(t, ctx, s, simpleHolder("1"))
	b := mustCreate(t, ctx, s, simpleHolder("2"))
	if bytes.Compare(a.ID[:], b.ID[:]) >= 0 {
		t.Fatalf("second id %s does not sort after first %s", b.ID, a.ID)
	}
	if a.ID == b.ID {
		t.Fatal("two holders share an id")
	}
}

func TestHolderService_CreateHolder_Invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(h *crm.Holder)
		fields []string
	}{
		{"NameMissing", func(h *crm.Holder) { h.Name = "" }, []string{"name"}},
		{"DocumentPunctuationOnly", func(h *crm.Holder) { h.Document = "../-" }, []string{"document"}},
		{"TypeUnknown", func(h *crm.Holder) { h.Type = "ROBOT" }, []string{"type"}},
		{"BadEmail", func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("zephyrine at nowhere") }, []string{"contact.primaryEmail"}},
		{"BadCountry", func(h *crm.Holder) { h.Addresses.Additional2.Country = ptr("XX") }, []string{"addresses.additional2.country"}},
		// An empty legalPerson is absent (see TestHolderService_EmptyObjects), so it needs a field.
		{"LegalPersonOnNaturalPerson", func(h *crm.Holder) { h.LegalPerson = &crm.LegalPerson{Size: ptr("small")} }, []string{"legalPerson"}},
		{"BirthDateInFuture", func(h *crm.Holder) {
			n := time.Now().UTC()
			h.NaturalPerson.BirthDate = ptr(crm.NewDate(n.Year()+1, n.Month(), 1))
		}, []string{"naturalPerson.birthDate"}},
		{"MetadataNested", func(h *crm.Holder) { h.Metadata["address"] = map[string]any{"street": "x"} }, []string{"metadata.address"}},
		{"Several", func(h *crm.Holder) { h.Name, h.Contact.SecondaryEmail = "", ptr("@") }, []string{"name", "contact.secondaryEmail"}},
	}
	db, s := newService(t) // shared: every create below is refused, so the table stays empty
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, _ := orgContext()
			h := fullNatural()
			tt.mutate(h)
			err := s.CreateHolder(ctx, h)
			assertInvalid(t, err, tt.fields...)
			if h.ID != uuid.Nil || h.Version != 0 {
				t.Errorf("a refused holder was given ID %s, version %d", h.ID, h.Version)
			}
			if n := countHolders(t, db); n != 0 {
				t.Fatalf("holders has %d rows after a refused create, want 0", n)
			}
		})
	}
}

// Regression (fixed bug): crm/validate.go:40 (checkOptional) and crm/metadata.go:43-62 accept NUL in
// externalId and in metadata keys and values, and invalid UTF-8 in metadata values.
// PostgreSQL refuses NUL in text and jsonb (SQLSTATE 22021 / 22P05), which
// postgres/errors.go:15 (formatError) passes through, so the client gets
// INTERNAL_SERVER_ERROR for bad input; json.Marshal replaces invalid UTF-8 with U+FFFD,
// so a different value is stored without a word. Fix: reject these in Validate (see
// internal/crm/holder_test.go), and as a safety net map SQLSTATE 22021 and 22P05 to
// EINVALID in formatError.
func TestHolderService_CreateHolder_UnstorableStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(h *crm.Holder)
		fields []string
	}{
		{"ExternalIDNUL", func(h *crm.Holder) { h.ExternalID = ptr("ext\x00-1") }, []string{"externalId"}},
		{"MetadataValueNUL", func(h *crm.Holder) { h.Metadata = crm.Metadata{"k": "a\x00b"} }, []string{"metadata.k"}},
		{"MetadataKeyNUL", func(h *crm.Holder) { h.Metadata = crm.Metadata{"k\x00": "v"} }, []string{"metadata"}},
		{"MetadataValueInvalidUTF8", func(h *crm.Holder) { h.Metadata = crm.Metadata{"k": "a\xffb"} }, []string{"metadata.k"}},
	}
	db, s := newService(t) // shared by the subtests, each in its own organization
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, org := orgContext()
			h := simpleHolder("123")
			tt.mutate(h)
			assertInvalid(t, s.CreateHolder(ctx, h), tt.fields...)
			if n := countOrgHolders(t, db, org); n != 0 {
				t.Fatalf("holders has %d rows after a refused create, want 0", n)
			}
		})
	}
}

func TestHolderService_CreateHolder_DuplicateDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		first        string
		firstType    crm.HolderType
		second       string
		secondType   crm.HolderType
		wantConflict bool
	}{
		{"SameText", "123.456.789-09", crm.NaturalPersonType, "123.456.789-09", crm.NaturalPersonType, true},
		{"PunctuatedThenBare", "123.456.789-09", crm.NaturalPersonType, "12345678909", crm.NaturalPersonType, true},
		{"BareThenPunctuated", "12345678909", crm.NaturalPersonType, "123 456 789/09", crm.NaturalPersonType, true},
		{"CaseInsensitive", "gb-123-abc", crm.NaturalPersonType, "GB123ABC", crm.NaturalPersonType, true},
		{"AcrossTypes", "12.345.678/0001-95", crm.NaturalPersonType, "12345678000195", crm.LegalPersonType, true},
		{"DifferentDocuments", "123.456.789-09", crm.NaturalPersonType, "123.456.789-08", crm.NaturalPersonType, false},
	}
	db, s := newService(t) // shared by the subtests, each in its own organization
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, org := orgContext()
			first := simpleHolder(tt.first)
			first.Type = tt.firstType
			mustCreate(t, ctx, s, first)

			second := simpleHolder(tt.second)
			second.Type = tt.secondType
			err := s.CreateHolder(ctx, second)
			if !tt.wantConflict {
				if err != nil {
					t.Fatalf("CreateHolder: %v", err)
				}
				return
			}
			assertCode(t, err, crm.EDOCUMENTEXISTS)
			if second.ID != uuid.Nil {
				t.Errorf("a refused holder was given ID %s", second.ID)
			}
			if n := countOrgHolders(t, db, org); n != 1 {
				t.Fatalf("the organization has %d holders, want 1", n)
			}
			// The survivor keeps the form its client sent.
			got, err := s.FindHolderByDocument(ctx, tt.second)
			if err != nil {
				t.Fatalf("FindHolderByDocument: %v", err)
			}
			if got.ID != first.ID || got.Document != tt.first {
				t.Fatalf("FindHolderByDocument = %s %q, want %s %q", got.ID, got.Document, first.ID, tt.first)
			}
		})
	}
}

func TestHolderService_CreateHolder_SameDocumentTwoOrganizations(t *testing.T) {
	t.Parallel()
	db, s := newService(t)
	ctxA, orgA := orgContext()
	ctxB, orgB := orgContext()
	a := mustCreate(t, ctxA, s, simpleHolder("123.456.789-09"))
	b := mustCreate(t, ctxB, s, simpleHolder("12345678909"))
	if n := countHolders(t, db); n != 2 {
		t.Fatalf("holders has %d rows, want 2", n)
	}
	for _, tt := range []struct {
		ctx  context.Context
		org  uuid.UUID
		want uuid.UUID
	}{{ctxA, orgA, a.ID}, {ctxB, orgB, b.ID}} {
		got, err := s.FindHolderByDocument(tt.ctx, "123.456.789-09")
		if err != nil {
			t.Fatalf("FindHolderByDocument in %s: %v", tt.org, err)
		}
		if got.ID != tt.want || got.OrganizationID != tt.org {
			t.Fatalf("FindHolderByDocument in %s = %s (org %s), want %s", tt.org, got.ID, got.OrganizationID, tt.want)
		}
	}
	// The blind index is scoped to the organization: equal documents give unrelated tokens.
	var hashes [][]byte
	if err := db.Select(&hashes, `SELECT document_hash FROM holders`); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 2 || bytes.Equal(hashes[0], hashes[1]) {
		t.Fatalf("document hashes of two organizations are equal")
	}
}

func TestHolderService_CreateHolder_ConcurrentSameDocument(t *testing.T) {
	t.Parallel()
	db, s := newService(t)
	ctx, _ := orgContext()
	const n = 20
	errs := make([]error, n)
	forms := []string{"123.456.789-09", "12345678909", "123 456 789 09", "123-456-789.09"}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateHolder(ctx, simpleHolder(forms[i%len(forms)]))
		})
	}
	wg.Wait()
	var ok, exists int
	for i, err := range errs {
		switch crm.ErrorCode(err) {
		case "":
			ok++
		case crm.EDOCUMENTEXISTS:
			exists++
		default:
			t.Errorf("create %d: unexpected error %v", i, err)
		}
	}
	if ok != 1 || exists != n-1 {
		t.Fatalf("%d succeeded and %d got %s, want 1 and %d", ok, exists, crm.EDOCUMENTEXISTS, n-1)
	}
	if c := countHolders(t, db); c != 1 {
		t.Fatalf("holders has %d rows, want 1", c)
	}
}

func TestHolderService_Tenancy(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctxA, _ := orgContext()
	ctxB, _ := orgContext()
	h := mustCreate(t, ctxA, s, fullNatural())
	mustCreate(t, ctxB, s, simpleHolder("555")) // B is not empty

	t.Run("FindHolderByID", func(t *testing.T) {
		_, err := s.FindHolderByID(ctxB, h.ID, false)
		assertCode(t, err, crm.ENOTFOUND)
		_, err = s.FindHolderByID(ctxB, h.ID, true)
		assertCode(t, err, crm.ENOTFOUND)
	})
	t.Run("FindHolderByDocument", func(t *testing.T) {
		_, err := s.FindHolderByDocument(ctxB, h.Document)
		assertCode(t, err, crm.ENOTFOUND)
	})
	t.Run("FindHolders", func(t *testing.T) {
		for name, f := range map[string]crm.HolderFilter{
			"All":        {IncludeDeleted: true},
			"Document":   {Document: ptr(h.Document)},
			"ExternalID": {ExternalID: h.ExternalID},
			"Metadata":   {Metadata: crm.Metadata{"segment": "retail"}},
		} {
			f.Page = crm.Page{First: 100, Order: crm.CreatedAtAsc, WithTotal: true}
			p, err := s.FindHolders(ctxB, f)
			if err != nil {
				t.Fatalf("%s: FindHolders: %v", name, err)
			}
			for _, got := range p.Holders {
				if got.ID == h.ID {
					t.Fatalf("%s: org B sees org A's holder", name)
				}
			}
			if name != "All" && (len(p.Holders) != 0 || p.TotalCount != 0) {
				t.Fatalf("%s: org B got %d holders (total %d), want none", name, len(p.Holders), p.TotalCount)
			}
			if name == "All" && p.TotalCount != 1 {
				t.Fatalf("org B total = %d, want 1", p.TotalCount)
			}
		}
	})
	t.Run("FindHoldersByIDs", func(t *testing.T) {
		got, err := s.FindHoldersByIDs(ctxB, []uuid.UUID{h.ID})
		if err != nil {
			t.Fatalf("FindHoldersByIDs: %v", err)
		}
		if len(got) != 0 {
			t.Fatalf("org B got %d of org A's holders", len(got))
		}
	})
	t.Run("CursorFromOtherOrganization", func(t *testing.T) {
		// A cursor is only a position: it never opens another tenant's rows.
		p, err := s.FindHolders(ctxB, crm.HolderFilter{Page: crm.Page{First: 10, Order: crm.CreatedAtDesc, After: crm.Cursor(uuid.Max)}})
		if err != nil {
			t.Fatalf("FindHolders: %v", err)
		}
		if len(p.Holders) != 1 || p.Holders[0].ID == h.ID {
			t.Fatalf("got %d holders, want only org B's one", len(p.Holders))
		}
	})
}

func TestHolderService_MissingOrganization(t *testing.T) {
	t.Parallel()
	contexts := map[string]context.Context{
		"NoOrganization": context.Background(),
		"NilUUID":        crm.NewContextWithOrganization(context.Background(), uuid.Nil),
		"ErrorContext": crm.NewContextWithOrganizationError(context.Background(),
			crm.Errorf(crm.EMISSINGORG, "The X-Organization-Id header must be a UUID.")),
	}
	db, s := newService(t)
	// Seed one holder of a real organization so reads have something to leak.
	seedCtx, _ := orgContext()
	seeded := mustCreate(t, seedCtx, s, simpleHolder("42"))
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := fullNatural()
			assertCode(t, s.CreateHolder(ctx, h), crm.EMISSINGORG)
			if h.ID != uuid.Nil {
				t.Errorf("holder was given ID %s", h.ID)
			}
			invalid := &crm.Holder{} // the organization is checked before the input
			assertCode(t, s.CreateHolder(ctx, invalid), crm.EMISSINGORG)

			got, err := s.FindHolderByID(ctx, seeded.ID, true)
			assertCode(t, err, crm.EMISSINGORG)
			if got != nil {
				t.Error("FindHolderByID returned a holder")
			}
			_, err = s.FindHolderByDocument(ctx, "42")
			assertCode(t, err, crm.EMISSINGORG)
			page, err := s.FindHolders(ctx, crm.HolderFilter{Page: crm.Page{First: 10, Order: crm.CreatedAtAsc}})
			assertCode(t, err, crm.EMISSINGORG)
			if page != nil {
				t.Error("FindHolders returned a page")
			}
			hs, err := s.FindHoldersByIDs(ctx, []uuid.UUID{seeded.ID})
			assertCode(t, err, crm.EMISSINGORG)
			if hs != nil {
				t.Error("FindHoldersByIDs returned holders")
			}
			_, err = s.FindHoldersByIDs(ctx, nil)
			assertCode(t, err, crm.EMISSINGORG)

			if n := countHolders(t, db); n != 1 {
				t.Fatalf("holders has %d rows, want only the seeded one", n)
			}
		})
	}
}

func TestHolderService_EncryptionAtRest(t *testing.T) {
	t.Parallel()
	db, s := newService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, s, fullNatural())
	mustCreate(t, ctx, s, fullLegal())

	secrets := []string{
		h.Name,                            // "Zephyrine Quillfeather"
		h.Document,                        // "987.654.321-XQ"
		crm.NormalizeDocument(h.Document), // "987654321XQ"
		*h.Contact.PrimaryEmail,           // "zephyrine.quill@nowhere-example.org"
		*h.Addresses.Primary.Line1,        // "Rua Xilofone Azulado 4242"
		*h.Contact.MobilePhone,            // "+55 11 97777-3141"
		*h.NaturalPerson.MotherName,       // "Ottoline Brackenridge"
		"Quillfeather", "Xilofone", "Brackenridge", "nowhere-example",
		"Quasarcorp", "Philomena Starling", "Alameda Quasar", "12345678000195", "12.345.678/0001-95", "1999-12-31",
		"1987-02-28",
	}

	var raw []struct {
		DataEnc      []byte `db:"data_enc"`
		DocumentHash []byte `db:"document_hash"`
		Metadata     string `db:"metadata"`
	}
	if err := db.Select(&raw, `SELECT data_enc, document_hash, metadata FROM holders`); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 {
		t.Fatalf("read %d rows, want 2", len(raw))
	}
	for i, r := range raw {
		if len(r.DataEnc) == 0 || len(r.DocumentHash) != 32 {
			t.Errorf("row %d: data_enc has %d bytes, document_hash %d; want ciphertext and a 32-byte index", i, len(r.DataEnc), len(r.DocumentHash))
		}
		if binaryID := r.DataEnc[1:5]; !bytes.Equal(binaryID, keyIDBytes(pgtest.EncryptKey)) {
			t.Errorf("row %d: data_enc key id = %x, want the test key's id", i, binaryID)
		}
		for _, sec := range secrets {
			for _, col := range [][]byte{r.DataEnc, r.DocumentHash, []byte(r.Metadata)} {
				if bytes.Contains(bytes.ToLower(col), bytes.ToLower([]byte(sec))) {
					t.Errorf("row %d holds %q in plain text", i, sec)
				}
			}
		}
	}

	var rows []string
	if err := db.Select(&rows, `SELECT row_to_json(h)::text FROM holders h`); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		lower := strings.ToLower(row)
		for _, sec := range secrets {
			if strings.Contains(lower, strings.ToLower(sec)) {
				t.Errorf("row_to_json holds %q in plain text", sec)
			}
			// bytea columns are rendered as hex: look for the hex form too.
			if strings.Contains(lower, hex.EncodeToString([]byte(sec))) {
				t.Errorf("row_to_json holds %q hex-encoded", sec)
			}
		}
	}
}

func keyIDBytes(key []byte) []byte {
	id := fieldcrypt.KeyID(key)
	return []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
}

func TestHolderService_CiphertextBoundToRow(t *testing.T) {
	t.Parallel()
	db, s := newService(t) // shared by the subtests, each in its own organization

	t.Run("CopiedToAnotherRow", func(t *testing.T) {
		t.Parallel()
		ctx, _ := orgContext()
		x := mustCreate(t, ctx, s, fullNatural())
		y := mustCreate(t, ctx, s, fullLegal())

		res, err := db.Exec(`UPDATE holders SET data_enc = (SELECT data_enc FROM holders WHERE id = $1) WHERE id = $2`, x.ID, y.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("updated %d rows, want 1", n)
		}

		_, err = s.FindHolderByID(ctx, y.ID, false)
		assertCode(t, err, crm.EINTERNAL)
		if !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Errorf("err = %v, want it to wrap fieldcrypt.ErrDecrypt", err)
		}
		if strings.Contains(crm.ErrorMessage(err), "Zephyrine") {
			t.Error("client-facing message shows personal data")
		}
		// The original row still opens.
		got, err := s.FindHolderByID(ctx, x.ID, false)
		if err != nil {
			t.Fatalf("FindHolderByID(x): %v", err)
		}
		if got.Name != x.Name {
			t.Fatalf("x.Name = %q, want %q", got.Name, x.Name)
		}
		// Lists containing the tampered row fail rather than return forged data.
		_, err = s.FindHolders(ctx, crm.HolderFilter{Page: crm.Page{First: 10, Order: crm.CreatedAtAsc}})
		assertCode(t, err, crm.EINTERNAL)
		_, err = s.FindHoldersByIDs(ctx, []uuid.UUID{y.ID})
		assertCode(t, err, crm.EINTERNAL)
	})

	t.Run("MovedToAnotherOrganization", func(t *testing.T) {
		t.Parallel()
		ctxA, _ := orgContext()
		ctxB, orgB := orgContext()
		x := mustCreate(t, ctxA, s, fullNatural())
		if _, err := db.Exec(`UPDATE holders SET organization_id = $1 WHERE id = $2`, orgB, x.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindHolderByID(ctxB, x.ID, false)
		assertCode(t, err, crm.EINTERNAL)
		if !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Errorf("err = %v, want it to wrap fieldcrypt.ErrDecrypt", err)
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		ctx, _ := orgContext()
		x := mustCreate(t, ctx, s, fullNatural())
		other, err := fieldcrypt.New(bytes.Repeat([]byte{7}, 32), pgtest.HashKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = postgres.NewHolderService(db, other).FindHolderByID(ctx, x.ID, false)
		assertCode(t, err, crm.EINTERNAL)
		if !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Errorf("err = %v, want it to wrap fieldcrypt.ErrDecrypt", err)
		}
	})
}

func TestHolderService_FindHolderByID_NotFound(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	mustCreate(t, ctx, s, simpleHolder("1"))
	for _, id := range []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Nil} {
		_, err := s.FindHolderByID(ctx, id, false)
		assertCode(t, err, crm.ENOTFOUND)
	}
}

func TestHolderService_FindHolderByDocument(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, s, simpleHolder("ab.123-c"))
	for _, doc := range []string{"ab.123-c", "AB123C", "ab 123 c", "a/b/1/2/3/c"} {
		got, err := s.FindHolderByDocument(ctx, doc)
		if err != nil {
			t.Fatalf("FindHolderByDocument(%q): %v", doc, err)
		}
		if got.ID != h.ID {
			t.Fatalf("FindHolderByDocument(%q) = %s, want %s", doc, got.ID, h.ID)
		}
	}
	_, err := s.FindHolderByDocument(ctx, "AB123D")
	assertCode(t, err, crm.ENOTFOUND)
	_, err = s.FindHolderByDocument(ctx, "./-")
	assertInvalid(t, err, "document")
}

func TestHolderService_SoftDeletedRows(t *testing.T) {
	t.Parallel()
	db, s := newService(t)
	ctx, _ := orgContext()
	h := mustCreate(t, ctx, s, simpleHolder("123.456.789-09"))
	// There is no delete method yet: mark the row the way a soft delete does.
	if _, err := db.Exec(`UPDATE holders SET deleted_at = now() WHERE id = $1`, h.ID); err != nil {
		t.Fatal(err)
	}

	_, err := s.FindHolderByID(ctx, h.ID, false)
	assertCode(t, err, crm.ENOTFOUND)
	got, err := s.FindHolderByID(ctx, h.ID, true)
	if err != nil {
		t.Fatalf("FindHolderByID(includeDeleted): %v", err)
	}
	if got.DeletedAt == nil {
		t.Error("DeletedAt = nil for a soft-deleted holder")
	}
	_, err = s.FindHolderByDocument(ctx, h.Document)
	assertCode(t, err, crm.ENOTFOUND)
	hs, err := s.FindHoldersByIDs(ctx, []uuid.UUID{h.ID})
	if err != nil || len(hs) != 0 {
		t.Fatalf("FindHoldersByIDs = %d holders, %v; want none", len(hs), err)
	}
	page := crm.Page{First: 10, Order: crm.CreatedAtAsc, WithTotal: true}
	p, err := s.FindHolders(ctx, crm.HolderFilter{Page: page})
	if err != nil || len(p.Holders) != 0 || p.TotalCount != 0 {
		t.Fatalf("FindHolders = %+v, %v; want empty", p, err)
	}
	p, err = s.FindHolders(ctx, crm.HolderFilter{Page: page, IncludeDeleted: true})
	if err != nil || len(p.Holders) != 1 || p.TotalCount != 1 {
		t.Fatalf("FindHolders(IncludeDeleted) = %+v, %v; want the deleted holder", p, err)
	}

	// Uniqueness holds among active holders only.
	again := mustCreate(t, ctx, s, simpleHolder("12345678909"))
	got, err = s.FindHolderByDocument(ctx, "123.456.789-09")
	if err != nil || got.ID != again.ID {
		t.Fatalf("FindHolderByDocument = %v, %v; want the new holder", got, err)
	}
	assertCode(t, s.CreateHolder(ctx, simpleHolder("123.456.789/09")), crm.EDOCUMENTEXISTS)
}

// ids returns the ids of hs.
func ids(hs []*crm.Holder) []uuid.UUID {
	out := make([]uuid.UUID, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func TestHolderService_FindHolders_Filters(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	ctxOther, _ := orgContext()

	n1 := simpleHolder("111.111.111-11")
	n1.ExternalID, n1.Metadata = ptr("e-1"), crm.Metadata{"tier": "gold", "score": 5}
	n1 = mustCreate(t, ctx, s, n1)
	n2 := simpleHolder("222.222.222-22")
	n2.ExternalID, n2.Metadata = ptr("e-2"), crm.Metadata{"tier": "silver", "vip": true}
	n2 = mustCreate(t, ctx, s, n2)
	l1 := fullLegal()
	l1.ExternalID, l1.Metadata = ptr("e-1"), crm.Metadata{"tier": "gold", "vip": true, "score": 5.5}
	l1 = mustCreate(t, ctx, s, l1)
	// The same values in another organization must never show.
	o := simpleHolder("111.111.111-11")
	o.ExternalID, o.Metadata = ptr("e-1"), crm.Metadata{"tier": "gold", "score": 5}
	mustCreate(t, ctxOther, s, o)

	natural, legal := crm.NaturalPersonType, crm.LegalPersonType
	tests := []struct {
		name   string
		filter crm.HolderFilter
		want   []*crm.Holder // in creation order
	}{
		{"None", crm.HolderFilter{}, []*crm.Holder{n1, n2, l1}},
		{"TypeNatural", crm.HolderFilter{Type: &natural}, []*crm.Holder{n1, n2}},
		{"TypeLegal", crm.HolderFilter{Type: &legal}, []*crm.Holder{l1}},
		{"ExternalID", crm.HolderFilter{ExternalID: ptr("e-1")}, []*crm.Holder{n1, l1}},
		{"ExternalIDNoMatch", crm.HolderFilter{ExternalID: ptr("E-1")}, nil},
		{"DocumentAsStored", crm.HolderFilter{Document: ptr("111.111.111-11")}, []*crm.Holder{n1}},
		{"DocumentNormalised", crm.HolderFilter{Document: ptr("11111111111")}, []*crm.Holder{n1}},
		{"DocumentOtherPunctuation", crm.HolderFilter{Document: ptr("12 345 678 0001 95")}, []*crm.Holder{l1}},
		{"DocumentNoMatch", crm.HolderFilter{Document: ptr("333")}, nil},
		{"MetadataString", crm.HolderFilter{Metadata: crm.Metadata{"tier": "gold"}}, []*crm.Holder{n1, l1}},
		{"MetadataTwoKeys", crm.HolderFilter{Metadata: crm.Metadata{"tier": "gold", "vip": true}}, []*crm.Holder{l1}},
		{"MetadataBool", crm.HolderFilter{Metadata: crm.Metadata{"vip": true}}, []*crm.Holder{n2, l1}},
		{"MetadataIntMatchesStoredNumber", crm.HolderFilter{Metadata: crm.Metadata{"score": 5}}, []*crm.Holder{n1}},
		{"MetadataFloat", crm.HolderFilter{Metadata: crm.Metadata{"score": 5.5}}, []*crm.Holder{l1}},
		{"MetadataNoMatch", crm.HolderFilter{Metadata: crm.Metadata{"vip": false}}, nil},
		{"MetadataTypeMatters", crm.HolderFilter{Metadata: crm.Metadata{"score": "5"}}, nil},
		{"CreatedAfterInclusive", crm.HolderFilter{CreatedAfter: &n2.CreatedAt}, []*crm.Holder{n2, l1}},
		{"CreatedBeforeExclusive", crm.HolderFilter{CreatedBefore: &n2.CreatedAt}, []*crm.Holder{n1}},
		{"CreatedRange", crm.HolderFilter{CreatedAfter: &n2.CreatedAt, CreatedBefore: &l1.CreatedAt}, []*crm.Holder{n2}},
		{"CreatedFuture", crm.HolderFilter{CreatedAfter: ptr(time.Now().Add(time.Hour))}, nil},
		{"Combined", crm.HolderFilter{Type: &natural, ExternalID: ptr("e-1"), Metadata: crm.Metadata{"tier": "gold"}}, []*crm.Holder{n1}},
		{"CombinedNoMatch", crm.HolderFilter{Type: &legal, Document: ptr("11111111111")}, nil},
	}
	for _, tt := range tests {
		for _, order := range []crm.SortOrder{crm.CreatedAtAsc, crm.CreatedAtDesc} {
			for _, withTotal := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/total=%v", tt.name, order, withTotal), func(t *testing.T) {
					f := tt.filter
					f.Page = crm.Page{First: 10, Order: order, WithTotal: withTotal}
					p, err := s.FindHolders(ctx, f)
					if err != nil {
						t.Fatalf("FindHolders: %v", err)
					}
					want := ids(tt.want)
					if order == crm.CreatedAtDesc {
						slices.Reverse(want)
					}
					if got := ids(p.Holders); !slices.Equal(got, want) {
						t.Fatalf("ids = %v, want %v", got, want)
					}
					if p.HasNextPage {
						t.Error("HasNextPage = true on the only page")
					}
					wantTotal := -1
					if withTotal {
						wantTotal = len(want)
					}
					if p.TotalCount != wantTotal {
						t.Errorf("TotalCount = %d, want %d", p.TotalCount, wantTotal)
					}
				})
			}
		}
	}

	t.Run("HoldersAreDecrypted", func(t *testing.T) {
		p, err := s.FindHolders(ctx, crm.HolderFilter{Type: &legal, Page: crm.Page{First: 1, Order: crm.CreatedAtAsc}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Holders) != 1 {
			t.Fatalf("got %d holders", len(p.Holders))
		}
		assertHolderEqual(t, p.Holders[0], l1)
	})
}

func TestHolderService_FindHolders_InvalidPage(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	mustCreate(t, ctx, s, simpleHolder("1"))
	tests := []struct {
		name   string
		page   crm.Page
		fields []string
	}{
		{"FirstZero", crm.Page{First: 0, Order: crm.CreatedAtAsc}, []string{"first"}},
		{"First101", crm.Page{First: 101, Order: crm.CreatedAtAsc}, []string{"first"}},
		{"FirstNegative", crm.Page{First: -5, Order: crm.CreatedAtDesc}, []string{"first"}},
		{"BadCursor", crm.Page{First: 10, Order: crm.CreatedAtAsc, After: "definitely-not-a-cursor"}, []string{"after"}},
		{"CursorWrongLength", crm.Page{First: 10, Order: crm.CreatedAtAsc, After: "AAAA"}, []string{"after"}},
		{"BadOrder", crm.Page{First: 10, Order: "NAME"}, []string{"orderBy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.FindHolders(ctx, crm.HolderFilter{Page: tt.page})
			assertInvalid(t, err, tt.fields...)
			if p != nil {
				t.Error("a page was returned with the error")
			}
		})
	}
}

func TestHolderService_FindHolders_Pagination(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctx, _ := orgContext()
	ctxOther, _ := orgContext()

	const total = 250
	created := make([]uuid.UUID, 0, total)
	var even []uuid.UUID
	for i := range total {
		h := simpleHolder(fmt.Sprintf("DOC-%04d", i))
		parity := "odd"
		if i%2 == 0 {
			parity = "even"
		}
		h.Metadata = crm.Metadata{"parity": parity}
		mustCreate(t, ctx, s, h)
		created = append(created, h.ID)
		if parity == "even" {
			even = append(even, h.ID)
		}
		if i%50 == 0 { // interleave another organization's rows
			mustCreate(t, ctxOther, s, simpleHolder(fmt.Sprintf("DOC-%04d", i)))
		}
	}

	tests := []struct {
		name      string
		filter    crm.HolderFilter
		want      []uuid.UUID // ascending
		pageSizes []int
	}{
		{"All", crm.HolderFilter{}, created, []int{100, 100, 50}},
		{"Filtered", crm.HolderFilter{Metadata: crm.Metadata{"parity": "even"}}, even, []int{100, 25}},
	}
	for _, tt := range tests {
		for _, order := range []crm.SortOrder{crm.CreatedAtAsc, crm.CreatedAtDesc} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, order), func(t *testing.T) {
				want := slices.Clone(tt.want)
				if order == crm.CreatedAtDesc {
					slices.Reverse(want)
				}
				var got []uuid.UUID
				var sizes []int
				var more []bool
				after := ""
				for range 10 { // more than enough pages; guards against a loop that never ends
					f := tt.filter
					f.Page = crm.Page{First: 100, After: after, Order: order, WithTotal: true}
					p, err := s.FindHolders(ctx, f)
					if err != nil {
						t.Fatalf("FindHolders(after %q): %v", after, err)
					}
					if p.TotalCount != len(want) {
						t.Errorf("TotalCount = %d, want %d", p.TotalCount, len(want))
					}
					got = append(got, ids(p.Holders)...)
					sizes = append(sizes, len(p.Holders))
					more = append(more, p.HasNextPage)
					if !p.HasNextPage {
						break
					}
					after = crm.Cursor(p.Holders[len(p.Holders)-1].ID)
				}
				if !slices.Equal(sizes, tt.pageSizes) {
					t.Errorf("page sizes = %v, want %v", sizes, tt.pageSizes)
				}
				wantMore := make([]bool, len(tt.pageSizes))
				for i := range wantMore {
					wantMore[i] = i < len(wantMore)-1
				}
				if !slices.Equal(more, wantMore) {
					t.Errorf("HasNextPage = %v, want %v", more, wantMore)
				}
				seen := map[uuid.UUID]bool{}
				for _, id := range got {
					if seen[id] {
						t.Fatalf("holder %s returned twice", id)
					}
					seen[id] = true
				}
				if !slices.Equal(got, want) {
					t.Fatalf("walked %d holders, want %d in %s order without gaps", len(got), len(want), order)
				}
			})
		}
	}

	t.Run("FilteredPageEndsExactly", func(t *testing.T) {
		// A page that holds exactly the remaining rows has no next page.
		p, err := s.FindHolders(ctx, crm.HolderFilter{Page: crm.Page{First: 100, Order: crm.CreatedAtAsc}})
		if err != nil {
			t.Fatal(err)
		}
		if p.TotalCount != -1 {
			t.Errorf("TotalCount = %d without WithTotal, want -1", p.TotalCount)
		}
		p, err = s.FindHolders(ctx, crm.HolderFilter{
			Metadata: crm.Metadata{"parity": "odd"},
			Page:     crm.Page{First: 25, Order: crm.CreatedAtAsc, After: crm.Cursor(created[199])},
		})
		if err != nil {
			t.Fatal(err)
		}
		// created[201], [203], …, [249]: exactly 25 odd rows after index 199.
		if len(p.Holders) != 25 || p.HasNextPage {
			t.Fatalf("got %d holders, HasNextPage %v; want 25, false", len(p.Holders), p.HasNextPage)
		}
		if p.Holders[0].ID != created[201] || p.Holders[24].ID != created[249] {
			t.Fatal("page starts or ends at the wrong holder")
		}
	})

	t.Run("CursorOfUnknownID", func(t *testing.T) {
		// A cursor is a position, not a row: it need not exist.
		p, err := s.FindHolders(ctx, crm.HolderFilter{Page: crm.Page{First: 100, Order: crm.CreatedAtDesc, After: crm.Cursor(uuid.Max)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Holders) != 100 || p.Holders[0].ID != created[total-1] {
			t.Fatalf("got %d holders starting at %v, want the newest 100", len(p.Holders), ids(p.Holders[:1]))
		}
	})
}

func TestHolderService_FindHoldersByIDs(t *testing.T) {
	t.Parallel()
	_, s := newService(t)
	ctxA, _ := orgContext()
	ctxB, _ := orgContext()
	a1 := mustCreate(t, ctxA, s, simpleHolder("1"))
	a2 := mustCreate(t, ctxA, s, fullNatural())
	mustCreate(t, ctxA, s, simpleHolder("3")) // not asked for
	b1 := mustCreate(t, ctxB, s, simpleHolder("1"))

	tests := []struct {
		name string
		ctx  context.Context
		ids  []uuid.UUID
		want []uuid.UUID
	}{
		{"Found", ctxA, []uuid.UUID{a1.ID, a2.ID}, []uuid.UUID{a1.ID, a2.ID}},
		{"MissingIDsAbsent", ctxA, []uuid.UUID{uuid.New(), a2.ID, uuid.Must(uuid.NewV7())}, []uuid.UUID{a2.ID}},
		{"OtherOrganizationExcluded", ctxA, []uuid.UUID{a1.ID, b1.ID}, []uuid.UUID{a1.ID}},
		{"OnlyOtherOrganization", ctxA, []uuid.UUID{b1.ID}, nil},
		{"FromOrganizationB", ctxB, []uuid.UUID{a1.ID, a2.ID, b1.ID}, []uuid.UUID{b1.ID}},
		{"Duplicates", ctxA, []uuid.UUID{a1.ID, a1.ID}, []uuid.UUID{a1.ID}},
		{"Empty", ctxA, []uuid.UUID{}, nil},
		{"Nil", ctxA, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, err := s.FindHoldersByIDs(tt.ctx, tt.ids)
			if err != nil {
				t.Fatalf("FindHoldersByIDs: %v", err)
			}
			got := ids(hs)
			slices.SortFunc(got, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
			want := slices.Clone(tt.want)
			slices.SortFunc(want, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		})
	}

	t.Run("Decrypted", func(t *testing.T) {
		hs, err := s.FindHoldersByIDs(ctxA, []uuid.UUID{a2.ID})
		if err != nil || len(hs) != 1 {
			t.Fatalf("FindHoldersByIDs = %d, %v", len(hs), err)
		}
		want := *a2
		want.Metadata = crm.Metadata{"segment": "retail", "score": 42.5, "count": 7.0, "active": true, "closedAt": nil}
		assertHolderEqual(t, hs[0], &want)
	})
}
