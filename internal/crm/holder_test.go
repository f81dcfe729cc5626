package crm_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

func ptr[T any](v T) *T { return &v }

// naturalHolder returns a NATURAL_PERSON holder with every field filled and valid.
func naturalHolder() *crm.Holder {
	return &crm.Holder{
		Type:       crm.NaturalPersonType,
		Name:       "Maria da Silva",
		Document:   "123.456.789-09",
		ExternalID: ptr("ext-1"),
		Addresses: &crm.Addresses{
			Primary:     validAddress(),
			Additional1: validAddress(),
			Additional2: validAddress(),
		},
		Contact: &crm.Contact{
			PrimaryEmail:   ptr("maria@example.com"),
			SecondaryEmail: ptr("maria.silva@example.com.br"),
			MobilePhone:    ptr("+55 11 91234-5678"),
			OtherPhone:     ptr("+55 11 3123-4567"),
		},
		NaturalPerson: &crm.NaturalPerson{
			FavoriteName: ptr("Maria"),
			SocialName:   ptr("Maria S."),
			Gender:       ptr("female"),
			BirthDate:    ptr(crm.NewDate(1990, time.May, 17)),
			CivilStatus:  ptr("married"),
			Nationality:  ptr("Brazilian"),
			MotherName:   ptr("Ana da Silva"),
			FatherName:   ptr("José da Silva"),
			Status:       ptr("active"),
		},
		Metadata: crm.Metadata{"tier": "gold", "score": 4.5, "vip": true, "note": nil},
	}
}

// legalHolder returns a LEGAL_PERSON holder with every field filled and valid.
func legalHolder() *crm.Holder {
	return &crm.Holder{
		Type:       crm.LegalPersonType,
		Name:       "Acme Comércio Ltda",
		Document:   "12.345.678/0001-95",
		ExternalID: ptr("ext-2"),
		Addresses:  &crm.Addresses{Primary: validAddress()},
		Contact:    &crm.Contact{PrimaryEmail: ptr("contato@acme.com.br")},
		LegalPerson: &crm.LegalPerson{
			TradeName:    ptr("Acme"),
			Activity:     ptr("retail"),
			Type:         ptr("LTDA"),
			FoundingDate: ptr(crm.NewDate(2001, time.January, 2)),
			Size:         ptr("medium"),
			Status:       ptr("active"),
			Representative: &crm.Representative{
				Name:     ptr("João Souza"),
				Document: ptr("987.654.321-00"),
				Email:    ptr("joao@acme.com.br"),
				Role:     ptr("director"),
			},
		},
	}
}

func validAddress() *crm.Address {
	return &crm.Address{
		Line1:       ptr("Rua das Flores, 123"),
		Line2:       ptr("Apto 45"),
		ZipCode:     ptr("01234-567"),
		City:        ptr("São Paulo"),
		State:       ptr("SP"),
		Country:     ptr("BR"),
		Description: ptr("home"),
	}
}

// assertInvalid fails unless err is EINVALID naming exactly fields.
// assertValidation fails unless err is nil when fields is empty, or else EINVALID naming
// exactly fields (assertInvalid).
func assertValidation(t *testing.T, err error, fields ...string) {
	t.Helper()
	if len(fields) == 0 {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	assertInvalid(t, err, fields...)
}

func assertInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	if code := crm.ErrorCode(err); code != crm.EINVALID {
		t.Fatalf("ErrorCode = %q, want %q (err: %v)", code, crm.EINVALID, err)
	}
	var e *crm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *crm.Error", err)
	}
	got := make([]string, 0, len(e.Fields))
	for k, why := range e.Fields {
		if why == "" {
			t.Errorf("field %q has no reason", k)
		}
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
}

func todayUTC() crm.Date {
	n := time.Now().UTC()
	return crm.NewDate(n.Year(), n.Month(), n.Day())
}

// inTwoDays is safely in the future even if the test runs across midnight.
func inTwoDays() crm.Date {
	n := time.Now().UTC()
	return crm.NewDate(n.Year(), n.Month(), n.Day()+2)
}

