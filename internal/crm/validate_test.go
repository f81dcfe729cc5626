package crm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

func TestNormalizeDocument(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"CPFWithPunctuation", "123.456.789-09", "12345678909"},
		{"CPFDigitsOnly", "12345678909", "12345678909"},
		{"CNPJ", "12.345.678/0001-95", "12345678000195"},
		{"Spaces", " 123 456 ", "123456"},
		{"LowerToUpper", "ab-12c", "AB12C"},
		{"MixedCase", "De123456789", "DE123456789"},
		{"UnicodeLettersKept", "ção-ñ 1", "ÇÃOÑ1"},
		{"NonLatinLettersKept", "数字-12", "数字12"},
		{"PunctuationOnly", ".-/ .", ""},
		{"SymbolsOnly", "+*#@!()[]", ""},
		{"Empty", "", ""},
		{"TabsAndNewlines", "\t12\n34\r", "1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crm.NormalizeDocument(tt.in); got != tt.want {
				t.Fatalf("NormalizeDocument(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeDocument_SameDocument(t *testing.T) {
	if a, b := crm.NormalizeDocument("123.456.789-09"), crm.NormalizeDocument("12345678909"); a != b {
		t.Fatalf("%q != %q", a, b)
	}
	if a, b := crm.NormalizeDocument("gb 123-456"), crm.NormalizeDocument("GB123456"); a != b {
		t.Fatalf("%q != %q", a, b)
	}
	if a, b := crm.NormalizeDocument("123.456.789-09"), crm.NormalizeDocument("123.456.789-08"); a == b {
		t.Fatalf("different documents normalise to the same %q", a)
	}
}

func TestNormalizeCode(t *testing.T) {
	if got, want := crm.NormalizeCode("gb82 west 1234-5698.7654 32"), "GB82WEST12345698765432"; got != want {
		t.Fatalf("NormalizeCode = %q, want %q", got, want)
	}
}

func TestIsCountryCode(t *testing.T) {
	for _, c := range []string{"BR", "US", "DE", "PT", "AX", "ZW", "SS"} {
		if !crm.IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"", "br", "Br", "XX", "UK", "EU", "BRA", "B", "076", " BR"} {
		if crm.IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = true, want false", c)
		}
	}
}

func TestPage_Validate(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	tests := []struct {
		name   string
		page   crm.Page
		fields []string // nil: valid
	}{
		{name: "Valid", page: crm.Page{First: 20, Order: crm.CreatedAtAsc}},
		{name: "ValidDesc", page: crm.Page{First: 1, Order: crm.CreatedAtDesc}},
		{name: "ValidMax", page: crm.Page{First: crm.MaxPageSize, Order: crm.CreatedAtAsc, WithTotal: true}},
		{name: "ValidCursor", page: crm.Page{First: 10, After: crm.Cursor(id), Order: crm.CreatedAtAsc}},
		{name: "FirstZero", page: crm.Page{First: 0, Order: crm.CreatedAtAsc}, fields: []string{"first"}},
		{name: "FirstNegative", page: crm.Page{First: -1, Order: crm.CreatedAtAsc}, fields: []string{"first"}},
		{name: "First101", page: crm.Page{First: 101, Order: crm.CreatedAtAsc}, fields: []string{"first"}},
		{name: "OrderMissing", page: crm.Page{First: 20}, fields: []string{"orderBy"}},
		{name: "OrderUnknown", page: crm.Page{First: 20, Order: "NAME_ASC"}, fields: []string{"orderBy"}},
		{name: "CursorGarbage", page: crm.Page{First: 20, After: "not a cursor!", Order: crm.CreatedAtAsc}, fields: []string{"after"}},
		{name: "CursorWrongLength", page: crm.Page{First: 20, After: base64.RawURLEncoding.EncodeToString([]byte("short")), Order: crm.CreatedAtAsc}, fields: []string{"after"}},
		{name: "CursorPadded", page: crm.Page{First: 20, After: base64.URLEncoding.EncodeToString(id[:]), Order: crm.CreatedAtAsc}, fields: []string{"after"}},
		{name: "CursorIsPlainUUID", page: crm.Page{First: 20, After: id.String(), Order: crm.CreatedAtAsc}, fields: []string{"after"}},
		{name: "Everything", page: crm.Page{First: 1000, After: "%%%", Order: "x"}, fields: []string{"first", "after", "orderBy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.page.Validate()
			assertValidation(t, err, tt.fields...)
		})
	}
}

func TestCursor_RoundTrip(t *testing.T) {
	for _, id := range []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.New(), uuid.Max} {
		c := crm.Cursor(id)
		if c == "" || c == id.String() {
			t.Fatalf("Cursor(%s) = %q: want an opaque non-empty token", id, c)
		}
		got, err := crm.Page{After: c}.AfterID()
		if err != nil {
			t.Fatalf("AfterID(%q) = %v", c, err)
		}
		if got != id {
			t.Fatalf("AfterID(Cursor(%s)) = %s", id, got)
		}
	}
}

