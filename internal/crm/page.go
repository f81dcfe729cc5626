package crm

import (
	"encoding/base64"

	"github.com/google/uuid"
)

// SortOrder is the order of a list. Records are ordered by creation (their UUIDv7 ids
// are time-ordered), which makes keyset pagination stable under concurrent inserts.
type SortOrder string

// Sort orders.
const (
	CreatedAtAsc  SortOrder = "CREATED_AT_ASC"
	CreatedAtDesc SortOrder = "CREATED_AT_DESC"
)

// Page sizes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Page asks for one page of a keyset-paginated list.
type Page struct {
	// First is the page size, 1..MaxPageSize.
	First int
	// After is the cursor of the last record of the previous page; "" starts at the beginning.
	After string
	Order SortOrder
	// WithTotal asks for the number of matching records (costs a count).
	WithTotal bool
}

// Validate returns EINVALID for a page size out of range, an unknown order or a malformed cursor.
func (p Page) Validate() error {
	var fe FieldErrors
	p.validate(&fe)
	return fe.Err()
}

func (p Page) validate(fe *FieldErrors) {
	if p.First < 1 || p.First > MaxPageSize {
		fe.Add("first", "must be between 1 and 100")
	}
	if p.Order != CreatedAtAsc && p.Order != CreatedAtDesc {
		fe.Add("orderBy", "must be CREATED_AT_ASC or CREATED_AT_DESC")
	}
	if _, err := p.AfterID(); err != nil {
		fe.Add("after", "is not a valid cursor")
	}
}

// AfterID decodes the After cursor; uuid.Nil when After is empty.
func (p Page) AfterID() (uuid.UUID, error) {
	if p.After == "" {
		return uuid.Nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.After)
	if err != nil || len(b) != 16 {
		return uuid.Nil, InvalidField("after", "is not a valid cursor")
	}
	return uuid.UUID(b), nil
}

// Cursor returns the opaque cursor of the record with the given id.
func Cursor(id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
