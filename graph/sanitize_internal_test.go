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
	} {
		if got := withoutValues(in); got != want {
			t.Errorf("withoutValues(%q) = %q, want %q", in, got, want)
		}
	}
}
