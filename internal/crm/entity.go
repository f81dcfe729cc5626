package crm

// IsEntity marks Holder as an Apollo Federation entity. The federation runtime of the
// GraphQL layer requires this method of every entity type; it has no behaviour, and
// keeps this package free of any GraphQL import.
func (Holder) IsEntity() {}

// IsEntity marks AliasAccount as an Apollo Federation entity (see Holder.IsEntity).
func (AliasAccount) IsEntity() {}
