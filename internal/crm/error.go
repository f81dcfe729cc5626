package crm

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. They are the values clients see in a GraphQL error's extensions.code
// (SPEC §10): the domain owns them, the GraphQL layer only copies them.
const (
	EINVALID          = "BAD_USER_INPUT"
	ENOTFOUND         = "NOT_FOUND"
	EDOCUMENTEXISTS   = "DOCUMENT_ALREADY_EXISTS"
	EACCOUNTLINKED    = "ACCOUNT_ALREADY_LINKED"
	EHASALIASES       = "HOLDER_HAS_ALIAS_ACCOUNTS"
	EVERSIONCONFLICT  = "VERSION_CONFLICT"
	EMISSINGORG       = "MISSING_ORGANIZATION"
	EUNAUTHENTICATED  = "UNAUTHENTICATED"
	EFORBIDDEN        = "FORBIDDEN"
	EAUTHUNAVAILABLE  = "AUTH_UNAVAILABLE"
	EINTERNAL         = "INTERNAL_SERVER_ERROR"
	EREQUESTTOOLARGE  = "REQUEST_TOO_LARGE"
	ETIMEOUT          = "TIMEOUT"
	EMETHODNOTALLOWED = "METHOD_NOT_ALLOWED"
)

// Error is the one application error type. Its Message is safe to show to a client:
// it never contains input values, personal data, SQL or stack traces.
type Error struct {
	// Code is one of the E* constants.
	Code string
	// Message is a human-readable, client-safe explanation.
	Message string
	// Fields maps each bad input field (dotted path, e.g. "contact.primaryEmail")
	// to why it was rejected. Set only for EINVALID.
	Fields map[string]string
	// Extensions carries extra client-safe data to pass through (e.g. an upstream code).
	Extensions map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("crm error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, "" for a nil error,
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the *Error in err's chain,
// or "Internal error." for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// FieldErrors collects validation failures, one reason per field path.
// The zero value is ready to use.
type FieldErrors map[string]string

// Add records why field is invalid; the first reason for a field wins.
func (fe *FieldErrors) Add(field, reason string) {
	if *fe == nil {
		*fe = FieldErrors{}
	}
	if _, ok := (*fe)[field]; !ok {
		(*fe)[field] = reason
	}
}

// Err returns an EINVALID *Error naming every collected field, or nil when there are none.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	names := make([]string, 0, len(fe))
	for k := range fe {
		names = append(names, k)
	}
	sort.Strings(names)
	return &Error{
		Code:    EINVALID,
		Message: "Invalid input: " + strings.Join(names, ", ") + ".",
		Fields:  map[string]string(fe),
	}
}

// InvalidField returns an EINVALID error for a single field.
func InvalidField(field, reason string) *Error {
	var fe FieldErrors
	fe.Add(field, reason)
	return fe.Err().(*Error)
}
