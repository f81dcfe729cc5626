package crm

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// NormalizeDocument returns the canonical form of a document (tax id) used for
// uniqueness and search: letters and digits only, upper-cased, so "123.456.789-09"
// and "12345678909" are the same document.
func NormalizeDocument(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// NormalizeCode returns an identifier such as an IBAN or a bank account number in
// canonical form for search: spaces, dots and dashes removed, upper-cased.
func NormalizeCode(s string) string { return NormalizeDocument(s) }

// reasonNotText is why a string is refused that PostgreSQL cannot store (NUL) or that
// would not come back as sent (invalid UTF-8).
const reasonNotText = "must be valid UTF-8 text without NUL characters"

func isText(v string) bool { return utf8.ValidString(v) && !strings.ContainsRune(v, 0) }

func checkRequired(fe *FieldErrors, field, v string, max int) {
	switch {
	case strings.TrimSpace(v) == "":
		fe.Add(field, "is required")
	case !isText(v):
		fe.Add(field, reasonNotText)
	case utf8.RuneCountInString(v) > max:
		fe.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func checkOptional(fe *FieldErrors, field string, v *string, max int) {
	switch {
	case v == nil:
	case !isText(*v):
		fe.Add(field, reasonNotText)
	case utf8.RuneCountInString(*v) > max:
		fe.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// checkText is the text rule alone, for values that are searched rather than stored
// (filters): no length limit, since a longer value simply matches nothing.
func checkText(fe *FieldErrors, field string, v *string) {
	if v != nil && !isText(*v) {
		fe.Add(field, reasonNotText)
	}
}

func checkEmail(fe *FieldErrors, field string, v *string) {
	if v == nil {
		return
	}
	if utf8.RuneCountInString(*v) > 254 {
		fe.Add(field, "must be at most 254 characters")
		return
	}
	addr, err := mail.ParseAddress(*v)
	// Only a bare address is accepted: no display name, no comments.
	if err != nil || addr.Address != *v || !strings.Contains(addr.Address[strings.LastIndexByte(addr.Address, '@'):], ".") {
		fe.Add(field, "must be a valid e-mail address")
	}
}

func checkCountry(fe *FieldErrors, field string, v *string) {
	if v != nil && !IsCountryCode(*v) {
		fe.Add(field, "must be an ISO 3166-1 alpha-2 country code")
	}
}

func checkPastDate(fe *FieldErrors, field string, d *Date) {
	if d != nil && d.After(time.Now().UTC()) {
		fe.Add(field, "must not be in the future")
	}
}

// countryCodes are the officially assigned ISO 3166-1 alpha-2 codes.
var countryCodes = func() map[string]struct{} {
	const all = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
		"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
		"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
		"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
		"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
		"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
		"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
	m := make(map[string]struct{}, 249)
	for _, c := range strings.Fields(all) {
		m[c] = struct{}{}
	}
	return m
}()

// IsCountryCode reports whether s is an assigned ISO 3166-1 alpha-2 code (upper case).
func IsCountryCode(s string) bool {
	_, ok := countryCodes[s]
	return ok
}
