package postgres

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestCreationTime: the time read from a new UUIDv7 is the time it was drawn at, within
// what its 256 ns steps and the truncation to microseconds lose (under 1.3 µs together),
// and it never decreases while the ids increase.
func TestCreationTime(t *testing.T) {
	var prevID uuid.UUID
	var prev time.Time
	for i := range 20000 {
		before := time.Now().Add(-2 * time.Microsecond)
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		// google/uuid moves an id drawn within the 256 ns step of the one before to the next
		// step, which may pass the draw's time by a little.
		after := time.Now().Add(time.Microsecond)
		got := creationTime(id)
		if got.Before(before) || got.After(after) {
			t.Fatalf("id %d: creationTime %s, drawn between %s and %s", i, got, before, after)
		}
		if i > 0 && (id.String() <= prevID.String() || got.Before(prev)) {
			t.Fatalf("id %d: %s at %s after %s at %s", i, id, got, prevID, prev)
		}
		prevID, prev = id, got
	}
}
