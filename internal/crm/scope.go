package crm

import "context"

// Parts are the costly parts of a stored record: what a read has to decrypt or decode
// beyond plain columns.
type Parts uint8

const (
	// PersonalData is a record's encrypted part. Holder: name, document, addresses,
	// contact, naturalPerson, legalPerson. AliasAccount: bankingDetails (the account
	// number and IBAN are encrypted, and whether the object exists depends on them),
	// regulatoryFields, relatedParties.
	PersonalData Parts = 1 << iota
	// MetadataPart is a record's metadata map.
	MetadataPart

	// AllParts is a whole record.
	AllParts = PersonalData | MetadataPart
)

// ReadScope says which parts of holders and alias accounts the reads of one request
// must return. A read leaves the parts outside the scope at their zero values (an
// alias account's BankingDetails may then be nil although it has some), so a record
// read under a narrow scope is only for answering that request: it must never be
// written back, compared, or cached beyond it. Write paths read their records whole,
// whatever the context says.
type ReadScope struct {
	Holder, AliasAccount Parts
}

// FullReadScope reads whole records: the scope of a context that names none.
var FullReadScope = ReadScope{Holder: AllParts, AliasAccount: AllParts}

type readScopeKey struct{}

// NewContextWithReadScope returns a context whose reads return only the parts in s.
func NewContextWithReadScope(ctx context.Context, s ReadScope) context.Context {
	return context.WithValue(ctx, readScopeKey{}, s)
}

// ReadScopeFromContext returns the read scope of ctx: FullReadScope unless
// NewContextWithReadScope narrowed it.
func ReadScopeFromContext(ctx context.Context) ReadScope {
	if s, ok := ctx.Value(readScopeKey{}).(ReadScope); ok {
		return s
	}
	return FullReadScope
}
