package graph

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// marshal writes m into a bytes.Buffer (as gqlgen does) and into another writer, and
// checks both get the same bytes.
func marshal(t *testing.T, m graphql.Marshaler) string {
	t.Helper()
	var buf bytes.Buffer
	m.MarshalGQL(&buf)
	var sb strings.Builder
	m.MarshalGQL(&sb)
	if buf.String() != sb.String() {
		t.Fatalf("bytes.Buffer got %s, another writer %s", buf.String(), sb.String())
	}
	return buf.String()
}

// TestScalarMarshalers: IDs, Times and Dates are written as quoted JSON strings:
// the canonical UUID form, RFC 3339 in UTC with microseconds, YYYY-MM-DD.
func TestScalarMarshalers(t *testing.T) {
	for _, id := range []uuid.UUID{uuid.Nil, uuid.Max, uuid.MustParse("01a226e0-7761-71a1-af82-8569ce013706"), uuid.New()} {
		if got, want := marshal(t, MarshalUUID(id)), strconv.Quote(id.String()); got != want {
			t.Errorf("MarshalUUID = %s, want %s", got, want)
		}
	}
	sp := time.FixedZone("BRT", -3*3600)
	for _, tm := range []time.Time{time.Date(2026, 11, 29, 10, 5, 7, 123456789, time.UTC), time.Date(1999, 1, 2, 23, 59, 59, 0, sp), {}} {
		want := strconv.Quote(tm.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
		if got := marshal(t, MarshalTime(tm)); got != want {
			t.Errorf("MarshalTime(%v) = %s, want %s", tm, got, want)
		}
	}
	if got := marshal(t, MarshalTime(time.Date(2026, 11, 29, 13, 0, 0, 1000, sp))); got != `"2026-11-29T16:00:00.000001Z"` {
		t.Errorf("MarshalTime = %s", got)
	}
	for _, d := range []crm.Date{crm.NewDate(2020, time.January, 2), crm.NewDate(1, time.December, 31)} {
		if got, want := marshal(t, MarshalDate(d)), strconv.Quote(d.String()); got != want {
			t.Errorf("MarshalDate = %s, want %s", got, want)
		}
	}
}
