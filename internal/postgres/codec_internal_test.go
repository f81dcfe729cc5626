package postgres

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

func sp(s string) *string { return &s }

// sampleBlobs are what toRow encrypts and reads decode: every field of both blobs set,
// with characters JSON escapes, and metadata of every JSON kind.
func sampleBlobs() (holderData, holderData, aliasData, crm.Metadata) {
	addr := func(line string) *crm.Address {
		return &crm.Address{Line1: sp(line), Line2: sp("Bloco \"B\" \\ Apto 12"), ZipCode: sp("04538-132"), City: sp("São Paulo"),
			State: sp("SP"), Country: sp("BR"), Description: sp("casa <principal> & 🏠")}
	}
	date := crm.NewDate(1987, time.February, 28)
	natural := holderData{Name: "Zéphyrine\tQuillfeather", Document: "987.654.321-XQ",
		Addresses: &crm.Addresses{Primary: addr("Rua A 1"), Additional1: addr("Rua B 2"), Additional2: addr("Rua C 3")},
		Contact:   &crm.Contact{PrimaryEmail: sp("z@example.org"), SecondaryEmail: sp("q@example.org"), MobilePhone: sp("+55 11 97777-3141"), OtherPhone: sp("3555")},
		NaturalPerson: &crm.NaturalPerson{FavoriteName: sp("Zeph"), SocialName: sp("Z. Q."), Gender: sp("female"), BirthDate: &date,
			CivilStatus: sp("single"), Nationality: sp("Brazilian"), MotherName: sp("Ottoline"), FatherName: sp("Barnabus"), Status: sp("active")},
	}
	legal := holderData{Name: "Quill & Feather Ltda.", Document: "12.345.678/0001-95",
		LegalPerson: &crm.LegalPerson{TradeName: sp("Q&F"), Activity: sp("printing"), Type: sp("LTDA"), FoundingDate: &date, Size: sp("small"),
			Status: sp("active"), Representative: &crm.Representative{Name: sp("Ana"), Document: sp("111"), Email: sp("a@example.org"), Role: sp("CEO")}},
	}
	alias := aliasData{Account: sp("12345-6"), IBAN: sp("BR15 0000"), ParticipantDocument: sp("60.701.190/0001-04"),
		RelatedParties: []*crm.RelatedParty{
			{ID: uuid.MustParse("01a226e0-7761-71a1-af82-8569ce013706"), Document: "222", Name: "Bruna \u00e7\u2028", Role: crm.PrimaryHolder, StartDate: date},
			{ID: uuid.MustParse("01a226e0-7761-71a1-af82-8569ce013707"), Document: "333", Name: "Caio", Role: crm.LegalRepresentative, StartDate: date, EndDate: &date},
		}}
	meta := crm.Metadata{"segment": "retail", "score": 42.5, "big": 1e21, "neg": -7.0, "active": true, "closedAt": nil,
		"nested": map[string]any{"list": []any{1.0, "two", false, nil}}, "escaped": "a\"b\\c\u0000d"}
	return natural, legal, alias, meta
}

// TestDecodeJSONMatchesEncodingJSON: decodeJSON reads what encoding/json wrote exactly
// as encoding/json itself would.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	natural, legal, alias, meta := sampleBlobs()
	for name, v := range map[string]any{"natural": natural, "legal": legal, "alias": alias, "metadata": meta} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want := reflect.New(reflect.TypeOf(v))
		got := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal(data, want.Interface()); err != nil {
			t.Fatal(err)
		}
		if err := decodeJSON(data, got.Interface()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), want.Elem().Interface()) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got.Elem().Interface(), want.Elem().Interface())
		}
	}
	var d holderData
	if err := decodeJSON([]byte(`{"name": "x"`), &d); err == nil {
		t.Error("truncated JSON decoded without an error")
	}
}

// BenchmarkDecodeHolderData: a holder's personal data, as every read of a holder
// decodes it, with encoding/json and with decodeJSON.
func BenchmarkDecodeHolderData(b *testing.B) {
	natural, _, _, _ := sampleBlobs()
	data, err := json.Marshal(natural)
	if err != nil {
		b.Fatal(err)
	}
	for name, decode := range map[string]func([]byte, any) error{"encoding-json": json.Unmarshal, "decodeJSON": decodeJSON} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var d holderData
				if err := decode(data, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