func manyKeys(n int) crm.Metadata {
	m := crm.Metadata{}
	for i := range n {
		m["k"+strconv.Itoa(i)] = i
	}
	return m
}

func TestHolder_Validate(t *testing.T) {
	long := func(r rune, n int) string { return strings.Repeat(string(r), n) }
	key101 := long('k', 101)

	tests := []struct {
		name   string
		base   func() *crm.Holder // naturalHolder when nil
		mutate func(h *crm.Holder)
		fields []string // nil: valid
	}{
		{name: "ValidNaturalPersonFull"},
		{name: "ValidLegalPersonFull", base: legalHolder},
		{name: "ValidMinimal", base: func() *crm.Holder {
			return &crm.Holder{Type: crm.NaturalPersonType, Name: "A", Document: "1"}
		}},

		// type
		{name: "TypeMissing", mutate: func(h *crm.Holder) { h.Type = "" }, fields: []string{"type"}},
		{name: "TypeUnknown", mutate: func(h *crm.Holder) { h.Type = "ROBOT" }, fields: []string{"type"}},
		{name: "TypeLowerCase", mutate: func(h *crm.Holder) { h.Type = "natural_person" }, fields: []string{"type"}},

		// name
		{name: "NameMissing", mutate: func(h *crm.Holder) { h.Name = "" }, fields: []string{"name"}},
		{name: "NameBlank", mutate: func(h *crm.Holder) { h.Name = " \t\n" }, fields: []string{"name"}},
		{name: "Name256ASCII", mutate: func(h *crm.Holder) { h.Name = long('a', 256) }},
		{name: "Name257ASCII", mutate: func(h *crm.Holder) { h.Name = long('a', 257) }, fields: []string{"name"}},
		// 256 characters of two bytes each: the limit counts characters, not bytes.
		{name: "Name256MultiByteChars", mutate: func(h *crm.Holder) { h.Name = long('é', 256) }},
		{name: "Name257MultiByteChars", mutate: func(h *crm.Holder) { h.Name = long('é', 257) }, fields: []string{"name"}},
		{name: "NameInvalidUTF8", mutate: func(h *crm.Holder) { h.Name = "Maria \xff" }, fields: []string{"name"}},

		// document
		{name: "DocumentMissing", mutate: func(h *crm.Holder) { h.Document = "" }, fields: []string{"document"}},
		{name: "DocumentBlank", mutate: func(h *crm.Holder) { h.Document = "   " }, fields: []string{"document"}},
		{name: "DocumentPunctuationOnly", mutate: func(h *crm.Holder) { h.Document = ".-/ ." }, fields: []string{"document"}},
		{name: "Document100ThreeByteChars", mutate: func(h *crm.Holder) { h.Document = long('数', 100) }},
		{name: "Document101ThreeByteChars", mutate: func(h *crm.Holder) { h.Document = long('数', 101) }, fields: []string{"document"}},
		{name: "DocumentAnyCountryFormat", mutate: func(h *crm.Holder) { h.Document = "DE 123 456 789" }},

		// externalId
		{name: "ExternalID256", mutate: func(h *crm.Holder) { h.ExternalID = ptr(long('x', 256)) }},
		{name: "ExternalID257", mutate: func(h *crm.Holder) { h.ExternalID = ptr(long('x', 257)) }, fields: []string{"externalId"}},
		{name: "ExternalIDInvalidUTF8", mutate: func(h *crm.Holder) { h.ExternalID = ptr("\xc3") }, fields: []string{"externalId"}},

		// addresses
		{name: "AddressLine1TooLong", mutate: func(h *crm.Holder) { h.Addresses.Primary.Line1 = ptr(long('ã', 257)) }, fields: []string{"addresses.primary.line1"}},
		{name: "AddressLine1MaxChars", mutate: func(h *crm.Holder) { h.Addresses.Primary.Line1 = ptr(long('ã', 256)) }},
		{name: "AddressLine2TooLong", mutate: func(h *crm.Holder) { h.Addresses.Additional1.Line2 = ptr(long('a', 257)) }, fields: []string{"addresses.additional1.line2"}},
		{name: "AddressZipCodeTooLong", mutate: func(h *crm.Holder) { h.Addresses.Additional2.ZipCode = ptr(long('9', 21)) }, fields: []string{"addresses.additional2.zipCode"}},
		{name: "AddressZipCodeMax", mutate: func(h *crm.Holder) { h.Addresses.Additional2.ZipCode = ptr(long('9', 20)) }},
		{name: "AddressCityTooLong", mutate: func(h *crm.Holder) { h.Addresses.Primary.City = ptr(long('c', 101)) }, fields: []string{"addresses.primary.city"}},
		{name: "AddressStateTooLong", mutate: func(h *crm.Holder) { h.Addresses.Primary.State = ptr(long('s', 101)) }, fields: []string{"addresses.primary.state"}},
		{name: "AddressDescriptionTooLong", mutate: func(h *crm.Holder) { h.Addresses.Primary.Description = ptr(long('d', 101)) }, fields: []string{"addresses.primary.description"}},
		{name: "AddressesEmpty", mutate: func(h *crm.Holder) { h.Addresses = &crm.Addresses{} }},

		// country
		{name: "CountryLowerCase", mutate: func(h *crm.Holder) { h.Addresses.Primary.Country = ptr("br") }, fields: []string{"addresses.primary.country"}},
		{name: "CountryUnassigned", mutate: func(h *crm.Holder) { h.Addresses.Primary.Country = ptr("XX") }, fields: []string{"addresses.primary.country"}},
		{name: "CountryAlpha3", mutate: func(h *crm.Holder) { h.Addresses.Primary.Country = ptr("BRA") }, fields: []string{"addresses.primary.country"}},
		{name: "CountryEmpty", mutate: func(h *crm.Holder) { h.Addresses.Additional1.Country = ptr("") }, fields: []string{"addresses.additional1.country"}},
		{name: "CountryNumeric", mutate: func(h *crm.Holder) { h.Addresses.Additional2.Country = ptr("76") }, fields: []string{"addresses.additional2.country"}},
		{name: "CountryOtherValid", mutate: func(h *crm.Holder) {
			h.Addresses.Primary.Country, h.Addresses.Additional1.Country, h.Addresses.Additional2.Country = ptr("US"), ptr("DE"), ptr("ZW")
		}},
		{name: "CountryAbsent", mutate: func(h *crm.Holder) { h.Addresses.Primary.Country = nil }},

		// contact
		{name: "EmailNoAt", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria.example.com") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailNoDomainDot", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@localhost") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailDoubleAt", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@@example.com") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailDisplayName", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("Maria <maria@example.com>") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailAngleBrackets", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("<maria@example.com>") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailComment", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@example.com (home)") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailSurroundingSpace", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr(" maria@example.com ") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailSpaceInside", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("ma ria@example.com") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailEmptyLocal", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("@example.com") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailEmptyDomain", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailDoubleDot", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@example..com") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailTrailingNewline", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("maria@example.com\n") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailEmpty", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("") }, fields: []string{"contact.primaryEmail"}},
		{name: "EmailTooLong", mutate: func(h *crm.Holder) {
			h.Contact.PrimaryEmail = ptr(long('a', 64) + "@" + long('b', 63) + "." + long('c', 63) + "." + long('d', 61) + ".com") // 258 characters, over the 254 limit
		}, fields: []string{"contact.primaryEmail"}},
		{name: "EmailUnicodeLocal", mutate: func(h *crm.Holder) { h.Contact.PrimaryEmail = ptr("joão@exemplo.com.br") }},
		{name: "SecondaryEmailBad", mutate: func(h *crm.Holder) { h.Contact.SecondaryEmail = ptr("not-an-email") }, fields: []string{"contact.secondaryEmail"}},
		{name: "MobilePhoneTooLong", mutate: func(h *crm.Holder) { h.Contact.MobilePhone = ptr(long('1', 31)) }, fields: []string{"contact.mobilePhone"}},
		{name: "MobilePhoneMax", mutate: func(h *crm.Holder) { h.Contact.MobilePhone = ptr(long('1', 30)) }},
		{name: "OtherPhoneTooLong", mutate: func(h *crm.Holder) { h.Contact.OtherPhone = ptr(long('٣', 31)) }, fields: []string{"contact.otherPhone"}},

		// naturalPerson
		{name: "BirthDateInFuture", mutate: func(h *crm.Holder) { h.NaturalPerson.BirthDate = ptr(inTwoDays()) }, fields: []string{"naturalPerson.birthDate"}},
		{name: "BirthDateToday", mutate: func(h *crm.Holder) { h.NaturalPerson.BirthDate = ptr(todayUTC()) }},
		{name: "FavoriteNameTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.FavoriteName = ptr(long('f', 257)) }, fields: []string{"naturalPerson.favoriteName"}},
		{name: "SocialNameTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.SocialName = ptr(long('s', 257)) }, fields: []string{"naturalPerson.socialName"}},
		{name: "GenderTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.Gender = ptr(long('g', 51)) }, fields: []string{"naturalPerson.gender"}},
		{name: "CivilStatusTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.CivilStatus = ptr(long('c', 51)) }, fields: []string{"naturalPerson.civilStatus"}},
		{name: "NationalityTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.Nationality = ptr(long('n', 101)) }, fields: []string{"naturalPerson.nationality"}},
		{name: "MotherNameTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.MotherName = ptr(long('m', 257)) }, fields: []string{"naturalPerson.motherName"}},
		{name: "FatherNameTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.FatherName = ptr(long('f', 257)) }, fields: []string{"naturalPerson.fatherName"}},
		{name: "NaturalStatusTooLong", mutate: func(h *crm.Holder) { h.NaturalPerson.Status = ptr(long('s', 51)) }, fields: []string{"naturalPerson.status"}},
		{name: "NaturalPersonOnLegalPerson", base: legalHolder, mutate: func(h *crm.Holder) {
			h.NaturalPerson = &crm.NaturalPerson{FavoriteName: ptr("x")}
		}, fields: []string{"naturalPerson"}},
		{name: "NaturalPersonOnLegalPersonAlsoInvalid", base: legalHolder, mutate: func(h *crm.Holder) {
			h.NaturalPerson = &crm.NaturalPerson{BirthDate: ptr(inTwoDays())}
		}, fields: []string{"naturalPerson", "naturalPerson.birthDate"}},

		// legalPerson
		{name: "LegalPersonOnNaturalPerson", mutate: func(h *crm.Holder) {
			h.LegalPerson = &crm.LegalPerson{TradeName: ptr("x")}
		}, fields: []string{"legalPerson"}},
		{name: "FoundingDateInFuture", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.FoundingDate = ptr(inTwoDays()) }, fields: []string{"legalPerson.foundingDate"}},
		{name: "FoundingDateToday", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.FoundingDate = ptr(todayUTC()) }},
		{name: "TradeNameTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.TradeName = ptr(long('t', 257)) }, fields: []string{"legalPerson.tradeName"}},
		{name: "ActivityTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Activity = ptr(long('a', 257)) }, fields: []string{"legalPerson.activity"}},
		{name: "LegalTypeTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Type = ptr(long('t', 101)) }, fields: []string{"legalPerson.type"}},
		{name: "SizeTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Size = ptr(long('s', 51)) }, fields: []string{"legalPerson.size"}},
		{name: "LegalStatusTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Status = ptr(long('s', 51)) }, fields: []string{"legalPerson.status"}},
		{name: "RepresentativeNameTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Representative.Name = ptr(long('n', 257)) }, fields: []string{"legalPerson.representative.name"}},
		{name: "RepresentativeDocumentTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Representative.Document = ptr(long('1', 101)) }, fields: []string{"legalPerson.representative.document"}},
		{name: "RepresentativeEmailBad", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Representative.Email = ptr("joao at acme") }, fields: []string{"legalPerson.representative.email"}},
		{name: "RepresentativeRoleTooLong", base: legalHolder, mutate: func(h *crm.Holder) { h.LegalPerson.Representative.Role = ptr(long('r', 101)) }, fields: []string{"legalPerson.representative.role"}},

		// metadata
		{name: "MetadataNestedObject", mutate: func(h *crm.Holder) { h.Metadata["nested"] = map[string]any{"a": 1} }, fields: []string{"metadata.nested"}},
		{name: "MetadataArray", mutate: func(h *crm.Holder) { h.Metadata["list"] = []any{"a", "b"} }, fields: []string{"metadata.list"}},
		{name: "MetadataNaN", mutate: func(h *crm.Holder) { h.Metadata["x"] = math.NaN() }, fields: []string{"metadata.x"}},
		{name: "MetadataInf", mutate: func(h *crm.Holder) { h.Metadata["x"] = math.Inf(1) }, fields: []string{"metadata.x"}},
		{name: "MetadataBadJSONNumber", mutate: func(h *crm.Holder) { h.Metadata["x"] = json.Number("twelve") }, fields: []string{"metadata.x"}},
		// Regression (fixed bug): metadata.go converted json.Number with Float64() and kept the
		// result, so 2^53+1 was stored and answered as 2^53 without a word, and a filter on
		// the value sent matched nothing. A number that would come back different is refused.
		{name: "MetadataIntegerBeyondFloat64", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("9007199254740993") }, fields: []string{"metadata.n"}},
		{name: "MetadataInt64BeyondFloat64", mutate: func(h *crm.Holder) { h.Metadata["n"] = int64(1<<62 + 1) }, fields: []string{"metadata.n"}},
		{name: "MetadataDecimalBeyondFloat64", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("0.10000000000000000001") }, fields: []string{"metadata.n"}},
		{name: "MetadataNumberOverflows", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("1e400") }, fields: []string{"metadata.n"}},
		{name: "MetadataNumberUnderflows", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("-1e-400") }, fields: []string{"metadata.n"}},
		{name: "MetadataFloat32NaN", mutate: func(h *crm.Holder) { h.Metadata["n"] = float32(math.NaN()) }, fields: []string{"metadata.n"}},
		{name: "MetadataLargestExactInteger", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("-9007199254740992") }},
		{name: "MetadataDecimal", mutate: func(h *crm.Holder) { h.Metadata["n"] = json.Number("0.1") }},
		{name: "MetadataStruct", mutate: func(h *crm.Holder) { h.Metadata["x"] = struct{}{} }, fields: []string{"metadata.x"}},
		{name: "MetadataString2000", mutate: func(h *crm.Holder) { h.Metadata["note"] = long('v', 2000) }},
		{name: "MetadataString2000MultiByte", mutate: func(h *crm.Holder) { h.Metadata["note"] = long('ç', 2000) }},
		{name: "MetadataString2001", mutate: func(h *crm.Holder) { h.Metadata["note"] = long('v', 2001) }, fields: []string{"metadata.note"}},
		{name: "Metadata100Keys", mutate: func(h *crm.Holder) { h.Metadata = manyKeys(100) }},
		{name: "Metadata101Keys", mutate: func(h *crm.Holder) { h.Metadata = manyKeys(101) }, fields: []string{"metadata"}},
		{name: "MetadataKey100Chars", mutate: func(h *crm.Holder) { h.Metadata[long('k', 100)] = "v" }},
		{name: "MetadataKey101Chars", mutate: func(h *crm.Holder) { h.Metadata[key101] = "v" }, fields: []string{"metadata"}},
		{name: "MetadataKeyEmpty", mutate: func(h *crm.Holder) { h.Metadata[""] = "v" }, fields: []string{"metadata"}},
		// A client-chosen over-long key is not echoed back in the field path.
		{name: "MetadataKey101CharsNestedValue", mutate: func(h *crm.Holder) { h.Metadata[key101] = []any{1} }, fields: []string{"metadata", "metadata.<key>"}},
		{name: "MetadataNil", mutate: func(h *crm.Holder) { h.Metadata = nil }},

		// Regression (fixed bug): metadata.go:59 checks a string value's length but not its encoding, and
		// metadata.go:49-52 accept a key containing NUL; validate.go:40 (checkOptional) lets
		// NUL through for externalId. Validate passes them, then: PostgreSQL refuses NUL in
		// text and jsonb (SQLSTATE 22021 / 22P05), so CreateHolder fails with
		// INTERNAL_SERVER_ERROR instead of BAD_USER_INPUT; and json.Marshal silently turns
		// invalid UTF-8 into U+FFFD, so the stored metadata differs from what was sent.
		// Fix: reject strings containing "\x00" in checkRequired/checkOptional and for
		// metadata keys and values, and reject !utf8.ValidString(s) for metadata values.
		{name: "MetadataValueInvalidUTF8", mutate: func(h *crm.Holder) { h.Metadata["k"] = "a\xffb" }, fields: []string{"metadata.k"}},
		{name: "MetadataValueNUL", mutate: func(h *crm.Holder) { h.Metadata["k"] = "a\x00b" }, fields: []string{"metadata.k"}},
		{name: "MetadataKeyNUL", mutate: func(h *crm.Holder) { h.Metadata["k\x00"] = "v" }, fields: []string{"metadata"}},
		{name: "ExternalIDNUL", mutate: func(h *crm.Holder) { h.ExternalID = ptr("ext\x00-1") }, fields: []string{"externalId"}},

		// several at once
		{name: "SeveralFields", mutate: func(h *crm.Holder) {
			h.Name = ""
			h.Contact.PrimaryEmail = ptr("bad")
			h.Addresses.Additional2.Country = ptr("ZZ")
			h.Metadata["nested"] = map[string]any{}
		}, fields: []string{"name", "contact.primaryEmail", "addresses.additional2.country", "metadata.nested"}},
		{name: "AllRequiredMissing", base: func() *crm.Holder { return &crm.Holder{} }, fields: []string{"type", "name", "document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == nil {
				base = naturalHolder
			}
			h := base()
			if tt.mutate != nil {
				tt.mutate(h)
			}
			err := h.Validate()
			assertValidation(t, err, tt.fields...)
		})
	}
}

func TestHolder_Validate_ErrorMessageHasNoInput(t *testing.T) {
	h := naturalHolder()
	h.Contact.PrimaryEmail = ptr("secret-value-not-an-email")
	h.Metadata["nested"] = map[string]any{"secret": "secret-meta"}
	err := h.Validate()
	assertInvalid(t, err, "contact.primaryEmail", "metadata.nested")
	msg := crm.ErrorMessage(err)
	var e *crm.Error
	errors.As(err, &e)
	for _, s := range append([]string{msg, err.Error()}, mapValues(e.Fields)...) {
		if strings.Contains(s, "secret") {
			t.Errorf("error text %q echoes an input value", s)
		}
	}
	if !strings.Contains(msg, "contact.primaryEmail") || !strings.Contains(msg, "metadata.nested") {
		t.Errorf("message %q does not name the bad fields", msg)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestHolder_Validate_NormalisesMetadataNumbers(t *testing.T) {
	h := naturalHolder()
	h.Metadata = crm.Metadata{
		"jsonInt":   json.Number("12"),
		"jsonFloat": json.Number("1.5"),
		"int":       7,
		"int32":     int32(-3),
		"int64":     int64(1 << 40),
		"float32":   float32(0.5),
		"float64":   2.25,
		"string":    "s",
		"bool":      false,
		"null":      nil,
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	want := map[string]any{
		"jsonInt": 12.0, "jsonFloat": 1.5, "int": 7.0, "int32": -3.0, "int64": float64(1 << 40),
		"float32": 0.5, "float64": 2.25, "string": "s", "bool": false, "null": nil,
	}
	if len(h.Metadata) != len(want) {
		t.Fatalf("metadata has %d keys, want %d", len(h.Metadata), len(want))
	}
	for k, w := range want {
		got, ok := h.Metadata[k]
		if !ok {
			t.Errorf("metadata[%q] missing", k)
			continue
		}
		if got != w {
			t.Errorf("metadata[%q] = %#v (%T), want %#v (%T)", k, got, got, w, w)
		}
	}
}

func TestNormalizeMetadataValue(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
		ok   bool
	}{
		{"Nil", nil, nil, true},
		{"String", "x", "x", true},
		{"Bool", true, true, true},
		{"Float64", 1.25, 1.25, true},
		{"Int", 3, 3.0, true},
		{"Int64", int64(-9), -9.0, true},
		{"JSONNumber", json.Number("1e3"), 1000.0, true},
		{"JSONNumberBad", json.Number("x"), nil, false},
		{"JSONNumberHex", json.Number("0x10"), nil, false},
		{"JSONNumberLeadingZero", json.Number("01"), nil, false},
		{"JSONNumberTrailingZeros", json.Number("2.50"), 2.5, true},
		{"JSONNumberNegativeExponent", json.Number("25e-1"), 2.5, true},
		{"JSONNumber2Pow53", json.Number("9007199254740992"), 9007199254740992.0, true},
		{"JSONNumber2Pow53Plus1", json.Number("9007199254740993"), nil, false},
		{"JSONNumber2Pow53Plus2", json.Number("9007199254740994"), 9007199254740994.0, true}, // exact in float64
		// 2^60 is exact in float64, but it is written back as 1152921504606847000.
		{"JSONNumber2Pow60", json.Number("1152921504606846976"), nil, false},
		{"JSONNumberShortestOf2Pow60", json.Number("1152921504606847000"), float64(1 << 60), true},
		{"JSONNumberPointOne", json.Number("0.1"), 0.1, true},
		{"JSONNumber17Digits", json.Number("0.12345678901234567"), nil, false},
		{"JSONNumberMaxFloat", json.Number("1.7976931348623157e308"), math.MaxFloat64, true},
		{"JSONNumberOverflow", json.Number("1e309"), nil, false},
		{"JSONNumberSmallestDenormal", json.Number("5e-324"), 5e-324, true},
		{"JSONNumberUnderflow", json.Number("1e-400"), nil, false},
		{"JSONNumberZeroHugeExponent", json.Number("0e99999999999999999999"), 0.0, true},
		{"Int64Exact", int64(1 << 53), float64(1 << 53), true},
		{"Int64Inexact", int64(1<<53 + 1), nil, false},
		{"Int64BeyondButExact", int64(1<<53 + 2), float64(1<<53 + 2), true},
		{"Int64WrittenBackOtherwise", int64(1 << 60), nil, false},
		{"Int64Min", int64(math.MinInt64), nil, false},
		{"IntInexact", 1<<53 + 1, nil, false},
		{"Float32", float32(0.5), 0.5, true},
		{"Float32Inf", float32(math.Inf(1)), nil, false},
		{"NaN", math.NaN(), nil, false},
		{"NegInf", math.Inf(-1), nil, false},
		{"Map", map[string]any{}, nil, false},
		{"Slice", []any{}, nil, false},
		{"Uint", uint(1), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := crm.NormalizeMetadataValue(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && got != tt.want {
				t.Fatalf("value = %#v (%T), want %#v (%T)", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestHolderType_Valid(t *testing.T) {
	for _, tt := range []struct {
		typ  crm.HolderType
		want bool
	}{
		{crm.NaturalPersonType, true},
		{crm.LegalPersonType, true},
		{"", false},
		{"natural_person", false},
		{"PERSON", false},
	} {
		if got := tt.typ.Valid(); got != tt.want {
			t.Errorf("HolderType(%q).Valid() = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

// Regression (fixed bug): an empty nested object was kept at creation (graph/convert.go
// maps `contact: {}` to a non-nil empty Contact) but dropped by an update (merge), so a
// holder created with `contact: {}` answered an empty contact at version 1, and an
// update sending `contact: {}` again answered no contact at version 2. DropEmptyObjects
// is the creation half of the one rule: an object with no field set is absent.
func TestHolder_DropEmptyObjects(t *testing.T) {
	tests := []struct {
		name   string
		holder crm.Holder
		want   crm.Holder
	}{
		{name: "Nothing", holder: crm.Holder{}, want: crm.Holder{}},
		{name: "EmptyContact", holder: crm.Holder{Contact: &crm.Contact{}}, want: crm.Holder{}},
		{name: "EmptyNaturalPerson", holder: crm.Holder{NaturalPerson: &crm.NaturalPerson{}}, want: crm.Holder{}},
		{name: "EmptyAddresses", holder: crm.Holder{Addresses: &crm.Addresses{}}, want: crm.Holder{}},
		{name: "AddressesOfEmptyAddresses", holder: crm.Holder{Addresses: &crm.Addresses{Primary: &crm.Address{}, Additional2: &crm.Address{}}}, want: crm.Holder{}},
		{
			name:   "OneEmptyAddress",
			holder: crm.Holder{Addresses: &crm.Addresses{Primary: &crm.Address{City: ptr("Lisboa")}, Additional1: &crm.Address{}}},
			want:   crm.Holder{Addresses: &crm.Addresses{Primary: &crm.Address{City: ptr("Lisboa")}}},
		},
		{name: "LegalPersonOfEmptyRepresentative", holder: crm.Holder{LegalPerson: &crm.LegalPerson{Representative: &crm.Representative{}}}, want: crm.Holder{}},
		{
			name:   "EmptyRepresentative",
			holder: crm.Holder{LegalPerson: &crm.LegalPerson{TradeName: ptr("ACME"), Representative: &crm.Representative{}}},
			want:   crm.Holder{LegalPerson: &crm.LegalPerson{TradeName: ptr("ACME")}},
		},
		{
			name:   "ObjectsWithFieldsKept",
			holder: crm.Holder{Contact: &crm.Contact{OtherPhone: ptr("1")}, NaturalPerson: &crm.NaturalPerson{Gender: ptr("f")}},
			want:   crm.Holder{Contact: &crm.Contact{OtherPhone: ptr("1")}, NaturalPerson: &crm.NaturalPerson{Gender: ptr("f")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := json.Marshal(tt.holder)
			if err != nil {
				t.Fatal(err)
			}
			h := tt.holder
			h.DropEmptyObjects()
			assertJSONEqual(t, "DropEmptyObjects", h, tt.want)
			// The caller's nested objects are replaced, never written through.
			after, _ := json.Marshal(tt.holder)
			if string(after) != string(before) {
				t.Fatalf("the original holder changed:\n got %s\nwant %s", after, before)
			}
		})
	}
}

// TestHolder_EmptyObjectsOneRule checks that creation (DropEmptyObjects) and update
// (Apply) treat the same empty objects alike, so a no-op update finds nothing to change.
func TestHolder_EmptyObjectsOneRule(t *testing.T) {
	created := crm.Holder{
		Type: crm.LegalPersonType, Name: "ACME", Document: "1",
		Addresses:   &crm.Addresses{Primary: &crm.Address{}},
		Contact:     &crm.Contact{},
		LegalPerson: &crm.LegalPerson{Representative: &crm.Representative{}},
		Metadata:    crm.Metadata{},
	}
	created.DropEmptyObjects()
	updated := created.Apply(crm.HolderUpdate{
		Addresses:   crm.SetTo(crm.AddressesUpdate{Primary: crm.SetTo(crm.AddressUpdate{})}),
		Contact:     crm.SetTo(crm.ContactUpdate{}),
		LegalPerson: crm.SetTo(crm.LegalPersonUpdate{Representative: crm.SetTo(crm.RepresentativeUpdate{})}),
	})
	want := crm.Holder{Type: crm.LegalPersonType, Name: "ACME", Document: "1", Metadata: crm.Metadata{}}
	assertJSONEqual(t, "created", created, want)
	assertJSONEqual(t, "updated", *updated, want)
}

func assertJSONEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}
