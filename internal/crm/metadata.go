package crm

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Metadata limits (SPEC §3).
const (
	MaxMetadataKeys        = 100
	MaxMetadataKeyLength   = 100
	MaxMetadataValueLength = 2000
)

// Metadata is a flat JSON object of client data. Values are string, float64, bool or
// nil. It is stored in plain text: clients must not put personal data in it.
type Metadata map[string]any

// Reasons a metadata value is refused.
const (
	reasonNotFlat = "must be a string, number, boolean or null (metadata is flat)"
	// A number is kept as a float64 and written back in its shortest form: a value that
	// would come back different is refused rather than silently rounded.
	reasonInexact = "must be a finite number that is stored without rounding (at most 15 significant digits, or an integer within ±2^53)"
)

// NormalizeMetadataValue converts the number types a decoder may produce (int,
// int64, json.Number) to float64 and reports whether v is an allowed value at all.
// A number is allowed only when it is finite and its float64 is written back as the
// same number: 9007199254740993 (which float64 rounds to …992) is not.
func NormalizeMetadataValue(v any) (any, bool) {
	nv, reason := normalizeMetadataValue(v)
	return nv, reason == ""
}

// normalizeMetadataValue is NormalizeMetadataValue with the reason a value is
// refused ("" when it is allowed).
func normalizeMetadataValue(v any) (any, string) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, ""
	case float64:
		return finite(x)
	case float32:
		return finite(float64(x))
	case int:
		return exactInt(int64(x))
	case int32:
		return float64(x), ""
	case int64:
		return exactInt(x)
	case json.Number:
		return exactNumber(string(x))
	}
	return nil, reasonNotFlat
}

func finite(f float64) (any, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, reasonInexact
	}
	return f, ""
}

// exactInt converts an integer: one within ±2^53 is exact in float64 and written back
// unchanged; a larger one only when its float64 writes back as the same number.
func exactInt(x int64) (any, string) {
	if -1<<53 <= x && x <= 1<<53 {
		return float64(x), ""
	}
	return exactNumber(strconv.FormatInt(x, 10))
}

// exactNumber parses a JSON number and returns its float64, or a reason when the
// text is not a JSON number or the float64 does not write back as the same number.
func exactNumber(s string) (any, string) {
	want, ok := parseDecimal(s)
	if !ok {
		return nil, reasonNotFlat
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, reasonInexact
	}
	// 'e' with the shortest precision is the digits encoding/json writes for f.
	if got, _ := parseDecimal(strconv.FormatFloat(f, 'e', -1, 64)); got != want {
		return nil, reasonInexact
	}
	return f, ""
}

// decimal is a number as digits × 10^exp, with no leading or trailing zero digit;
// zero is the zero value, whatever its sign.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal reads a JSON number (RFC 8259: -?int frac? exp?) into its canonical
// decimal, reporting whether s is one. Numerically equal texts ("1.50", "15e-1")
// give equal decimals.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[start:i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return decimal{}, false
	}
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if frac = s[start:i]; frac == "" {
			return decimal{}, false
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start = i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		digits := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == digits {
			return decimal{}, false
		}
		// Atoi saturates on overflow; either way an exponent this large puts a nonzero
		// number far outside float64, and the bound keeps the arithmetic below exact.
		exp, _ = strconv.Atoi(s[start:i])
		exp = max(min(exp, maxExp), -maxExp)
	}
	if i != len(s) {
		return decimal{}, false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	if trimmed == "" {
		return decimal{}, true
	}
	d.digits, d.exp = trimmed, exp
	return d, true
}

// maxExp bounds a parsed exponent, far beyond float64's range (about 10^±324).
const maxExp = 1 << 30

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (m Metadata) validate(fe *FieldErrors, path string) {
	if len(m) > MaxMetadataKeys {
		fe.Add(path, "must have at most 100 keys")
	}
	for k, v := range m {
		switch {
		case k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLength:
			fe.Add(path, "keys must be 1 to 100 characters")
		case !isText(k):
			fe.Add(path, "keys must be valid UTF-8 text without NUL characters")
		}
		nv, reason := normalizeMetadataValue(v)
		if reason != "" {
			fe.Add(path+"."+safeKey(k), reason)
			continue
		}
		if s, isStr := nv.(string); isStr {
			switch {
			case !isText(s):
				fe.Add(path+"."+safeKey(k), reasonNotText)
			case utf8.RuneCountInString(s) > MaxMetadataValueLength:
				fe.Add(path+"."+safeKey(k), "must be at most 2000 characters")
			}
		}
		m[k] = nv
	}
}

// safeKey bounds a client-chosen key before it appears in an error (never the value).
func safeKey(k string) string {
	if utf8.RuneCountInString(k) > MaxMetadataKeyLength || !isText(k) {
		return "<key>"
	}
	return k
}
