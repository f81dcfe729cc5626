package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lerianstudio/crm-registry/graph/model"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Mappers between generated GraphQL input/output models and domain types.
// On create, a nullable input field sent as null means the same as leaving it out.

// val returns the value of an omittable nullable input, nil when omitted or null.
func val[T any](o graphql.Omittable[*T]) *T {
	v, _ := o.ValueOK()
	return v
}

func toHolder(in model.CreateHolderInput) *crm.Holder {
	h := &crm.Holder{
		Type:          in.Type,
		Name:          in.Name,
		Document:      in.Document,
		ExternalID:    val(in.ExternalID),
		Addresses:     toAddresses(val(in.Addresses)),
		Contact:       toContact(val(in.Contact)),
		NaturalPerson: toNaturalPerson(val(in.NaturalPerson)),
		LegalPerson:   toLegalPerson(val(in.LegalPerson)),
	}
	h.Metadata, _ = in.Metadata.ValueOK()
	return h
}

func toAddresses(in *model.AddressesInput) *crm.Addresses {
	if in == nil {
		return nil
	}
	return &crm.Addresses{
		Primary:     toAddress(val(in.Primary)),
		Additional1: toAddress(val(in.Additional1)),
		Additional2: toAddress(val(in.Additional2)),
	}
}

func toAddress(in *model.AddressInput) *crm.Address {
	if in == nil {
		return nil
	}
	return &crm.Address{
		Line1: val(in.Line1), Line2: val(in.Line2), ZipCode: val(in.ZipCode), City: val(in.City),
		State: val(in.State), Country: val(in.Country), Description: val(in.Description),
	}
}

func toContact(in *model.ContactInput) *crm.Contact {
	if in == nil {
		return nil
	}
	return &crm.Contact{
		PrimaryEmail: val(in.PrimaryEmail), SecondaryEmail: val(in.SecondaryEmail),
		MobilePhone: val(in.MobilePhone), OtherPhone: val(in.OtherPhone),
	}
}

func toNaturalPerson(in *model.NaturalPersonInput) *crm.NaturalPerson {
	if in == nil {
		return nil
	}
	return &crm.NaturalPerson{
		FavoriteName: val(in.FavoriteName), SocialName: val(in.SocialName), Gender: val(in.Gender),
		BirthDate: val(in.BirthDate), CivilStatus: val(in.CivilStatus), Nationality: val(in.Nationality),
		MotherName: val(in.MotherName), FatherName: val(in.FatherName), Status: val(in.Status),
	}
}

func toLegalPerson(in *model.LegalPersonInput) *crm.LegalPerson {
	if in == nil {
		return nil
	}
	l := &crm.LegalPerson{
		TradeName: val(in.TradeName), Activity: val(in.Activity), Type: val(in.Type),
		FoundingDate: val(in.FoundingDate), Size: val(in.Size), Status: val(in.Status),
	}
	if r := val(in.Representative); r != nil {
		l.Representative = &crm.Representative{
			Name: val(r.Name), Document: val(r.Document), Email: val(r.Email), Role: val(r.Role),
		}
	}
	return l
}

func toHolderFilter(ctx context.Context, in *model.HolderFilter, first *int, after *string, order *crm.SortOrder, includeDeleted *bool) crm.HolderFilter {
	f := crm.HolderFilter{Page: toPage(ctx, first, after, order), IncludeDeleted: includeDeleted != nil && *includeDeleted}
	if in != nil {
		f.Type = val(in.Type)
		f.ExternalID = val(in.ExternalID)
		f.Document = val(in.Document)
		f.Metadata, _ = in.Metadata.ValueOK()
		f.CreatedAfter = val(in.CreatedFrom)
		f.CreatedBefore = val(in.CreatedTo)
	}
	return f
}

// toPage maps connection arguments. The total is counted only when the query selects
// totalCount, since counting costs a second statement.
func toPage(ctx context.Context, first *int, after *string, order *crm.SortOrder) crm.Page {
	p := crm.Page{First: crm.DefaultPageSize, Order: crm.CreatedAtDesc}
	if first != nil {
		p.First = *first
	}
	if after != nil {
		p.After = *after
	}
	if order != nil {
		p.Order = *order
	}
	p.WithTotal = slices.Contains(graphql.CollectAllFields(ctx), "totalCount")
	return p
}

