package crm

import (
	"context"

	"github.com/google/uuid"
)

type organizationKey struct{}

type organizationValue struct {
	id  uuid.UUID
	err *Error
}

// NewContextWithOrganization returns a context carrying the tenant's organization id.
func NewContextWithOrganization(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, organizationKey{}, organizationValue{id: id})
}

// NewContextWithOrganizationError returns a context recording that the request named
// no usable organization; OrganizationFromContext then returns err.
func NewContextWithOrganizationError(ctx context.Context, err *Error) context.Context {
	return context.WithValue(ctx, organizationKey{}, organizationValue{err: err})
}

// OrganizationFromContext returns the organization the request acts for.
// Returns EMISSINGORG when the request named none or an invalid one, so every
// service fails closed before reading or writing anything.
func OrganizationFromContext(ctx context.Context) (uuid.UUID, error) {
	v, ok := ctx.Value(organizationKey{}).(organizationValue)
	switch {
	case !ok:
		return uuid.Nil, Errorf(EMISSINGORG, "The X-Organization-Id header is required.")
	case v.err != nil:
		return uuid.Nil, v.err
	case v.id == uuid.Nil:
		return uuid.Nil, Errorf(EMISSINGORG, "The X-Organization-Id header must be a non-nil UUID.")
	}
	return v.id, nil
}
