package crm

// Patch is a change to one optional field of an update (SPEC §5): the zero value leaves
// the field alone; Set with a nil Value clears it; Set with a Value replaces it — or,
// for a nested object, merges into it field by field.
type Patch[T any] struct {
	Set   bool
	Value *T
}

// SetTo returns a Patch that sets a field to v.
func SetTo[T any](v T) Patch[T] { return Patch[T]{Set: true, Value: &v} }

// Clear returns a Patch that clears a field.
func Clear[T any]() Patch[T] { return Patch[T]{Set: true} }

// apply replaces or clears a scalar field.
func (p Patch[T]) apply(dst **T) {
	if !p.Set {
		return
	}
	if p.Value == nil {
		*dst = nil
		return
	}
	v := *p.Value
	*dst = &v
}

// absent returns p, or nil when p points to an object with no field set. It is the one
// rule for nested objects (SPEC §3 "optional"): an object with no field set is absent,
// whether it was sent empty at creation (Holder.DropEmptyObjects) or emptied by an
// update (merge), so what is stored and answered never depends on how it got there.
func absent[T comparable](p *T) *T {
	var zero T
	if p == nil || *p == zero {
		return nil
	}
	return p
}

// merge applies a nested object patch: null clears the object, a value merges into it
// (creating it when absent). An object left with no field set becomes absent, so an
// update that sets nothing stores (and answers) exactly what it found.
func merge[T comparable, U any](dst **T, p Patch[U], apply func(*T, *U)) {
	if !p.Set {
		return
	}
	if p.Value == nil {
		*dst = nil
		return
	}
	if *dst == nil {
		*dst = new(T)
	} else {
		c := **dst // never write through a pointer the caller may still hold
		*dst = &c
	}
	apply(*dst, p.Value)
	*dst = absent(*dst)
}

// mergeMetadata merges m key by key into a copy of dst: a nil value removes the key.
// Clearing (Set with nil Value) empties the metadata.
func mergeMetadata(dst Metadata, p Patch[Metadata]) Metadata {
	if !p.Set {
		return dst
	}
	out := Metadata{}
	if p.Value == nil {
		return out
	}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range *p.Value {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// HolderUpdate is a partial update of a holder. Type and Document are immutable and
// therefore absent.
type HolderUpdate struct {
	// ExpectedVersion, when set, must equal the stored version or the update is refused
	// with EVERSIONCONFLICT.
	ExpectedVersion *int
	// Name cannot be cleared: clearing it fails validation.
	Name          Patch[string]
	ExternalID    Patch[string]
	Addresses     Patch[AddressesUpdate]
	Contact       Patch[ContactUpdate]
	NaturalPerson Patch[NaturalPersonUpdate]
	LegalPerson   Patch[LegalPersonUpdate]
	// Metadata merges key by key; a key with a nil value is removed.
	Metadata Patch[Metadata]
}

// AddressesUpdate patches a holder's addresses.
type AddressesUpdate struct {
	Primary, Additional1, Additional2 Patch[AddressUpdate]
}

// AddressUpdate patches one address.
type AddressUpdate struct {
	Line1, Line2, ZipCode, City, State, Country, Description Patch[string]
}

// ContactUpdate patches contact details.
type ContactUpdate struct {
	PrimaryEmail, SecondaryEmail, MobilePhone, OtherPhone Patch[string]
}

// NaturalPersonUpdate patches natural-person details.
type NaturalPersonUpdate struct {
	FavoriteName, SocialName, Gender Patch[string]
	BirthDate                        Patch[Date]
	CivilStatus, Nationality         Patch[string]
	MotherName, FatherName, Status   Patch[string]
}

// LegalPersonUpdate patches legal-person details.
type LegalPersonUpdate struct {
	TradeName, Activity, Type Patch[string]
	FoundingDate              Patch[Date]
	Size, Status              Patch[string]
	Representative            Patch[RepresentativeUpdate]
}

// RepresentativeUpdate patches a legal person's representative.
type RepresentativeUpdate struct {
	Name, Document, Email, Role Patch[string]
}

// Apply returns a copy of h with u applied. It does not validate the result, touch the
// version or the timestamps: the service does, after checking ExpectedVersion.
func (h *Holder) Apply(u HolderUpdate) *Holder {
	n := *h
	if u.Name.Set {
		n.Name = ""
		if u.Name.Value != nil {
			n.Name = *u.Name.Value
		}
	}
	u.ExternalID.apply(&n.ExternalID)
	merge(&n.Addresses, u.Addresses, func(a *Addresses, p *AddressesUpdate) {
		merge(&a.Primary, p.Primary, (*Address).apply)
		merge(&a.Additional1, p.Additional1, (*Address).apply)
		merge(&a.Additional2, p.Additional2, (*Address).apply)
	})
	merge(&n.Contact, u.Contact, func(c *Contact, p *ContactUpdate) {
		p.PrimaryEmail.apply(&c.PrimaryEmail)
		p.SecondaryEmail.apply(&c.SecondaryEmail)
		p.MobilePhone.apply(&c.MobilePhone)
		p.OtherPhone.apply(&c.OtherPhone)
	})
	merge(&n.NaturalPerson, u.NaturalPerson, func(np *NaturalPerson, p *NaturalPersonUpdate) {
		p.FavoriteName.apply(&np.FavoriteName)
		p.SocialName.apply(&np.SocialName)
		p.Gender.apply(&np.Gender)
		p.BirthDate.apply(&np.BirthDate)
		p.CivilStatus.apply(&np.CivilStatus)
		p.Nationality.apply(&np.Nationality)
		p.MotherName.apply(&np.MotherName)
		p.FatherName.apply(&np.FatherName)
		p.Status.apply(&np.Status)
	})
	merge(&n.LegalPerson, u.LegalPerson, func(lp *LegalPerson, p *LegalPersonUpdate) {
		p.TradeName.apply(&lp.TradeName)
		p.Activity.apply(&lp.Activity)
		p.Type.apply(&lp.Type)
		p.FoundingDate.apply(&lp.FoundingDate)
		p.Size.apply(&lp.Size)
		p.Status.apply(&lp.Status)
		merge(&lp.Representative, p.Representative, func(r *Representative, p *RepresentativeUpdate) {
			p.Name.apply(&r.Name)
			p.Document.apply(&r.Document)
			p.Email.apply(&r.Email)
			p.Role.apply(&r.Role)
		})
	})
	n.Metadata = mergeMetadata(h.Metadata, u.Metadata)
	return &n
}

func (a *Address) apply(p *AddressUpdate) {
	p.Line1.apply(&a.Line1)
	p.Line2.apply(&a.Line2)
	p.ZipCode.apply(&a.ZipCode)
	p.City.apply(&a.City)
	p.State.apply(&a.State)
	p.Country.apply(&a.Country)
	p.Description.apply(&a.Description)
}