func toHolderConnection(page *crm.HolderPage, p crm.Page) *model.HolderConnection {
	c := &model.HolderConnection{
		Edges:      make([]*model.HolderEdge, len(page.Holders)),
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: p.After != ""},
		TotalCount: page.TotalCount,
	}
	for i, h := range page.Holders {
		c.Edges[i] = &model.HolderEdge{Cursor: crm.Cursor(h.ID), Node: h}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}

// notFoundIsNull turns ENOTFOUND into a null result: single-record queries answer
// null for an absent record, as GraphQL clients expect, and keep other errors.
func notFoundIsNull[T any](v *T, err error) (*T, error) {
	if crm.ErrorCode(err) == crm.ENOTFOUND {
		return nil, nil
	}
	return v, err
}

// Update mappers: every nullable input field becomes a crm.Patch, so "left out",
// "sent as null" and "sent with a value" stay distinct (SPEC §5).

// patch maps an omittable scalar input to a Patch.
func patch[T any](o graphql.Omittable[*T]) crm.Patch[T] {
	v, ok := o.ValueOK()
	return crm.Patch[T]{Set: ok, Value: v}
}

// patchObject maps an omittable nested input object to a Patch of its update type.
func patchObject[I, U any](o graphql.Omittable[*I], conv func(*I) U) crm.Patch[U] {
	v, ok := o.ValueOK()
	if !ok {
		return crm.Patch[U]{}
	}
	if v == nil {
		return crm.Clear[U]()
	}
	return crm.SetTo(conv(v))
}

func patchMetadata(o graphql.Omittable[crm.Metadata]) crm.Patch[crm.Metadata] {
	v, ok := o.ValueOK()
	if !ok {
		return crm.Patch[crm.Metadata]{}
	}
	if v == nil {
		return crm.Clear[crm.Metadata]()
	}
	return crm.SetTo(v)
}

func toHolderUpdate(in model.UpdateHolderInput) crm.HolderUpdate {
	return crm.HolderUpdate{
		ExpectedVersion: val(in.ExpectedVersion),
		Name:            patch(in.Name),
		ExternalID:      patch(in.ExternalID),
		Addresses:       patchObject(in.Addresses, toAddressesUpdate),
		Contact:         patchObject(in.Contact, toContactUpdate),
		NaturalPerson:   patchObject(in.NaturalPerson, toNaturalPersonUpdate),
		LegalPerson:     patchObject(in.LegalPerson, toLegalPersonUpdate),
		Metadata:        patchMetadata(in.Metadata),
	}
}

func toAddressesUpdate(in *model.AddressesInput) crm.AddressesUpdate {
	return crm.AddressesUpdate{
		Primary:     patchObject(in.Primary, toAddressUpdate),
		Additional1: patchObject(in.Additional1, toAddressUpdate),
		Additional2: patchObject(in.Additional2, toAddressUpdate),
	}
}

func toAddressUpdate(in *model.AddressInput) crm.AddressUpdate {
	return crm.AddressUpdate{
		Line1: patch(in.Line1), Line2: patch(in.Line2), ZipCode: patch(in.ZipCode), City: patch(in.City),
		State: patch(in.State), Country: patch(in.Country), Description: patch(in.Description),
	}
}

func toContactUpdate(in *model.ContactInput) crm.ContactUpdate {
	return crm.ContactUpdate{
		PrimaryEmail: patch(in.PrimaryEmail), SecondaryEmail: patch(in.SecondaryEmail),
		MobilePhone: patch(in.MobilePhone), OtherPhone: patch(in.OtherPhone),
	}
}

func toNaturalPersonUpdate(in *model.NaturalPersonInput) crm.NaturalPersonUpdate {
	return crm.NaturalPersonUpdate{
		FavoriteName: patch(in.FavoriteName), SocialName: patch(in.SocialName), Gender: patch(in.Gender),
		BirthDate: patch(in.BirthDate), CivilStatus: patch(in.CivilStatus), Nationality: patch(in.Nationality),
		MotherName: patch(in.MotherName), FatherName: patch(in.FatherName), Status: patch(in.Status),
	}
}

