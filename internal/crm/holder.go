package crm

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// HolderType says whether a holder is a person or a company. It cannot change after creation.
type HolderType string

// Holder types.
const (
	NaturalPersonType HolderType = "NATURAL_PERSON"
	LegalPersonType   HolderType = "LEGAL_PERSON"
)

// Valid reports whether t is one of the known holder types.
func (t HolderType) Valid() bool { return t == NaturalPersonType || t == LegalPersonType }

// Holder is the natural or legal person behind ledger accounts (Midaz: the Entity).
// Every string except Type, ExternalID and Metadata identifies a person and is
// encrypted at rest by the storage layer; domain values always hold plaintext.
type Holder struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	Type           HolderType
	Name           string
	// Document is the tax id as the client sent it; uniqueness uses NormalizeDocument.
	Document      string
	ExternalID    *string
	Addresses     *Addresses
	Contact       *Contact
	NaturalPerson *NaturalPerson
	LegalPerson   *LegalPerson
	Metadata      Metadata
	Version       int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeletedAt     *time.Time
}

// Addresses groups a holder's postal addresses.
type Addresses struct {
	Primary     *Address `json:"primary,omitempty"`
	Additional1 *Address `json:"additional1,omitempty"`
	Additional2 *Address `json:"additional2,omitempty"`
}

// Address is a postal address. Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Line1       *string `json:"line1,omitempty"`
	Line2       *string `json:"line2,omitempty"`
	ZipCode     *string `json:"zipCode,omitempty"`
	City        *string `json:"city,omitempty"`
	State       *string `json:"state,omitempty"`
	Country     *string `json:"country,omitempty"`
	Description *string `json:"description,omitempty"`
}

// Contact holds a holder's e-mail addresses and phone numbers.
type Contact struct {
	PrimaryEmail   *string `json:"primaryEmail,omitempty"`
	SecondaryEmail *string `json:"secondaryEmail,omitempty"`
	MobilePhone    *string `json:"mobilePhone,omitempty"`
	OtherPhone     *string `json:"otherPhone,omitempty"`
}

// NaturalPerson holds the details only a NATURAL_PERSON holder has.
type NaturalPerson struct {
	FavoriteName *string `json:"favoriteName,omitempty"`
	SocialName   *string `json:"socialName,omitempty"`
	Gender       *string `json:"gender,omitempty"`
	BirthDate    *Date   `json:"birthDate,omitempty"`
	CivilStatus  *string `json:"civilStatus,omitempty"`
	Nationality  *string `json:"nationality,omitempty"`
	MotherName   *string `json:"motherName,omitempty"`
	FatherName   *string `json:"fatherName,omitempty"`
	Status       *string `json:"status,omitempty"`
}

// LegalPerson holds the details only a LEGAL_PERSON holder has.
type LegalPerson struct {
	TradeName      *string         `json:"tradeName,omitempty"`
	Activity       *string         `json:"activity,omitempty"`
	Type           *string         `json:"type,omitempty"`
	FoundingDate   *Date           `json:"foundingDate,omitempty"`
	Size           *string         `json:"size,omitempty"`
	Status         *string         `json:"status,omitempty"`
	Representative *Representative `json:"representative,omitempty"`
}

// Representative is the person who represents a legal person.
type Representative struct {
	Name     *string `json:"name,omitempty"`
	Document *string `json:"document,omitempty"`
	Email    *string `json:"email,omitempty"`
	Role     *string `json:"role,omitempty"`
}

// DropEmptyObjects makes every nested object with no field set absent, inner objects
// first (an address or representative, then what holds it), as an update does: a holder
// created with `contact: {}` has no contact, stored or answered. It replaces h's nested
// pointers rather than writing through them, since the caller may share them.
func (h *Holder) DropEmptyObjects() {
	if a := h.Addresses; a != nil {
		c := Addresses{Primary: absent(a.Primary), Additional1: absent(a.Additional1), Additional2: absent(a.Additional2)}
		if c != *a {
			a = &c
		}
		h.Addresses = absent(a)
	}
	h.Contact = absent(h.Contact)
	h.NaturalPerson = absent(h.NaturalPerson)
	if l := h.LegalPerson; l != nil {
		if r := absent(l.Representative); r != l.Representative {
			c := *l
			c.Representative = r
			l = &c
		}
		h.LegalPerson = absent(l)
	}
}

