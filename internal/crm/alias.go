package crm

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// AliasAccount is the business context of one Midaz ledger account: banking details,
// regulatory fields, related parties and metadata. It belongs to one holder.
// The bank account number, IBAN, participant document and related parties' names and
// documents are encrypted at rest.
type AliasAccount struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	// HolderID, LedgerID and AccountID are fixed at creation.
	HolderID         uuid.UUID
	LedgerID         uuid.UUID
	AccountID        uuid.UUID
	BankingDetails   *BankingDetails
	RegulatoryFields *RegulatoryFields
	RelatedParties   []*RelatedParty
	Metadata         Metadata
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	DeletedAt        *time.Time

	// Holder is the holder, when the service loaded it together with the account
	// (one statement instead of two on the hot path); nil otherwise.
	Holder *Holder
}

// BankingDetails are the bank coordinates of an alias account. Branch, Type,
// CountryCode and BankID are bank codes, stored in plain text; Account and IBAN identify
// a person and are encrypted.
type BankingDetails struct {
	Branch      *string `json:"branch,omitempty"`
	Account     *string `json:"account,omitempty"`
	Type        *string `json:"type,omitempty"`
	OpeningDate *Date   `json:"openingDate,omitempty"`
	ClosingDate *Date   `json:"closingDate,omitempty"`
	IBAN        *string `json:"iban,omitempty"`
	CountryCode *string `json:"countryCode,omitempty"`
	BankID      *string `json:"bankId,omitempty"`
}

// RegulatoryFields hold regulatory data of an alias account.
type RegulatoryFields struct {
	ParticipantDocument *string `json:"participantDocument,omitempty"`
}

// MaxRelatedParties bounds the related parties of one alias account.
const MaxRelatedParties = 100

// RelatedPartyRole is the role a person plays for an alias account.
type RelatedPartyRole string

// Related party roles.
const (
	PrimaryHolder       RelatedPartyRole = "PRIMARY_HOLDER"
	LegalRepresentative RelatedPartyRole = "LEGAL_REPRESENTATIVE"
	ResponsibleParty    RelatedPartyRole = "RESPONSIBLE_PARTY"
)

// Valid reports whether r is a known role.
func (r RelatedPartyRole) Valid() bool {
	return r == PrimaryHolder || r == LegalRepresentative || r == ResponsibleParty
}

// RelatedParty is a person linked to an alias account in a role for a period.
type RelatedParty struct {
	ID        uuid.UUID        `json:"id"`
	Document  string           `json:"document"`
	Name      string           `json:"name"`
	Role      RelatedPartyRole `json:"role"`
	StartDate Date             `json:"startDate"`
	EndDate   *Date            `json:"endDate,omitempty"`
}

// DropEmptyObjects makes banking details or regulatory fields with no field set absent,
// as an update does (see Holder.DropEmptyObjects).
func (a *AliasAccount) DropEmptyObjects() {
	a.BankingDetails = absent(a.BankingDetails)
	a.RegulatoryFields = absent(a.RegulatoryFields)
}

// Validate checks every client-breakable rule of an alias account and returns an
// EINVALID error naming each bad field, or nil.
func (a *AliasAccount) Validate() error {
	var fe FieldErrors
	if a.HolderID == uuid.Nil {
		fe.Add("holderId", "is required")
	}
	if a.LedgerID == uuid.Nil {
		fe.Add("ledgerId", "is required")
	}
	if a.AccountID == uuid.Nil {
		fe.Add("accountId", "is required")
	}
	if b := a.BankingDetails; b != nil {
		checkOptional(&fe, "bankingDetails.branch", b.Branch, 50)
		checkOptional(&fe, "bankingDetails.account", b.Account, 50)
		checkOptional(&fe, "bankingDetails.type", b.Type, 10)
		// An IBAN has at most 34 letters and digits; its print form adds a space every 4.
		checkOptional(&fe, "bankingDetails.iban", b.IBAN, 42)
		if b.IBAN != nil && len(NormalizeCode(*b.IBAN)) > 34 {
			fe.Add("bankingDetails.iban", "must have at most 34 letters and digits")
		}
		checkCountry(&fe, "bankingDetails.countryCode", b.CountryCode)
		checkOptional(&fe, "bankingDetails.bankId", b.BankID, 50)
		if b.OpeningDate != nil && b.ClosingDate != nil && b.ClosingDate.Before(b.OpeningDate.Time) {
			fe.Add("bankingDetails.closingDate", "must not be before openingDate")
		}
	}
	if r := a.RegulatoryFields; r != nil {
		checkOptional(&fe, "regulatoryFields.participantDocument", r.ParticipantDocument, 100)
	}
	if len(a.RelatedParties) > MaxRelatedParties {
		fe.Add("relatedParties", "must have at most 100 entries")
	}
	for i, p := range a.RelatedParties {
		p.validate(&fe, "relatedParties["+strconv.Itoa(i)+"]")
	}
	a.Metadata.validate(&fe, "metadata")
	return fe.Err()
}

