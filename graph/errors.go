package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// This file is the one GraphQL error boundary: every error a client sees passes
// through ErrorPresenter, every panic through RecoverFunc. Nothing else logs errors.

// ErrorPresenter returns the presenter that turns errors into client-safe GraphQL
// errors with extensions.code. Domain errors keep their code and message; errors made
// by gqlgen/gqlparser themselves (parse and validation) are shown without the values
// they quote; anything else is logged and replaced by INTERNAL_SERVER_ERROR with the
// request id, so SQL, driver text or input values never reach a client. Errors of the
// generated federation code are logged without their text (fromFederationCode).
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err) // keeps path and locations
		var e *crm.Error
		if errors.As(err, &e) {
			gqlErr.Message = e.Message
			gqlErr.Extensions = map[string]any{"code": e.Code}
			switch {
			case len(e.Fields) > 0:
				gqlErr.Extensions["fields"] = e.Fields
			case e.Code == crm.EINVALID && len(gqlErr.Path) > 1:
				// A scalar that failed to parse: its message is the reason; name the
				// input field from the path.
				field := inputField(gqlErr.Path[1:])
				gqlErr.Message = "Invalid input: " + field + "."
				gqlErr.Extensions["fields"] = map[string]string{field: e.Message}
			}
			for k, v := range e.Extensions {
				gqlErr.Extensions[k] = v
			}
			return gqlErr
		}
		if gqlErr.Err == nil {
			return presentGraphQLError(gqlErr)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			gqlErr.Message, gqlErr.Extensions = "The request was cancelled or took too long.", map[string]any{"code": crm.ETIMEOUT}
			return gqlErr
		}
		reqID := middleware.GetReqID(ctx)
		var logged any = err
		if fromFederationCode(ctx, err) {
			// gqlgen's generated entity resolution quotes the representations a client
			// sent ("unknown type: <__typename>"). checkRepresentations refuses those up
			// front; should one get past it, its text still stays out of the log.
			logged = "entity resolution failed (message not logged: it may quote a representation)"
		}
		logger.ErrorContext(ctx, "graphql: internal error", "path", gqlErr.Path.String(), "err", logged) // request_id comes from ctx
		gqlErr.Message = "Internal error."
		gqlErr.Extensions = map[string]any{"code": crm.EINTERNAL, "requestId": reqID}
		return gqlErr
	}
}

// fromFederationCode reports whether err was raised by the _entities field itself (for
// the field or one representation) other than as an entityLookupError: by the
// federation code gqlgen generates (federation.go) or by its argument coercion.
func fromFederationCode(ctx context.Context, err error) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Object != "Query" || fc.Field.Name != "_entities" {
		return false
	}
	var lookup entityLookupError
	return !errors.As(err, &lookup)
}

// presentGraphQLError handles errors made by gqlgen and gqlparser. A variable that does
// not fit its type is the client's bad input (BAD_USER_INPUT naming the field, as
// Apollo Server does); the value itself is never repeated.
func presentGraphQLError(gqlErr *gqlerror.Error) *gqlerror.Error {
	if len(gqlErr.Path) >= 2 && gqlErr.Path[0] == ast.PathName("variable") {
		field := inputField(gqlErr.Path[1:])
		reason := gqlErr.Message
		if i := strings.Index(reason, " is not a valid "); i >= 0 {
			reason = reason[i+1:] // drop the echoed value
		}
		gqlErr.Message = "Invalid input: " + field + "."
		gqlErr.Extensions = map[string]any{"code": crm.EINVALID, "fields": map[string]string{field: reason}}
		return gqlErr
	}
	if gqlErr.Extensions == nil || gqlErr.Extensions["code"] == nil {
		errcode.Set(gqlErr, errcode.ValidationFailed)
	}
	gqlErr.Message = withoutValues(gqlErr.Message)
	return gqlErr
}

// Patterns of gqlparser messages that quote what a client wrote in the query.
var (
	// Validation: `Int cannot represent non-integer value: "<value>"`, `Value "<value>"
	// does not exist in "HolderType" enum.`, `Expected value of type "Int!", found <value>.`
	valueAfterColon = regexp.MustCompile(`(?s)(cannot represent[^:]*|value):\s.*$`)
	quotedValue     = regexp.MustCompile(`(?s)Value\s+"(?:[^"\\]|\\.)*"\s+does not exist`)
	foundValue      = regexp.MustCompile(`(?s),\s*found\s.*$`)
	// Syntax: the parser names a token by its kind and, for names and literals, its
	// value (lexer.Token.String, strconv.Quote'd): `Unexpected String "<value>"`,
	// `Expected "on", found Int "<value>"`. In a syntax error nothing tells a name from a
	// value the client forgot to quote, so every token's value goes and its kind stays.
	tokenValue = regexp.MustCompile(`\b(Name|Int|Float|String|BlockString) "(?:[^"\\]|\\.)*"`)
	// What is left after "found" in a syntax error: a token kind (Type.String), which is
	// kept; after a validation message's "found" comes a value and a full stop.
	foundKind = regexp.MustCompile(`^,\s*found (?:Name|Int|Float|String|BlockString|<EOF>|<Invalid>|\.\.\.|[!$&():=@\[\]{}|])$`)
	// The lexer quotes the few characters of a bad escape sequence inside a string
	// (`Invalid character escape sequence: \uZeph.`). Its other messages quote one
	// character at most (`Cannot parse the unexpected character "%".`), which are kept.
	escapeSequence = regexp.MustCompile(`(?s)(Invalid character escape sequence):\s.*$`)
)

// withoutValues removes the values gqlparser quotes in syntax and validation messages
// (literals, and the text of unexpected tokens), keeping what kind of value or token it
// was, so an error never repeats personal data written into a query.
func withoutValues(msg string) string {
	msg = tokenValue.ReplaceAllString(msg, "$1")
	msg = escapeSequence.ReplaceAllString(msg, "$1.")
	msg = valueAfterColon.ReplaceAllString(msg, "$1.")
	msg = quotedValue.ReplaceAllString(msg, "Value does not exist")
	return foundValue.ReplaceAllStringFunc(msg, func(found string) string {
		if foundKind.MatchString(found) {
			return found
		}
		return "."
	})
}

// inputField names an input field from a path below the field or variable, relative to
// the mutation's input object as the domain names fields: ["input","contact","primaryEmail"]
// becomes "contact.primaryEmail".
func inputField(p ast.Path) string {
	if len(p) > 1 && p[0] == ast.PathName("input") {
		p = p[1:]
	}
	var b strings.Builder
	for i, el := range p {
		switch v := el.(type) {
		case ast.PathName:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(v))
		case ast.PathIndex:
			b.WriteString("[" + strconv.Itoa(int(v)) + "]")
		}
	}
	return b.String()
}

// RecoverFunc returns gqlgen's recover func: it logs the panic with its stack and the
// request id, and answers INTERNAL_SERVER_ERROR through the presenter.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		reqID := middleware.GetReqID(ctx)
		// The panic value itself could quote data a resolver held: log its type, and the
		// message only of a runtime error (nil dereference, index out of range…), which
		// carries none. The stack shows where. request_id comes from ctx.
		what := fmt.Sprintf("%T", p)
		if re, ok := p.(runtime.Error); ok {
			what = re.Error()
		}
		logger.ErrorContext(ctx, "graphql: panic", "panic", what, "stack", string(debug.Stack()))
		return &crm.Error{Code: crm.EINTERNAL, Message: "Internal error.", Extensions: map[string]any{"requestId": reqID}}
	}
}
