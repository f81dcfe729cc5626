package crm

import (
	"encoding/json"
	"time"
)

// Date is a calendar date without time of day or zone (e.g. a birth date),
// held as midnight UTC.
type Date struct{ time.Time }

// ParseDate parses a date in the form YYYY-MM-DD. Returns EINVALID otherwise.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, Errorf(EINVALID, "must be a date of the form YYYY-MM-DD")
	}
	return Date{t}, nil
}

// NewDate returns the date of year, month and day.
func NewDate(year int, month time.Month, day int) Date {
	return Date{time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}
}

// String returns the date as YYYY-MM-DD.
func (d Date) String() string { return d.Format(time.DateOnly) }

// MarshalJSON encodes the date as a "YYYY-MM-DD" JSON string.
func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON decodes a "YYYY-MM-DD" JSON string.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