// Validate checks a related party on its own, naming fields under "relatedParty".
func (p *RelatedParty) Validate() error {
	var fe FieldErrors
	p.validate(&fe, "relatedParty")
	return fe.Err()
}

func (p *RelatedParty) validate(fe *FieldErrors, path string) {
	checkRequired(fe, path+".document", p.Document, 100)
	if p.Document != "" && NormalizeDocument(p.Document) == "" {
		fe.Add(path+".document", "must contain at least one letter or digit")
	}
	checkRequired(fe, path+".name", p.Name, 256)
	if !p.Role.Valid() {
		fe.Add(path+".role", "must be PRIMARY_HOLDER, LEGAL_REPRESENTATIVE or RESPONSIBLE_PARTY")
	}
	if p.StartDate.IsZero() {
		fe.Add(path+".startDate", "is required")
	}
	if p.EndDate != nil && p.EndDate.Before(p.StartDate.Time) {
		fe.Add(path+".endDate", "must not be before startDate")
	}
}

// AliasAccountUpdate is a partial update of an alias account. HolderID, LedgerID and
// AccountID are immutable; related parties change through Add/RemoveRelatedParty.
type AliasAccountUpdate struct {
	ExpectedVersion  *int
	BankingDetails   Patch[BankingDetailsUpdate]
	RegulatoryFields Patch[RegulatoryFieldsUpdate]
	Metadata         Patch[Metadata]
}

// BankingDetailsUpdate patches banking details.
type BankingDetailsUpdate struct {
	Branch, Account, Type     Patch[string]
	OpeningDate, ClosingDate  Patch[Date]
	IBAN, CountryCode, BankID Patch[string]
}

// RegulatoryFieldsUpdate patches regulatory fields.
type RegulatoryFieldsUpdate struct {
	ParticipantDocument Patch[string]
}

// Apply returns a copy of a with u applied, without validating it.
func (a *AliasAccount) Apply(u AliasAccountUpdate) *AliasAccount {
	n := *a
	merge(&n.BankingDetails, u.BankingDetails, func(b *BankingDetails, p *BankingDetailsUpdate) {
		p.Branch.apply(&b.Branch)
		p.Account.apply(&b.Account)
		p.Type.apply(&b.Type)
		p.OpeningDate.apply(&b.OpeningDate)
		p.ClosingDate.apply(&b.ClosingDate)
		p.IBAN.apply(&b.IBAN)
		p.CountryCode.apply(&b.CountryCode)
		p.BankID.apply(&b.BankID)
	})
	merge(&n.RegulatoryFields, u.RegulatoryFields, func(r *RegulatoryFields, p *RegulatoryFieldsUpdate) {
		p.ParticipantDocument.apply(&r.ParticipantDocument)
	})
	n.Metadata = mergeMetadata(a.Metadata, u.Metadata)
	return &n
}

// AliasAccountFilter selects alias accounts. Zero-valued fields do not filter; every
// given field must match.
type AliasAccountFilter struct {
	HolderID  *uuid.UUID
	LedgerID  *uuid.UUID
	AccountID *uuid.UUID
	// HolderDocument matches accounts whose holder has this document (normalised).
	HolderDocument *string
	// BankAccount, IBAN and ParticipantDocument match normalised values through blind indexes.
	BankAccount         *string
	IBAN                *string
	Branch              *string
	ParticipantDocument *string
	// RelatedPartyDocument and RelatedPartyRole match accounts with a related party
	// that has this document and/or this role (the same party when both are given).
	RelatedPartyDocument *string
	RelatedPartyRole     *RelatedPartyRole
	Metadata             Metadata

	IncludeDeleted bool
	Page           Page
}