// Validate checks every rule of a holder that a client can break and returns an
// EINVALID error naming each bad field, or nil.
func (h *Holder) Validate() error {
	var fe FieldErrors
	if !h.Type.Valid() {
		fe.Add("type", "must be NATURAL_PERSON or LEGAL_PERSON")
	}
	checkRequired(&fe, "name", h.Name, 256)
	checkRequired(&fe, "document", h.Document, 100)
	if h.Document != "" && NormalizeDocument(h.Document) == "" {
		fe.Add("document", "must contain at least one letter or digit")
	}
	checkOptional(&fe, "externalId", h.ExternalID, 256)
	if h.Addresses != nil {
		h.Addresses.validate(&fe, "addresses")
	}
	if h.Contact != nil {
		h.Contact.validate(&fe, "contact")
	}
	if h.NaturalPerson != nil {
		if h.Type == LegalPersonType {
			fe.Add("naturalPerson", "is only allowed for NATURAL_PERSON holders")
		}
		h.NaturalPerson.validate(&fe, "naturalPerson")
	}
	if h.LegalPerson != nil {
		if h.Type == NaturalPersonType {
			fe.Add("legalPerson", "is only allowed for LEGAL_PERSON holders")
		}
		h.LegalPerson.validate(&fe, "legalPerson")
	}
	h.Metadata.validate(&fe, "metadata")
	return fe.Err()
}

func (a *Addresses) validate(fe *FieldErrors, path string) {
	for name, addr := range map[string]*Address{"primary": a.Primary, "additional1": a.Additional1, "additional2": a.Additional2} {
		if addr != nil {
			addr.validate(fe, path+"."+name)
		}
	}
}

func (a *Address) validate(fe *FieldErrors, path string) {
	checkOptional(fe, path+".line1", a.Line1, 256)
	checkOptional(fe, path+".line2", a.Line2, 256)
	checkOptional(fe, path+".zipCode", a.ZipCode, 20)
	checkOptional(fe, path+".city", a.City, 100)
	checkOptional(fe, path+".state", a.State, 100)
	checkCountry(fe, path+".country", a.Country)
	checkOptional(fe, path+".description", a.Description, 100)
}

func (c *Contact) validate(fe *FieldErrors, path string) {
	checkEmail(fe, path+".primaryEmail", c.PrimaryEmail)
	checkEmail(fe, path+".secondaryEmail", c.SecondaryEmail)
	checkOptional(fe, path+".mobilePhone", c.MobilePhone, 30)
	checkOptional(fe, path+".otherPhone", c.OtherPhone, 30)
}

func (n *NaturalPerson) validate(fe *FieldErrors, path string) {
	checkOptional(fe, path+".favoriteName", n.FavoriteName, 256)
	checkOptional(fe, path+".socialName", n.SocialName, 256)
	checkOptional(fe, path+".gender", n.Gender, 50)
	checkPastDate(fe, path+".birthDate", n.BirthDate)
	checkOptional(fe, path+".civilStatus", n.CivilStatus, 50)
	checkOptional(fe, path+".nationality", n.Nationality, 100)
	checkOptional(fe, path+".motherName", n.MotherName, 256)
	checkOptional(fe, path+".fatherName", n.FatherName, 256)
	checkOptional(fe, path+".status", n.Status, 50)
}

func (l *LegalPerson) validate(fe *FieldErrors, path string) {
	checkOptional(fe, path+".tradeName", l.TradeName, 256)
	checkOptional(fe, path+".activity", l.Activity, 256)
	checkOptional(fe, path+".type", l.Type, 100)
	checkPastDate(fe, path+".foundingDate", l.FoundingDate)
	checkOptional(fe, path+".size", l.Size, 50)
	checkOptional(fe, path+".status", l.Status, 50)
	if r := l.Representative; r != nil {
		checkOptional(fe, path+".representative.name", r.Name, 256)
		checkOptional(fe, path+".representative.document", r.Document, 100)
		checkEmail(fe, path+".representative.email", r.Email)
		checkOptional(fe, path+".representative.role", r.Role, 100)
	}
}

