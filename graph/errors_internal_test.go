package graph

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestFederationErrorsLoggedWithoutText: an error the generated federation code raises
// on _entities (for the field or one representation, under any alias) is answered
// INTERNAL_SERVER_ERROR and logged without its text, which may quote a representation;
// a storage failure of an entity resolver, and any error of another field, keep theirs.
func TestFederationErrorsLoggedWithoutText(t *testing.T) {
	const secret = "Zephyrine Quaglia 123.456.789-09"
	fieldCtx := func(object, name, alias string) context.Context {
		return graphql.WithFieldContext(context.Background(), &graphql.FieldContext{
			Object: object,
			Field:  graphql.CollectedField{Field: &ast.Field{Name: name, Alias: alias}},
		})
	}
	entities := fieldCtx("Query", "_entities", "_entities")
	for _, c := range []struct {
		name     string
		ctx      context.Context
		err      error
		wantText bool
	}{
		{"generated, field", entities, errors.New("unknown type: " + secret), false},
		{"generated, wrapped sentinel", entities, errors.Join(ErrUnknownType, errors.New(secret)), false},
		{"generated, one representation", graphql.WithPathContext(entities, graphql.NewPathWithIndex(0)), errors.New("unknown type: " + secret), false},
		{"generated, aliased field", fieldCtx("Query", "_entities", "found"), errors.New("unknown type: " + secret), false},
		{"entity resolver's storage", entities, entityLookupError{errors.New("storage said " + secret)}, true},
		{"another field", fieldCtx("Query", "holders", "holders"), errors.New("storage said " + secret), true},
		{"a field named _entities elsewhere", fieldCtx("Holder", "_entities", "_entities"), errors.New("storage said " + secret), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := ErrorPresenter(slog.New(slog.NewJSONHandler(&logs, nil)))(c.ctx, c.err)
			if e.Extensions["code"] != "INTERNAL_SERVER_ERROR" || e.Message != "Internal error." {
				t.Fatalf("presented as %q %v", e.Message, e.Extensions)
			}
			line := logs.String()
			if !strings.Contains(line, `"msg":"graphql: internal error"`) {
				t.Fatalf("no internal error logged: %q", line)
			}
			if got := strings.Contains(line, secret); got != c.wantText {
				t.Fatalf("log line carries the error text: %v, want %v: %s", got, c.wantText, line)
			}
			if !c.wantText && !strings.Contains(line, `"err":"entity resolution failed (message not logged: it may quote a representation)"`) {
				t.Fatalf("log line does not say what failed: %s", line)
			}
		})
	}
}