func TestPage_AfterID(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		id, err := crm.Page{}.AfterID()
		if err != nil || id != uuid.Nil {
			t.Fatalf("AfterID() = %s, %v; want uuid.Nil, nil", id, err)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		_, err := crm.Page{After: "garbage!!"}.AfterID()
		assertInvalid(t, err, "after")
	})
	t.Run("TooLong", func(t *testing.T) {
		_, err := crm.Page{After: base64.RawURLEncoding.EncodeToString(make([]byte, 17))}.AfterID()
		assertInvalid(t, err, "after")
	})
}

func TestOrganizationFromContext(t *testing.T) {
	org := uuid.New()
	custom := crm.Errorf(crm.EMISSINGORG, "The X-Organization-Id header must be a UUID.")
	tests := []struct {
		name    string
		ctx     context.Context
		want    uuid.UUID
		code    string
		wantErr *crm.Error // when set, the exact error returned
	}{
		{name: "Valid", ctx: crm.NewContextWithOrganization(context.Background(), org), want: org},
		{name: "Absent", ctx: context.Background(), code: crm.EMISSINGORG},
		{name: "NilUUID", ctx: crm.NewContextWithOrganization(context.Background(), uuid.Nil), code: crm.EMISSINGORG},
		{name: "ErrorContext", ctx: crm.NewContextWithOrganizationError(context.Background(), custom), code: crm.EMISSINGORG, wantErr: custom},
		{name: "ErrorContextOtherCode", ctx: crm.NewContextWithOrganizationError(context.Background(), crm.Errorf(crm.EINVALID, "x")), code: crm.EINVALID},
		{name: "InnerValueWins", ctx: crm.NewContextWithOrganization(crm.NewContextWithOrganizationError(context.Background(), custom), org), want: org},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crm.OrganizationFromContext(tt.ctx)
			if code := crm.ErrorCode(err); code != tt.code {
				t.Fatalf("ErrorCode = %q, want %q (err: %v)", code, tt.code, err)
			}
			if got != tt.want {
				t.Fatalf("id = %s, want %s", got, tt.want)
			}
			if tt.wantErr != nil {
				var e *crm.Error
				if !errors.As(err, &e) || e != tt.wantErr {
					t.Fatalf("err = %v, want the context's error %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"Nil", nil, "", ""},
		{"CRMError", crm.Errorf(crm.ENOTFOUND, "Holder %s not found.", "x"), crm.ENOTFOUND, "Holder x not found."},
		{"Wrapped", fmt.Errorf("find: %w", crm.Errorf(crm.EDOCUMENTEXISTS, "exists")), crm.EDOCUMENTEXISTS, "exists"},
		{"Plain", errors.New("pq: relation does not exist"), crm.EINTERNAL, "Internal error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crm.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := crm.ErrorMessage(tt.err); got != tt.msg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.msg)
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	var fe crm.FieldErrors
	if err := fe.Err(); err != nil {
		t.Fatalf("empty FieldErrors.Err() = %v, want nil", err)
	}
	fe.Add("b", "first reason")
	fe.Add("a", "x")
	fe.Add("b", "second reason")
	err := fe.Err()
	assertInvalid(t, err, "a", "b")
	var e *crm.Error
	errors.As(err, &e)
	if e.Fields["b"] != "first reason" {
		t.Errorf("Fields[b] = %q, want the first reason", e.Fields["b"])
	}
	if e.Message != "Invalid input: a, b." {
		t.Errorf("Message = %q", e.Message)
	}
	assertInvalid(t, crm.InvalidField("after", "bad"), "after")
}

func TestParseDate(t *testing.T) {
	d, err := crm.ParseDate("2024-02-29")
	if err != nil {
		t.Fatalf("ParseDate = %v", err)
	}
	if d.String() != "2024-02-29" {
		t.Fatalf("String() = %q", d.String())
	}
	for _, s := range []string{"", "2023-02-29", "29/02/2024", "2024-2-9", "2024-02-29T00:00:00Z"} {
		if _, err := crm.ParseDate(s); crm.ErrorCode(err) != crm.EINVALID {
			t.Errorf("ParseDate(%q) code = %q, want %q", s, crm.ErrorCode(err), crm.EINVALID)
		}
	}
}

// Regression (fixed bug): filters were not validated beyond their page, so text
// PostgreSQL cannot store (NUL) reached the query and came back, through the SQLSTATE
// 22021 mapping, as BAD_USER_INPUT naming no field; a metadata number beyond float64
// was compared as sent with values stored rounded. Filters now follow the create rules.
func TestHolderFilter_Validate(t *testing.T) {
	page := crm.Page{First: 20, Order: crm.CreatedAtAsc}
	tests := []struct {
		name   string
		filter crm.HolderFilter
		fields []string // nil: valid
	}{
		{name: "Empty", filter: crm.HolderFilter{Page: page}},
		{name: "Valid", filter: crm.HolderFilter{Page: page, Type: ptr(crm.LegalPersonType), ExternalID: ptr("ext-1"), Document: ptr("123"),
			Metadata: crm.Metadata{"segment": "retail", "n": json.Number("9007199254740992"), "vip": true, "note": nil}}},
		// A filter value longer than any stored one matches nothing; it is not an error.
		{name: "LongExternalID", filter: crm.HolderFilter{Page: page, ExternalID: ptr(strings.Repeat("x", 300))}},
		{name: "ExternalIDNUL", filter: crm.HolderFilter{Page: page, ExternalID: ptr("a\x00b")}, fields: []string{"filter.externalId"}},
		{name: "DocumentNUL", filter: crm.HolderFilter{Page: page, Document: ptr("1\x002")}, fields: []string{"filter.document"}},
		{name: "ExternalIDInvalidUTF8", filter: crm.HolderFilter{Page: page, ExternalID: ptr("a\xffb")}, fields: []string{"filter.externalId"}},
		{name: "TypeUnknown", filter: crm.HolderFilter{Page: page, Type: ptr(crm.HolderType("ROBOT"))}, fields: []string{"filter.type"}},
		{name: "MetadataValueNUL", filter: crm.HolderFilter{Page: page, Metadata: crm.Metadata{"k": "a\x00b"}}, fields: []string{"filter.metadata.k"}},
		{name: "MetadataKeyNUL", filter: crm.HolderFilter{Page: page, Metadata: crm.Metadata{"k\x00": "v"}}, fields: []string{"filter.metadata"}},
		{name: "MetadataNumberBeyondFloat64", filter: crm.HolderFilter{Page: page, Metadata: crm.Metadata{"n": json.Number("9007199254740993")}}, fields: []string{"filter.metadata.n"}},
		{name: "MetadataNested", filter: crm.HolderFilter{Page: page, Metadata: crm.Metadata{"n": map[string]any{}}}, fields: []string{"filter.metadata.n"}},
		{name: "WithPage", filter: crm.HolderFilter{Page: crm.Page{First: 0, Order: crm.CreatedAtAsc}, ExternalID: ptr("\x00")}, fields: []string{"first", "filter.externalId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			assertValidation(t, err, tt.fields...)
		})
	}
}

func TestHolderFilter_Validate_NormalisesMetadataNumbers(t *testing.T) {
	f := crm.HolderFilter{Page: crm.Page{First: 1, Order: crm.CreatedAtAsc}, Metadata: crm.Metadata{"n": json.Number("2.50")}}
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if got := f.Metadata["n"]; got != 2.5 {
		t.Fatalf("metadata[n] = %#v (%T), want 2.5 as stored", got, got)
	}
}

func TestAliasAccountFilter_Validate(t *testing.T) {
	page := crm.Page{First: 20, Order: crm.CreatedAtDesc}
	nul := ptr("a\x00b")
	tests := []struct {
		name   string
		filter crm.AliasAccountFilter
		fields []string // nil: valid
	}{
		{name: "Empty", filter: crm.AliasAccountFilter{Page: page}},
		{name: "Valid", filter: crm.AliasAccountFilter{Page: page, HolderDocument: ptr("1"), BankAccount: ptr("2"), IBAN: ptr("DE89"), Branch: ptr("0001"),
			ParticipantDocument: ptr("3"), RelatedPartyDocument: ptr("4"), RelatedPartyRole: ptr(crm.PrimaryHolder), Metadata: crm.Metadata{"tier": json.Number("2")}}},
		{name: "HolderDocumentNUL", filter: crm.AliasAccountFilter{Page: page, HolderDocument: nul}, fields: []string{"filter.holderDocument"}},
		{name: "BankAccountNUL", filter: crm.AliasAccountFilter{Page: page, BankAccount: nul}, fields: []string{"filter.bankAccount"}},
		{name: "IBANNUL", filter: crm.AliasAccountFilter{Page: page, IBAN: nul}, fields: []string{"filter.iban"}},
		{name: "BranchNUL", filter: crm.AliasAccountFilter{Page: page, Branch: nul}, fields: []string{"filter.branch"}},
		{name: "ParticipantDocumentNUL", filter: crm.AliasAccountFilter{Page: page, ParticipantDocument: nul}, fields: []string{"filter.participantDocument"}},
		{name: "RelatedPartyDocumentNUL", filter: crm.AliasAccountFilter{Page: page, RelatedPartyDocument: nul}, fields: []string{"filter.relatedPartyDocument"}},
		{name: "RelatedPartyRoleUnknown", filter: crm.AliasAccountFilter{Page: page, RelatedPartyRole: ptr(crm.RelatedPartyRole("BOSS"))}, fields: []string{"filter.relatedPartyRole"}},
		{name: "MetadataValueNUL", filter: crm.AliasAccountFilter{Page: page, Metadata: crm.Metadata{"k": "\x00"}}, fields: []string{"filter.metadata.k"}},
		{name: "MetadataNumberBeyondFloat64", filter: crm.AliasAccountFilter{Page: page, Metadata: crm.Metadata{"n": int64(1<<53 + 1)}}, fields: []string{"filter.metadata.n"}},
		{name: "Several", filter: crm.AliasAccountFilter{Page: crm.Page{First: 20, Order: crm.CreatedAtDesc, After: "%"}, Branch: nul, IBAN: nul},
			fields: []string{"after", "filter.branch", "filter.iban"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			assertValidation(t, err, tt.fields...)
		})
	}
}