func toLegalPersonUpdate(in *model.LegalPersonInput) crm.LegalPersonUpdate {
	return crm.LegalPersonUpdate{
		TradeName: patch(in.TradeName), Activity: patch(in.Activity), Type: patch(in.Type),
		FoundingDate: patch(in.FoundingDate), Size: patch(in.Size), Status: patch(in.Status),
		Representative: patchObject(in.Representative, func(r *model.RepresentativeInput) crm.RepresentativeUpdate {
			return crm.RepresentativeUpdate{Name: patch(r.Name), Document: patch(r.Document), Email: patch(r.Email), Role: patch(r.Role)}
		}),
	}
}

func toAliasAccount(in model.CreateAliasAccountInput) *crm.AliasAccount {
	a := &crm.AliasAccount{HolderID: in.HolderID, LedgerID: in.LedgerID, AccountID: in.AccountID}
	if b := val(in.BankingDetails); b != nil {
		a.BankingDetails = &crm.BankingDetails{
			Branch: val(b.Branch), Account: val(b.Account), Type: val(b.Type), OpeningDate: val(b.OpeningDate),
			ClosingDate: val(b.ClosingDate), IBAN: val(b.Iban), CountryCode: val(b.CountryCode), BankID: val(b.BankID),
		}
	}
	if r := val(in.RegulatoryFields); r != nil {
		a.RegulatoryFields = &crm.RegulatoryFields{ParticipantDocument: val(r.ParticipantDocument)}
	}
	parties, _ := in.RelatedParties.ValueOK()
	for _, p := range parties {
		a.RelatedParties = append(a.RelatedParties, toRelatedParty(p))
	}
	a.Metadata, _ = in.Metadata.ValueOK()
	return a
}

func toRelatedParty(in *model.RelatedPartyInput) *crm.RelatedParty {
	return &crm.RelatedParty{Document: in.Document, Name: in.Name, Role: in.Role, StartDate: in.StartDate, EndDate: val(in.EndDate)}
}

func toAliasAccountUpdate(in model.UpdateAliasAccountInput) crm.AliasAccountUpdate {
	return crm.AliasAccountUpdate{
		ExpectedVersion: val(in.ExpectedVersion),
		BankingDetails: patchObject(in.BankingDetails, func(b *model.BankingDetailsInput) crm.BankingDetailsUpdate {
			return crm.BankingDetailsUpdate{
				Branch: patch(b.Branch), Account: patch(b.Account), Type: patch(b.Type), OpeningDate: patch(b.OpeningDate),
				ClosingDate: patch(b.ClosingDate), IBAN: patch(b.Iban), CountryCode: patch(b.CountryCode), BankID: patch(b.BankID),
			}
		}),
		RegulatoryFields: patchObject(in.RegulatoryFields, func(r *model.RegulatoryFieldsInput) crm.RegulatoryFieldsUpdate {
			return crm.RegulatoryFieldsUpdate{ParticipantDocument: patch(r.ParticipantDocument)}
		}),
		Metadata: patchMetadata(in.Metadata),
	}
}

func toAliasAccountFilter(ctx context.Context, in *model.AliasAccountFilter, first *int, after *string, order *crm.SortOrder, includeDeleted *bool) crm.AliasAccountFilter {
	f := crm.AliasAccountFilter{Page: toPage(ctx, first, after, order), IncludeDeleted: includeDeleted != nil && *includeDeleted}
	if in != nil {
		f.HolderID, f.LedgerID, f.AccountID = val(in.HolderID), val(in.LedgerID), val(in.AccountID)
		f.HolderDocument, f.BankAccount, f.IBAN = val(in.HolderDocument), val(in.BankAccount), val(in.Iban)
		f.Branch, f.ParticipantDocument = val(in.Branch), val(in.ParticipantDocument)
		f.RelatedPartyDocument, f.RelatedPartyRole = val(in.RelatedPartyDocument), val(in.RelatedPartyRole)
		f.Metadata, _ = in.Metadata.ValueOK()
	}
	return f
}

func toAliasAccountConnection(page *crm.AliasAccountPage, p crm.Page) *model.AliasAccountConnection {
	c := &model.AliasAccountConnection{
		Edges:      make([]*model.AliasAccountEdge, len(page.AliasAccounts)),
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: p.After != ""},
		TotalCount: page.TotalCount,
	}
	for i, a := range page.AliasAccounts {
		c.Edges[i] = &model.AliasAccountEdge{Cursor: crm.Cursor(a.ID), Node: a}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}

func isTrue(b graphql.Omittable[*bool]) bool {
	v := val(b)
	return v != nil && *v
}
