package graph

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Custom scalars bind GraphQL types to Go types we own the parsing of, so a malformed
// value is a BAD_USER_INPUT naming the problem, not an internal error (STYLE rule 10).
// Their messages are reasons ("must be a UUID"): the error presenter names the field
// from the path. None of them repeats the value the client sent.

// MarshalUUID writes an ID.
func MarshalUUID(id uuid.UUID) graphql.Marshaler { return uuidValue(id) }

// The ID, Time and Date marshalers format into a stack array and hand it to the
// response buffer: a page of 100 holders with their alias accounts writes some 500
// ids, and a closure, a string and a quoted copy per value added up.

type uuidValue uuid.UUID

func (v uuidValue) MarshalGQL(w io.Writer) {
	var b [38]byte
	b[0], b[37] = '"', '"'
	hex.Encode(b[1:9], v[0:4])
	hex.Encode(b[10:14], v[4:6])
	hex.Encode(b[15:19], v[6:8])
	hex.Encode(b[20:24], v[8:10])
	hex.Encode(b[25:37], v[10:16])
	b[9], b[14], b[19], b[24] = '-', '-', '-', '-'
	writeScalar(w, b[:])
}

// writeScalar writes b to w without letting b escape to the heap: gqlgen writes
// responses into a *bytes.Buffer, which copies; any other writer gets a copy.
func writeScalar(w io.Writer, b []byte) {
	if buf, ok := w.(*bytes.Buffer); ok {
		buf.Write(b)
		return
	}
	_, _ = w.Write(bytes.Clone(b))
}

// UnmarshalUUID reads an ID; it must be a UUID.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, crm.Errorf(crm.EINVALID, "must be a UUID")
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, crm.Errorf(crm.EINVALID, "must be a UUID")
	}
	return id, nil
}

// MarshalTime writes a Time as RFC 3339 in UTC with microseconds (the database's precision).
func MarshalTime(t time.Time) graphql.Marshaler { return timeValue(t) }

type timeValue time.Time

func (v timeValue) MarshalGQL(w io.Writer) {
	var arr [48]byte
	b := append(time.Time(v).UTC().AppendFormat(append(arr[:0], '"'), "2006-01-02T15:04:05.000000Z07:00"), '"')
	writeScalar(w, b)
}

// UnmarshalTime reads an RFC 3339 Time.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, crm.Errorf(crm.EINVALID, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, crm.Errorf(crm.EINVALID, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
	}
	return t.UTC(), nil
}

// MarshalDate writes a Date as YYYY-MM-DD.
func MarshalDate(d crm.Date) graphql.Marshaler { return dateValue(d) }

type dateValue crm.Date

func (v dateValue) MarshalGQL(w io.Writer) {
	var arr [24]byte
	b := append(v.AppendFormat(append(arr[:0], '"'), time.DateOnly), '"')
	writeScalar(w, b)
}

// UnmarshalDate reads a YYYY-MM-DD Date.
func UnmarshalDate(v any) (crm.Date, error) {
	s, ok := v.(string)
	if !ok {
		return crm.Date{}, crm.Errorf(crm.EINVALID, "must be a date of the form YYYY-MM-DD")
	}
	return crm.ParseDate(s)
}

// MarshalJSON writes metadata as a JSON object.
func MarshalJSON(m crm.Metadata) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if m == nil {
			_, _ = io.WriteString(w, "{}")
			return
		}
		b, err := json.Marshal(m) // compact, as the POST transport's writeResponse expects
		if err != nil {
			panic(fmt.Errorf("marshal metadata: %w", err)) // values are validated on the way in
		}
		_, _ = w.Write(b)
	})
}

// UnmarshalJSON reads metadata: a flat JSON object. Deeper rules (sizes, value types)
// are checked by the domain, which names the offending keys.
func UnmarshalJSON(v any) (crm.Metadata, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, crm.Errorf(crm.EINVALID, "must be a JSON object")
	}
	return crm.Metadata(m), nil
}
