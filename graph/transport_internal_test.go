package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestWriteResponseIsJSONMarshal: the POST transport writes every response of an
// executed operation exactly as json.Marshal (gqlgen's transport) would, including data
// written by the metadata scalar and strings json.Marshal escapes (<, >, &, U+2028,
// U+2029).
func TestWriteResponseIsJSONMarshal(t *testing.T) {
	var meta bytes.Buffer
	MarshalJSON(crm.Metadata{"a<b>&c": "x\u2028y\u2029z\n\"q\"", "n": 1.5, "t": true, "z": nil}).MarshalGQL(&meta)
	quoted := func(s string) string { var b bytes.Buffer; graphql.MarshalString(s).MarshalGQL(&b); return b.String() }
	hasNext := false
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"a":{"id":"x","holder":{"name":"Ana","document":"1"}}}`)},
		{Data: json.RawMessage(`{"metadata":` + meta.String() + `}`)},
		{Data: json.RawMessage(`{"name":` + quoted("<script>&amp;\u2028\u2029\t\x01é\U0001F600") + `,"list":[1,2.5,null,true,{"x":[]}]}`)},
		{Data: json.RawMessage(`null`)},
		{Data: json.RawMessage(`{"a":null}`), Errors: gqlerror.List{{Message: "Holder <x> not found.", Path: ast.Path{ast.PathName("a")},
			Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "Internal error.", Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR"}}}},
		{Data: json.RawMessage(`{}`), Extensions: map[string]any{"k": "v"}},
		{Data: json.RawMessage(`{}`), Label: "l", Path: ast.Path{ast.PathIndex(1)}, HasNext: &hasNext},
		{},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeResponse(&got, resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("writeResponse wrote\n%s\njson.Marshal gives\n%s", got.Bytes(), want)
		}
	}
}

// TestMarshalJSONIsCompact: metadata is written compact (no trailing newline), as
// writeResponse relies on.
func TestMarshalJSONIsCompact(t *testing.T) {
	m := crm.Metadata{"segment": "retail", "tags": "<a>"}
	var got bytes.Buffer
	MarshalJSON(m).MarshalGQL(&got)
	var compact bytes.Buffer
	if err := json.Compact(&compact, got.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), compact.Bytes()) {
		t.Errorf("MarshalJSON wrote %q, not compact (%q)", got.Bytes(), compact.Bytes())
	}
}

// FuzzDecodeParams: decodeParams gives encoding/json's result (gqlgen's decoder) for
// every body httpGuard lets through (valid JSON), whichever decoder it uses: the same
// request, or an error where encoding/json errs. The seeds hold the cases where goccy
// alone would differ; `go test` runs them, `go test -fuzz FuzzDecodeParams` explores.
func FuzzDecodeParams(f *testing.F) {
	for _, s := range []string{
		`{"query":"q","operationName":"Op","variables":{"a":"x","n":12,"f":2.5,"b":true,"z":null,"l":[1,{"k":"v"}]},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}`,
		`{"Query":"q","OPERATIONNAME":"n","Variables":{"A":1}}`,
		`{"query":"a","query":"b"}`,
		`{"query":"a\u0000b\u2028\ud800\udc00\ud800"}`,
		"{\"query\":\"q\xff\xfez\",\"variables\":{\"b\":\"\xed\xa0\x80\",\"\xff\":1}}",
		`{"variables":{"big":1e400,"tiny":1e-400,"int":123456789012345678901234567890,"neg":-0,"exp":1E2}}`,
		`{"query":1}`,
		`{"variables":[]}`,
		`{"variables":"x"}`,
		`{"extensions":{"a":[[[]]]}}`,
		`null`, `[]`, `"s"`, `1`, `true`, ` {"query":"x"} `,
		`{"query":"x","unknown":{"deep":[1,2,3]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // httpGuard answers 400 before any decoding
		}
		var want graphql.RawParams
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		wantErr := dec.Decode(&want)

		var got graphql.RawParams
		err := decodeParams(body, true, &got)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: decodeParams error %v, encoding/json error %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeParams\n%#v\nencoding/json\n%#v", body, got, want)
		}
	})
}

// TestResponseMediaType: the response media type follows the Accept header as gqlgen's
// POST transport chose it.
func TestResponseMediaType(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                  mediaJSON,
		"*/*":                               mediaJSON,
		"application/*":                     mediaJSON,
		"application/json":                  mediaJSON,
		"application/graphql-response+json": mediaGraphQLResponse,
		"application/graphql-response+json, application/json;q=0.9": mediaGraphQLResponse,
		"application/json, application/graphql-response+json":       mediaJSON,
		"text/html, application/json":                               mediaJSON,
		"text/html":                                                 mediaGraphQLResponse,
		"not a media type":                                          mediaGraphQLResponse,
	} {
		if got := responseMediaType(accept); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}

// TestRequestErrorsHaveNoData: a request that failed before execution (gqlgen's
// DispatchError: errors, no data) is answered without a data entry, as the GraphQL
// specification asks, with its errors and extensions as json.Marshal writes them.
func TestRequestErrorsHaveNoData(t *testing.T) {
	errs := gqlerror.List{{Message: "Cannot query field \"x\" on type \"Query\".", Locations: []gqlerror.Location{{Line: 1, Column: 3}},
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}}
	for _, tc := range []struct {
		resp *graphql.Response
		want string
	}{
		{&graphql.Response{Errors: errs}, `{"errors":[{"message":"Cannot query field \"x\" on type \"Query\".","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},
		{&graphql.Response{Errors: errs[:1], Extensions: map[string]any{"k": 1}}, `{"errors":[{"message":"Cannot query field \"x\" on type \"Query\".","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}],"extensions":{"k":1}}`},
	} {
		var got bytes.Buffer
		if err := writeResponse(&got, tc.resp); err != nil {
			t.Fatal(err)
		}
		if got.String() != tc.want {
			t.Errorf("writeResponse wrote\n%s\nwant\n%s", got.String(), tc.want)
		}
	}
}

// TestWriteUnencodableResponse: a response json.Marshal cannot encode (data that is not
// JSON, alongside an error) is answered with a generic internal error, and the log line
// carries nothing of the data.
func TestWriteUnencodableResponse(t *testing.T) {
	var logs bytes.Buffer
	tr := postTransport{logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	var out bytes.Buffer
	tr.write(context.Background(), &out, &graphql.Response{Data: json.RawMessage(`{"name":"Ana Souza`),
		Errors: gqlerror.List{{Message: "x"}}})
	if want := `{"errors":[{"message":"Internal error.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}],"data":null}`; out.String() != want {
		t.Errorf("answer %s, want %s", out.String(), want)
	}
	if !strings.Contains(logs.String(), "response could not be encoded") || strings.Contains(logs.String(), "Ana") || strings.Contains(logs.String(), "Souza") {
		t.Errorf("log %q: want the failure, without the data", logs.String())
	}
}
