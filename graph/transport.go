package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	gojson "github.com/goccy/go-json"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// postTransport serves POST requests with a JSON body: gqlgen's transport.POST (the same
// content negotiation, status codes and response shapes), made for the body httpGuard has
// already read and checked. It differs from gqlgen's in how it works, not in what it
// answers, except where noted:
//   - it takes the body httpGuard read instead of reading it a second time;
//   - it decodes the body with goccy/go-json where that gives encoding/json's result
//     (decodeParams), about twice as fast;
//   - it writes a response that has data and nothing else as {"data": …} directly, where
//     gqlgen re-parses the data through json.Marshal (writeResponse);
//   - a body that is JSON but not a request (an array, a query that is not a string) gets
//     a fixed message: gqlgen's quotes the whole body back, personal data included;
//   - a request that fails before execution is answered without a data entry, as the
//     GraphQL specification asks, where gqlgen's writes "data": null (writeResponse);
//   - a response that cannot be encoded is logged and answered with a generic error,
//     where gqlgen panics with the response data in the panic value.
type postTransport struct{ logger *slog.Logger }

var _ graphql.Transport = postTransport{}

// Supports is transport.POST's test: a POST with a JSON body, not a protocol upgrade.
func (postTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// Response media types (GraphQL over HTTP).
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseMediaType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()

	body, checked, err := requestBody(r)
	if err != nil {
		t.write(ctx, w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("The request body could not be read.")}))
		return
	}
	params := &graphql.RawParams{}
	if err := decodeParams(body, checked, params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		t.write(ctx, w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf(
			"The request body must be a JSON object with the GraphQL request: query (a string), operationName, variables and extensions.")}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			if contentType == mediaGraphQLResponse {
				w.WriteHeader(http.StatusBadRequest)
			} else {
				w.WriteHeader(http.StatusUnprocessableEntity) // 200 after httpGuard's legacyStatus
			}
		}
		t.write(ctx, w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	t.write(ctx, w, responses(ctx))
}

// responseMediaType picks the response's media type from the Accept header as gqlgen's
// transport.POST does by default: application/json without an Accept header or for
// */* and application/*, the first of the two JSON types listed otherwise, and
// application/graphql-response+json when neither is.
func responseMediaType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// guardedBody is a request body httpGuard has read whole and found to be valid JSON.
type guardedBody struct {
	*bytes.Reader
	b []byte
}

func (guardedBody) Close() error { return nil }

// requestBody returns the request's body, and whether httpGuard checked it is valid JSON.
func requestBody(r *http.Request) (body []byte, checked bool, err error) {
	if g, ok := r.Body.(guardedBody); ok {
		return g.b, true, nil
	}
	if r.Body == nil {
		return nil, false, nil
	}
	body, err = io.ReadAll(r.Body)
	return body, false, err
}

// decodeParams decodes a request body into p as gqlgen's transport.POST does:
// encoding/json, numbers kept as json.Number, the first JSON value of the body.
// goccy/go-json decodes it in about half the time, and it is used where its result is
// encoding/json's (FuzzDecodeParams): on a body known to be valid JSON (goccy accepts
// some invalid JSON, such as 01 or raw control characters in strings) that is valid
// UTF-8 (goccy keeps invalid bytes that encoding/json replaces with U+FFFD). Where goccy
// refuses such a body (a number beyond float64's range, which encoding/json keeps as a
// json.Number; a value of the wrong type), encoding/json decides.
func decodeParams(body []byte, validJSON bool, p *graphql.RawParams) error {
	if validJSON && utf8.Valid(body) {
		dec := gojson.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var q graphql.RawParams
		if dec.Decode(&q) == nil {
			*p = q
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(p)
}

// responseBuffers recycles the buffers responses are written from (up to 64 KiB each:
// a larger one, from a rare large response, is left to the collector).
var responseBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledResponseBuffer = 64 << 10

// write writes resp as JSON (see writeResponse); a response that cannot be encoded is
// logged, without its content, and answered with a generic error.
func (t postTransport) write(ctx context.Context, w io.Writer, resp *graphql.Response) {
	buf := responseBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if err := writeResponse(buf, resp); err != nil {
		// Only the error's type: a JSON syntax error's message quotes a character of the
		// data, and the data may be personal.
		t.logger.ErrorContext(ctx, "graphql: response could not be encoded", "err_type", fmt.Sprintf("%T", err)) // request_id comes from ctx
		buf.Reset()
		buf.WriteString(`{"errors":[{"message":"Internal error.","extensions":{"code":"` + crm.EINTERNAL + `"}}],"data":null}`)
	}
	_, _ = w.Write(buf.Bytes())
	if buf.Cap() <= maxPooledResponseBuffer {
		responseBuffers.Put(buf)
	}
}

// writeResponse appends resp's JSON encoding to buf, the bytes json.Marshal gives for it,
// except that a response to a request that was never executed has no data entry.
//   - A response holding data and nothing else is written as {"data":…} around the data
//     as gqlgen wrote it, with only the escaping json.Marshal adds (<, >, &, U+2028 and
//     U+2029, json.HTMLEscape): gqlgen's marshalers and this package's scalars write
//     compact JSON, so json.Marshal's re-parse and compaction of it would change nothing
//     else (tested).
//   - Errors without data come from gqlgen's DispatchError: the request failed before
//     execution (body, parse, validation, variables, limits). The GraphQL specification
//     says the data entry should then not be present (an executed operation whose root
//     field failed has "data": null instead), where gqlgen's envelope writes "data": null.
//   - Every other response goes through json.Marshal.
func writeResponse(buf *bytes.Buffer, resp *graphql.Response) error {
	if len(resp.Data) > 0 && len(resp.Errors) == 0 && len(resp.Extensions) == 0 &&
		resp.Label == "" && resp.Path == nil && resp.HasNext == nil {
		buf.WriteString(`{"data":`)
		json.HTMLEscape(buf, resp.Data)
		buf.WriteByte('}')
		return nil
	}
	var v any = resp
	if resp.Data == nil && len(resp.Errors) > 0 {
		v = requestErrorResponse{Errors: resp.Errors, Extensions: resp.Extensions}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// requestErrorResponse is the response to a request that failed before execution.
type requestErrorResponse struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}