// Validate returns an EINVALID error naming each bad filter field ("filter.branch")
// and page argument, or nil, by the rules of HolderFilter.Validate.
func (f AliasAccountFilter) Validate() error {
	var fe FieldErrors
	f.Page.validate(&fe)
	checkText(&fe, "filter.holderDocument", f.HolderDocument)
	checkText(&fe, "filter.bankAccount", f.BankAccount)
	checkText(&fe, "filter.iban", f.IBAN)
	checkText(&fe, "filter.branch", f.Branch)
	checkText(&fe, "filter.participantDocument", f.ParticipantDocument)
	checkText(&fe, "filter.relatedPartyDocument", f.RelatedPartyDocument)
	if f.RelatedPartyRole != nil && !f.RelatedPartyRole.Valid() {
		fe.Add("filter.relatedPartyRole", "is not a known role")
	}
	f.Metadata.validate(&fe, "filter.metadata")
	return fe.Err()
}

// AliasAccountPage is one page of alias accounts.
type AliasAccountPage struct {
	AliasAccounts []*AliasAccount
	HasNextPage   bool
	// TotalCount is computed only when Page.WithTotal is set, else -1.
	TotalCount int
}

// AliasAccountService manages alias accounts of the organization in the context;
// every method returns EMISSINGORG without one.
type AliasAccountService interface {
	// CreateAliasAccount validates a and stores it under its active holder, assigning ID,
	// related party IDs, Version and timestamps. Returns EINVALID, ENOTFOUND when the
	// holder is absent or deleted, EACCOUNTLINKED when an active alias account of the
	// organization already has AccountID.
	CreateAliasAccount(ctx context.Context, a *AliasAccount) error

	// FindAliasAccountByID returns an alias account; soft-deleted ones only when
	// includeDeleted. Returns ENOTFOUND if absent.
	FindAliasAccountByID(ctx context.Context, id uuid.UUID, includeDeleted bool) (*AliasAccount, error)

	// FindAliasAccountByLedgerAccount returns the active alias account of a ledger
	// account, with its Holder loaded, in one statement: the hot path. ENOTFOUND if none.
	FindAliasAccountByLedgerAccount(ctx context.Context, accountID uuid.UUID) (*AliasAccount, error)

	// FindAliasAccounts returns a page of alias accounts matching filter.
	// Returns EINVALID naming each bad field when filter.Validate fails.
	FindAliasAccounts(ctx context.Context, filter AliasAccountFilter) (*AliasAccountPage, error)

	// FindAliasAccountsByHolderIDs returns the active alias accounts of the given
	// holders, oldest first, in one statement.
	FindAliasAccountsByHolderIDs(ctx context.Context, holderIDs []uuid.UUID) ([]*AliasAccount, error)

	// FindAliasAccountsByIDs returns the active alias accounts among ids (one statement).
	FindAliasAccountsByIDs(ctx context.Context, ids []uuid.UUID) ([]*AliasAccount, error)

	// FindAliasAccountsByLedgerAccounts returns the active alias accounts of the given
	// ledger account ids (one statement).
	FindAliasAccountsByLedgerAccounts(ctx context.Context, accountIDs []uuid.UUID) ([]*AliasAccount, error)

	// UpdateAliasAccount applies u to an active alias account and returns the result.
	// Returns ENOTFOUND, EINVALID, or EVERSIONCONFLICT when ExpectedVersion differs.
	UpdateAliasAccount(ctx context.Context, id uuid.UUID, u AliasAccountUpdate) (*AliasAccount, error)

	// DeleteAliasAccount soft-deletes an active alias account, or with hard=true removes
	// any alias account (active or soft-deleted) for good. Returns the soft-deleted
	// account (nil for a hard delete), or ENOTFOUND.
	DeleteAliasAccount(ctx context.Context, id uuid.UUID, hard bool) (*AliasAccount, error)

	// RestoreAliasAccount undoes a soft delete (an active account is returned as is).
	// Returns ENOTFOUND when absent or when its holder is deleted, EACCOUNTLINKED when
	// another active alias account now has the same AccountID.
	RestoreAliasAccount(ctx context.Context, id uuid.UUID) (*AliasAccount, error)

	// AddRelatedParty adds p (assigning its ID) to an active alias account.
	// Returns EINVALID, ENOTFOUND or EVERSIONCONFLICT.
	AddRelatedParty(ctx context.Context, aliasID uuid.UUID, p *RelatedParty, expectedVersion *int) (*AliasAccount, error)

	// RemoveRelatedParty removes a related party from an active alias account.
	// Returns ENOTFOUND when the account or the party is absent, or EVERSIONCONFLICT.
	RemoveRelatedParty(ctx context.Context, aliasID, partyID uuid.UUID, expectedVersion *int) (*AliasAccount, error)
}