// HolderFilter selects holders. Zero-valued fields do not filter.
type HolderFilter struct {
	Type       *HolderType
	ExternalID *string
	// Document matches after NormalizeDocument (through the blind index).
	Document *string
	// Metadata matches holders whose metadata contains every given key with the given value.
	Metadata      Metadata
	CreatedAfter  *time.Time // inclusive
	CreatedBefore *time.Time // exclusive

	IncludeDeleted bool
	Page           Page
}

// Validate returns an EINVALID error naming each bad filter field ("filter.externalId")
// and page argument ("first", "after", "orderBy"), or nil. Text must be storable text
// (no NUL) and metadata follows the holder's rules, numbers normalised as Holder.Validate
// does, so that a filter matches the values as they were stored.
func (f HolderFilter) Validate() error {
	var fe FieldErrors
	f.Page.validate(&fe)
	if f.Type != nil && !f.Type.Valid() {
		fe.Add("filter.type", "must be NATURAL_PERSON or LEGAL_PERSON")
	}
	checkText(&fe, "filter.externalId", f.ExternalID)
	checkText(&fe, "filter.document", f.Document)
	f.Metadata.validate(&fe, "filter.metadata")
	return fe.Err()
}

// HolderPage is one page of holders.
type HolderPage struct {
	Holders     []*Holder
	HasNextPage bool
	// TotalCount is the number of holders matching the filter, ignoring the page;
	// computed only when Page.WithTotal is set, else -1.
	TotalCount int
}

// HolderService manages holders of the organization found in the context
// (OrganizationFromContext); every method returns EMISSINGORG without one and never
// sees another organization's records.
type HolderService interface {
	// CreateHolder validates h, assigns its ID, Version and timestamps, and stores it.
	// Returns EINVALID naming every bad field, or EDOCUMENTEXISTS when an active holder
	// of the organization has the same normalised document.
	CreateHolder(ctx context.Context, h *Holder) error

	// FindHolderByID returns the holder with the given ID. Soft-deleted holders are
	// returned only when includeDeleted is true. Returns ENOTFOUND if absent.
	FindHolderByID(ctx context.Context, id uuid.UUID, includeDeleted bool) (*Holder, error)

	// FindHolderByDocument returns the active holder whose normalised document equals
	// the normalised document given. Returns ENOTFOUND if there is none.
	FindHolderByDocument(ctx context.Context, document string) (*Holder, error)

	// FindHolders returns a page of holders matching filter, in Page.Order.
	// Returns EINVALID naming each bad field when filter.Validate fails.
	FindHolders(ctx context.Context, filter HolderFilter) (*HolderPage, error)

	// FindHoldersByIDs returns the active holders among ids, in no particular order;
	// absent ids are simply missing. It issues one query however many ids are given.
	FindHoldersByIDs(ctx context.Context, ids []uuid.UUID) ([]*Holder, error)

	// FindHoldersOfAliasAccounts returns the holders with the given ids whether active or
	// soft-deleted (an alias account always names its holder, and an active alias
	// account's holder is always active), in one query.
	FindHoldersOfAliasAccounts(ctx context.Context, ids []uuid.UUID) ([]*Holder, error)

	// UpdateHolder applies u to an active holder and returns the result; the version
	// grows by one when anything changed. Returns ENOTFOUND, EINVALID naming every bad
	// field, or EVERSIONCONFLICT when u.ExpectedVersion differs from the stored version
	// (nothing changes then).
	UpdateHolder(ctx context.Context, id uuid.UUID, u HolderUpdate) (*Holder, error)

	// DeleteHolder soft-deletes an active holder (returning it), or with hard=true removes
	// a holder, active or soft-deleted, for good together with all its alias accounts
	// (returning nil). A holder with active alias accounts is refused with EHASALIASES
	// unless cascade, which soft-deletes (or removes) them in the same transaction.
	// Returns ENOTFOUND if absent.
	DeleteHolder(ctx context.Context, id uuid.UUID, hard, cascade bool) (*Holder, error)

	// RestoreHolder undoes a soft delete (an active holder is returned as is); its alias
	// accounts stay deleted until restored one by one. Returns ENOTFOUND, or
	// EDOCUMENTEXISTS when an active holder now has the same document.
	RestoreHolder(ctx context.Context, id uuid.UUID) (*Holder, error)
}
