package crm

import (
	"encoding/json"
	"math"
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

// NormalizeMetadataValue converts the number types a decoder may produce (int,
// int64, json.Number) to float64 and reports whether v is an allowed value at all.
func NormalizeMetadataValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, true
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return nil, false
}

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
		nv, ok := NormalizeMetadataValue(v)
		if !ok {
			fe.Add(path+"."+safeKey(k), "must be a string, number, boolean or null (metadata is flat)")
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
