package graph

import "testing"

func TestWithoutValues(t *testing.T) {
	for in, want := range map[string]string{
		`Int cannot represent non-integer value: "Ana Souza 123.456"`:      `Int cannot represent non-integer value.`,
		`String cannot represent a non string value: 98765432100`:          `String cannot represent a non string value.`,
		`Value "ROBOT" does not exist in "HolderType!" enum.`:              `Value does not exist in "HolderType!" enum.`,
		`Expected value of type "Int!", found "Ana".`:                      `Expected value of type "Int!".`,
		`Cannot query field "holderz" on type "Query".`:                    `Cannot query field "holderz" on type "Query".`,
		`Value "a \"quoted\" secret" does not exist in "HolderType" enum.`: `Value does not exist in "HolderType" enum.`,
		`Expected value of type "CustomScalar", found String.`:             `Expected value of type "CustomScalar".`,
		// Syntax errors (gqlparser's parser): a token's value goes, its kind stays.
		`Unexpected String "Zephyrine Quaglia 123.456.789-09"`: `Unexpected String`,
		`Unexpected String "a \"quoted\" Zephyrine"`:           `Unexpected String`,
		`Unexpected BlockString "Zephyrine\nQuaglia"`:          `Unexpected BlockString`,
		`Unexpected Int "12345678909"`:                         `Unexpected Int`,
		`Unexpected Float "123.45678909"`:                      `Unexpected Float`,
		`Unexpected Name "Zephyrine"`:                          `Unexpected Name`,
		`Expected "on", found String "Zephyrine Quaglia"`:      `Expected "on", found String`,
		`Expected "on", found Name "Zephyrine"`:                `Expected "on", found Name`,
		`Expected Name, found Int`:                             `Expected Name, found Int`,
		`Expected :, found }`:                                  `Expected :, found }`,
		`Expected Name, found <EOF>`:                           `Expected Name, found <EOF>`,
		`Expected {, found ...`:                                `Expected {, found ...`,
		`expected at least one definition, found )`:            `expected at least one definition, found )`,
		`Unexpected <Invalid>`:                                 `Unexpected <Invalid>`,
		`Unexpected }`:                                         `Unexpected }`,
		// Lexer: an escape sequence quotes a few characters of the string; a single
		// character is kept.
		`Invalid character escape sequence: \uZeph.`:        `Invalid character escape sequence.`,
		`Invalid character escape sequence: \u{Zephyrine}.`: `Invalid character escape sequence.`,
		`Invalid character escape sequence: \x.`:            `Invalid character escape sequence.`,
		`Invalid character escape sequence.`:                `Invalid character escape sequence.`,
		`Cannot parse the unexpected character "%".`:        `Cannot parse the unexpected character "%".`,
		`Invalid number, expected digit but got: "Z".`:      `Invalid number, expected digit but got: "Z".`,
		`Unterminated string.`:                              `Unterminated string.`,
	} {
		if got := withoutValues(in); got != want {
			t.Errorf("withoutValues(%q) = %q, want %q", in, got, want)
		}
	}
}
