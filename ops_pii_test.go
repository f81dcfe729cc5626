package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/auth/authtest"
	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/telemetry"
)

// Distinctive personal data of the PII scenario: none of it (nor its normalised form)
// may appear in a log line, a metric, an error a client receives or a trace.
const (
	opsPIIName      = "Zephyrine Quaglia-Oyelaran"
	opsPIINewName   = "Zephyrine Oyelaran-Vasconcellos"
	opsPIIDocument  = "987.654.321-00"
	opsPIIEmail     = "Zephyrine.Quaglia@Oyelaran-Mail.example"
	opsPIIEmail2    = "zq.backup@quagliamail.example"
	opsPIIPhone     = "+55 (11) 98765-4321"
	opsPIIPhone2    = "+44 20 7946 0958"
	opsPIIStreet    = "Rua Xylofonista Quimerica 742"
	opsPIIMother    = "Ottilie Brankovic-Szeged"
	opsPIIFather    = "Leopold Vandermeersch-Ilunga"
	opsPIIBirthDate = "1985-03-14"
	opsPIICompany   = "Quimera Zeta Comercio Ltda"
	opsPIICNPJ      = "12.345.678/0001-95"
	opsPIIRepName   = "Casimir Wrzesniewski-Abara"
	opsPIIRepDoc    = "555.444.333-22"
	opsPIIRepEmail  = "casimir.w@zetacomercio.example"
	opsPIIIBAN      = "GB29 NWBK 6016 1331 9268 19"
	opsPIIIBAN2     = "DE89 3704 0044 0532 0130 00"
	opsPIIAccount   = "4471-0093826-5"
	opsPIIPartDoc   = "61.234.987/0001-55"
	opsPIIParty     = "Bartholomew Xanthopoulos"
	opsPIIPartyDoc  = "111.222.333-44"
	opsPIIParty2    = "Genoveva Thistlewood-Mbeki"
	opsPIIParty2Doc = "999.888.777-66"
)

// opsPIINeedles are the strings searched for, case-insensitively: every value, its
// normalised form (letters and digits, as documents, IBANs and accounts are compared),
// and the distinctive words of names and the street.
func opsPIINeedles() []string {
	values := []string{opsPIIName, opsPIINewName, opsPIIDocument, opsPIIEmail, opsPIIEmail2, opsPIIPhone, opsPIIPhone2,
		opsPIIStreet, opsPIIMother, opsPIIFather, opsPIIBirthDate, opsPIICompany, opsPIICNPJ, opsPIIRepName, opsPIIRepDoc,
		opsPIIRepEmail, opsPIIIBAN, opsPIIIBAN2, opsPIIAccount, opsPIIPartDoc, opsPIIParty, opsPIIPartyDoc, opsPIIParty2,
		opsPIIParty2Doc}
	words := []string{"Zephyrine", "Quaglia", "Oyelaran", "Vasconcellos", "Xylofonista", "Quimerica", "Ottilie",
		"Brankovic", "Vandermeersch", "Quimera Zeta", "Wrzesniewski", "Xanthopoulos", "Thistlewood", "zetacomercio",
		"quagliamail", "98765-4321", "7946 0958"}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.ToLower(s)
		if len(s) >= 7 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, v := range values {
		add(v)
		if v != opsPIIBirthDate {
			add(crm.NormalizeDocument(v))
		}
	}
	for _, w := range words {
		add(w)
	}
	return out
}

// opsFindPII returns a description of each needle found in text ("" values found none).
func opsFindPII(needles []string, where, text string) []string {
	lower := strings.ToLower(text)
	var found []string
	for _, n := range needles {
		if i := strings.Index(lower, n); i >= 0 {
			from, to := max(0, i-120), min(len(text), i+len(n)+120)
			found = append(found, fmt.Sprintf("%s contains %q: …%s…", where, n, text[from:to]))
		}
	}
	return found
}

// TestOpsNoPersonalData runs a broad scenario with distinctive personal data, with
// access control and tracing on, and checks that none of it reaches the server's log
// output, the /metrics body, any error a client receives (GraphQL errors and non-GraphQL
// error bodies) or any span (name, attributes, events, status). It also checks the
// access log: JSON lines, a request_id on every request line, the operation name of
// named operations; and the traces: one span per request, per root field, per SQL
// statement and per Access Manager call, with the trace context sent to the Access
// Manager.
//
// Tracing: the HTTP and SQL spans are only made when OTEL_EXPORTER_OTLP_ENDPOINT is set,
// so it points at a closed loopback port; run installs its own OTLP provider, and the
// test then installs an in-memory one after the start (telemetry.Install), which the
// HTTP and SQL spans use since they ask the global provider on every span. The graph
// and auth packages keep tracers made at init, which OpenTelemetry binds to the FIRST
// provider ever installed in the process: the test installs its in-memory provider
// before the start too, so that those spans are recorded as well.
func TestOpsNoPersonalData(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	shutdownFirst := telemetry.Install(sdktrace.WithSyncer(exp), "ops-test")
	t.Cleanup(func() { _ = shutdownFirst(context.Background()) })

	// The Access Manager, behind a recorder of the trace context it receives.
	var rules []string
	for _, res := range []string{"holders", "aliases"} {
		for _, act := range []string{"get", "post", "patch", "delete"} {
			rules = append(rules, authtest.Rule("lerian/ana", res, act))
		}
	}
	am := authtest.NewServer(t, rules...)
	amURL, _ := url.Parse(am.URL)
	var tpMu sync.Mutex
	var traceparents []string
	rp := httputil.NewSingleHostReverseProxy(amURL)
	amProxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tpMu.Lock()
		traceparents = append(traceparents, r.Header.Get("traceparent"))
		tpMu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(amProxy.Close)

	dir := reachableTempDir(t)
	logs := &syncBuffer{}
	base, stop := opsStart(t, opsEnv(dir,
		"PLUGIN_AUTH_ENABLED", "true", "PLUGIN_AUTH_ADDRESS", amProxy.URL,
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", // closed port: the tracing code paths are on
		"LOG_LEVEL", "debug", "HTTP_BODY_LIMIT", "65536",
	), logs)
	shutdownAfter := telemetry.Install(sdktrace.WithSyncer(exp), "ops-test")
	t.Cleanup(func() { _ = shutdownAfter(context.Background()) })

	needles := opsPIINeedles()
	var errorTexts []string // what clients learnt from failures
	// Failures known to echo input (see the regression subtest at the end), by label.
	echoed := map[string]string{}
	asEchoCase := func(label string) {
		echoed[label] = errorTexts[len(errorTexts)-1]
		errorTexts = errorTexts[:len(errorTexts)-1]
	}
	named := map[string]int{}
	sent := 0 // requests sent, each must have one access log line
	ana := map[string]string{"Authorization": "Bearer " + authtest.UserToken("lerian", "ana")}
	// gql posts query as ana (hdr adds or removes headers); op is the operation name of
	// query, which its access log line must carry ("" when the server cannot know it:
	// syntax and validation errors).
	gql := func(op string, hdr map[string]string, query string, vars map[string]any) opsResp {
		t.Helper()
		h := map[string]string{}
		for k, v := range ana {
			h[k] = v
		}
		for k, v := range hdr {
			h[k] = v
		}
		r := opsGQL(t, base, h, query, vars)
		sent++
		if op != "" {
			named[op]++
		}
		if len(r.errors()) > 0 || r.Status != http.StatusOK {
			errorTexts = append(errorTexts, r.errorText())
		}
		return r
	}
	raw := func(method, rawURL string, hdr map[string]string, body []byte) opsResp {
		t.Helper()
		r := opsRequest(t, opsClient, method, rawURL, hdr, body)
		sent++
		if len(r.errors()) > 0 || r.Status != http.StatusOK {
			errorTexts = append(errorTexts, r.errorText())
		}
		return r
	}
	person := func() map[string]any {
		return map[string]any{
			"type": "NATURAL_PERSON", "name": opsPIIName, "document": opsPIIDocument,
			"addresses": map[string]any{"primary": map[string]any{"line1": opsPIIStreet, "line2": "Apto 1701",
				"zipCode": "04538-133", "city": "Sao Paulo", "state": "SP", "country": "BR"}},
			"contact": map[string]any{"primaryEmail": opsPIIEmail, "secondaryEmail": opsPIIEmail2,
				"mobilePhone": opsPIIPhone, "otherPhone": opsPIIPhone2},
			"naturalPerson": map[string]any{"motherName": opsPIIMother, "fatherName": opsPIIFather,
				"birthDate": opsPIIBirthDate, "favoriteName": "Zephyrine"},
		}
	}
	const createPerson = `mutation CreatePerson($in: CreateHolderInput!) { createHolder(input: $in) { holder { id name document version } } }`

	// Holders: create, a company, duplicates, invalid inputs of every kind.
	r := gql("CreatePerson", nil, createPerson, map[string]any{"in": person()})
	personID := opsOK(t, "CreatePerson", r, "createHolder", "holder", "id")
	if got := opsDig(r.Body, "data", "createHolder", "holder", "name"); got != opsPIIName {
		t.Fatalf("CreatePerson name = %v", got)
	}
	companyID := opsOK(t, "CreateCompany", gql("CreateCompany", nil,
		`mutation CreateCompany($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"type": "LEGAL_PERSON", "name": opsPIICompany, "document": opsPIICNPJ,
			"legalPerson": map[string]any{"tradeName": opsPIICompany, "representative": map[string]any{
				"name": opsPIIRepName, "document": opsPIIRepDoc, "email": opsPIIRepEmail, "role": "CEO"}}}}),
		"createHolder", "holder", "id")
	dup := person()
	dup["document"] = crm.NormalizeDocument(opsPIIDocument)
	opsWantCode(t, "DuplicatePerson", gql("DuplicatePerson", nil,
		`mutation DuplicatePerson($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": dup}), http.StatusOK, "DOCUMENT_ALREADY_EXISTS")
	bad := person()
	bad["document"] = opsPIIRepDoc
	bad["name"] = strings.Repeat(opsPIIName+" ", 12)
	bad["contact"] = map[string]any{"primaryEmail": "Zephyrine.Quaglia at Oyelaran-Mail.example", "mobilePhone": strings.Repeat(opsPIIPhone, 3)}
	bad["addresses"] = map[string]any{"primary": map[string]any{"line1": opsPIIStreet, "country": "Quaglia"}}
	r = gql("InvalidPerson", nil, `mutation InvalidPerson($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": bad})
	opsWantCode(t, "InvalidPerson", r, http.StatusOK, "BAD_USER_INPUT")
	if fields, _ := opsDig(r.errors()[0], "extensions", "fields").(map[string]any); len(fields) < 4 {
		t.Fatalf("InvalidPerson: want extensions.fields naming each bad field, got %s", r)
	}
	badDate := person()
	badDate["naturalPerson"] = map[string]any{"birthDate": "Zephyrine-Quaglia-1985"}
	opsWantCode(t, "BadScalar", gql("BadScalar", nil,
		`mutation BadScalar($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": badDate}), http.StatusOK, "BAD_USER_INPUT")
	badEnum := person()
	badEnum["type"] = "ZEPHYRINE_QUAGLIA_OYELARAN"
	r = gql("BadEnum", nil, `mutation BadEnum($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": badEnum})
	opsWantCode(t, "BadEnum", r, http.StatusOK, "BAD_USER_INPUT")
	r = gql("BadInt", nil, `query BadInt($n: Int) { holders(first: $n) { totalCount } }`,
		map[string]any{"n": opsPIIName + " " + opsPIIDocument})
	opsWantCode(t, "BadInt", r, http.StatusOK, "BAD_USER_INPUT")
	// Personal data typed into the query text where it does not fit (validation error).
	r = gql("", nil, `query LiteralPII { holders(first: "`+opsPIIName+` `+opsPIIDocument+`") { totalCount } }`, nil)
	opsWantCode(t, "LiteralPII", r, http.StatusOK, "GRAPHQL_VALIDATION_FAILED")
	asEchoCase("a string literal where an Int is expected")
	r = gql("", nil, `query EnumLiteralPII { holders(filter: {type: ZEPHYRINE_QUAGLIA}) { totalCount } }`, nil)
	opsWantCode(t, "EnumLiteralPII", r, http.StatusOK, "GRAPHQL_VALIDATION_FAILED")
	asEchoCase("an unknown enum literal")
	r = gql("", nil, `query NumberDocument { holderByDocument(document: `+crm.NormalizeDocument(opsPIIDocument)+`) { id } }`, nil)
	opsWantCode(t, "NumberDocument", r, http.StatusOK, "GRAPHQL_VALIDATION_FAILED")
	asEchoCase("a document (CPF) sent as a number literal")
	r = gql("NumberDocumentVar", nil, `query NumberDocumentVar($d: String!) { holderByDocument(document: $d) { id } }`,
		map[string]any{"d": 98765432100})
	// gqlgen coerces the JSON number to the String variable: the holder is found.
	if id := opsOK(t, "NumberDocumentVar", r, "holderByDocument", "id"); id == "" {
		t.Fatalf("NumberDocumentVar: %s", r)
	}
	// A syntax error inside a string holding personal data.
	r = gql("", nil, `query SyntaxPII { holderByDocument(document: "`+opsPIIName+` `+opsPIIDocument+`) { id } }`, nil)
	if len(r.errors()) == 0 {
		t.Fatalf("SyntaxPII: want a syntax error, got %s", r)
	}
	// Syntax errors on a token that holds personal data: gqlparser names the token with
	// its value (`Unexpected String "<value>"`, `Expected "on", found Name "<value>"`).
	// The answer names the token's kind only.
	for _, c := range []struct{ label, query, message string }{
		{"a string where the query starts", `"` + opsPIIName + ` ` + opsPIIDocument + `" { holders { totalCount } }`, "Unexpected String"},
		{"a block string where the query starts", `"""` + opsPIIName + `""" { holders { totalCount } }`, "Unexpected BlockString"},
		{"a number where the query starts", crm.NormalizeDocument(opsPIIDocument) + ` { holders { totalCount } }`, "Unexpected Int"},
		{"a name after the query", `query Names { holders { totalCount } } ` + strings.NewReplacer(" ", "_", "-", "_").Replace(opsPIIName), "Unexpected Name"},
		{"a string where a keyword is expected", `fragment F "` + opsPIIName + `" { totalCount } query Keyword { holders { ...F } }`,
			`Expected "on", found String`},
	} {
		r = gql("", nil, c.query, nil)
		opsWantCode(t, c.label, r, http.StatusOK, "GRAPHQL_PARSE_FAILED")
		if got := opsDig(r.errors()[0], "message"); got != c.message {
			t.Errorf("%s: message %q, want %q", c.label, got, c.message)
		}
		asEchoCase(c.label)
	}

	// Updates, a stale version, reads by document (POST and GET, literal and variables).
	opsOK(t, "UpdatePerson", gql("UpdatePerson", nil,
		`mutation UpdatePerson($in: UpdateHolderInput!) { updateHolder(input: $in) { holder { id version } } }`,
		map[string]any{"in": map[string]any{"id": personID, "name": opsPIINewName,
			"contact": map[string]any{"mobilePhone": opsPIIPhone2}}}))
	opsWantCode(t, "StaleUpdate", gql("StaleUpdate", nil,
		`mutation StaleUpdate($in: UpdateHolderInput!) { updateHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"id": personID, "expectedVersion": 1, "name": opsPIIName}}),
		http.StatusOK, "VERSION_CONFLICT")
	r = gql("ByDocument", nil, `query ByDocument($d: String!) { holderByDocument(document: $d) { id name } }`,
		map[string]any{"d": opsPIIDocument})
	if id := opsOK(t, "ByDocument", r, "holderByDocument", "id"); id != personID {
		t.Fatalf("ByDocument found %s, want %s", id, personID)
	}
	r = gql("FilterDocument", nil, `query FilterDocument { holders(filter: {document: "`+crm.NormalizeDocument(opsPIIDocument)+`"}) { totalCount } }`, nil)
	opsOK(t, "FilterDocument", r)
	if n := opsDig(r.Body, "data", "holders", "totalCount"); n != float64(1) {
		t.Fatalf("FilterDocument totalCount = %v, want 1", n)
	}
	get := func(op, query string, vars map[string]any) opsResp {
		t.Helper()
		q := url.Values{"query": {query}}
		if vars != nil {
			b, _ := json.Marshal(vars)
			q.Set("variables", string(b))
		}
		if op != "" {
			named[op]++
		}
		return raw(http.MethodGet, base+"/graphql?"+q.Encode(),
			map[string]string{"X-Organization-Id": opsOrg, "Authorization": ana["Authorization"]}, nil)
	}
	r = get("GetByDocument", `query GetByDocument { holderByDocument(document: "`+opsPIIDocument+`") { id } }`, nil)
	if id := opsOK(t, "GetByDocument", r, "holderByDocument", "id"); id != personID {
		t.Fatalf("GetByDocument found %s", id)
	}
	r = get("GetByDocumentVars", `query GetByDocumentVars($d: String!) { holderByDocument(document: $d) { id } }`,
		map[string]any{"d": opsPIIDocument, "unused": opsPIIName})
	opsOK(t, "GetByDocumentVars", r)
	r = get("", `mutation GetMutation { createHolder(input: {type: NATURAL_PERSON, name: "`+opsPIIName+`", document: "`+opsPIIRepDoc+`"}) { holder { id } } }`, nil)
	if r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("mutation over GET: %s", r)
	}

	// Alias accounts with IBAN, account number, participant document and related parties.
	ledgerID, accountID := "0191a2b3-0000-7000-8000-00000000ed01", "0191a2b3-0000-7000-8000-00000000ac01"
	aliasIn := map[string]any{"holderId": personID, "ledgerId": ledgerID, "accountId": accountID,
		"bankingDetails":   map[string]any{"branch": "0001", "account": opsPIIAccount, "iban": opsPIIIBAN, "countryCode": "GB", "type": "CACC"},
		"regulatoryFields": map[string]any{"participantDocument": opsPIIPartDoc},
		"relatedParties": []any{map[string]any{"document": opsPIIPartyDoc, "name": opsPIIParty, "role": "PRIMARY_HOLDER",
			"startDate": "2024-01-01"}}}
	const createAlias = `mutation CreateAlias($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id version bankingDetails { iban } } } }`
	aliasID := opsOK(t, "CreateAlias", gql("CreateAlias", nil, createAlias, map[string]any{"in": aliasIn}),
		"createAliasAccount", "aliasAccount", "id")
	opsWantCode(t, "AlreadyLinked", gql("AlreadyLinked", nil,
		`mutation AlreadyLinked($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
		map[string]any{"in": aliasIn}), http.StatusOK, "ACCOUNT_ALREADY_LINKED")
	badAlias := map[string]any{"holderId": personID, "ledgerId": ledgerID, "accountId": "0191a2b3-0000-7000-8000-00000000ac02",
		"bankingDetails": map[string]any{"iban": opsPIIIBAN + " " + opsPIIIBAN2, "account": strings.Repeat(opsPIIAccount, 5), "countryCode": "Quaglia"},
		"relatedParties": []any{map[string]any{"document": opsPIIParty2Doc, "name": strings.Repeat(opsPIIParty2, 12),
			"role": "LEGAL_REPRESENTATIVE", "startDate": "2024-05-01", "endDate": "2024-01-01"}}}
	opsWantCode(t, "BadAlias", gql("BadAlias", nil,
		`mutation BadAlias($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
		map[string]any{"in": badAlias}), http.StatusOK, "BAD_USER_INPUT")
	for op, filter := range map[string]string{
		"FilterIBAN":        `{iban: "` + crm.NormalizeDocument(opsPIIIBAN) + `"}`,
		"FilterAccount":     `{bankAccount: "` + opsPIIAccount + `"}`,
		"FilterParty":       `{relatedPartyDocument: "` + opsPIIPartyDoc + `", relatedPartyRole: PRIMARY_HOLDER}`,
		"FilterHolderDoc":   `{holderDocument: "` + opsPIIDocument + `"}`,
		"FilterParticipant": `{participantDocument: "` + opsPIIPartDoc + `"}`,
	} {
		r := gql(op, nil, `query `+op+` { aliasAccounts(filter: `+filter+`) { totalCount edges { node { id } } } }`, nil)
		opsOK(t, op, r)
		if n := opsDig(r.Body, "data", "aliasAccounts", "totalCount"); n != float64(1) {
			t.Fatalf("%s totalCount = %v, want 1", op, n)
		}
	}
	opsOK(t, "AddParty", gql("AddParty", nil,
		`mutation AddParty($in: AddRelatedPartyInput!) { addRelatedParty(input: $in) { relatedParty { id name } } }`,
		map[string]any{"in": map[string]any{"aliasAccountId": aliasID, "relatedParty": map[string]any{
			"document": opsPIIParty2Doc, "name": opsPIIParty2, "role": "LEGAL_REPRESENTATIVE", "startDate": "2024-02-01"}}}),
		"addRelatedParty", "relatedParty", "id")
	opsOK(t, "UpdateAlias", gql("UpdateAlias", nil,
		`mutation UpdateAlias($in: UpdateAliasAccountInput!) { updateAliasAccount(input: $in) { aliasAccount { id } } }`,
		map[string]any{"in": map[string]any{"id": aliasID, "bankingDetails": map[string]any{"iban": opsPIIIBAN2}}}),
		"updateAliasAccount", "aliasAccount", "id")
	r = gql("ReadAlias", nil, `query ReadAlias($id: ID!) { aliasAccount(id: $id) { bankingDetails { iban account } relatedParties { name document } holder { name contact { primaryEmail } } } }`,
		map[string]any{"id": aliasID})
	opsOK(t, "ReadAlias", r)
	if iban := opsDig(r.Body, "data", "aliasAccount", "bankingDetails", "iban"); iban != opsPIIIBAN2 {
		t.Fatalf("ReadAlias iban = %v", iban)
	}

	// Ids that hold personal data, federation representations, deletes.
	r = gql("HolderByBadID", nil, `query HolderByBadID($id: ID!) { holder(id: $id) { id } }`, map[string]any{"id": opsPIIName})
	if r.Status != http.StatusOK {
		t.Fatalf("HolderByBadID: %s", r)
	}
	// A representation whose id is personal data is refused up front (BAD_USER_INPUT)
	// without repeating it; a valid one resolves (and is traced).
	r = gql("EntitiesBad", nil, `query EntitiesBad($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id } } }`,
		map[string]any{"r": []any{map[string]any{"__typename": "Holder", "id": opsPIIDocument}}})
	opsWantCode(t, "EntitiesBad", r, http.StatusOK, "BAD_USER_INPUT")
	r = gql("Entities", nil, `query Entities($r: [_Any!]!) { _entities(representations: $r) { ... on Holder { id } } }`,
		map[string]any{"r": []any{map[string]any{"__typename": "Holder", "id": personID, "name": opsPIIName}}})
	if r.Status != http.StatusOK {
		t.Fatalf("Entities: %s", r)
	}
	opsWantCode(t, "HardDeleteLinked", gql("HardDeleteLinked", nil,
		`mutation HardDeleteLinked($in: HardDeleteHolderInput!) { hardDeleteHolder(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"id": personID}}), http.StatusOK, "HOLDER_HAS_ALIAS_ACCOUNTS")
	opsOK(t, "SoftDelete", gql("SoftDelete", nil,
		`mutation SoftDelete($in: SoftDeleteHolderInput!) { softDeleteHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"id": companyID}}))
	opsOK(t, "Restore", gql("Restore", nil,
		`mutation Restore($in: RestoreHolderInput!) { restoreHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"id": companyID}}))
	opsOK(t, "HardDelete", gql("HardDelete", nil,
		`mutation HardDelete($in: HardDeleteHolderInput!) { hardDeleteHolder(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"id": companyID}}))

	// Transport failures carrying personal data: malformed JSON, wrong media type, too
	// large, no organization; and access control refusals.
	malformed := []byte(`{"query":"mutation { createHolder(input: {type: NATURAL_PERSON, name: \"` + opsPIIName + `\", document: \"` + opsPIIDocument + `\"`)
	r = raw(http.MethodPost, base+"/graphql", map[string]string{"Content-Type": "application/json", "X-Organization-Id": opsOrg,
		"Authorization": ana["Authorization"]}, malformed)
	if r.Status != http.StatusBadRequest || len(r.errors()) != 1 {
		t.Fatalf("malformed JSON: want 400 with one error, got %s", r)
	}
	asEchoCase("a malformed JSON body")
	// Valid JSON that is not a GraphQL request (the query is not a string): gqlgen's POST
	// transport quoted such a body back too; the registry's answers with a fixed message.
	notRequest, _ := json.Marshal(map[string]any{"query": 1, "variables": map[string]any{"in": person()}})
	r = raw(http.MethodPost, base+"/graphql", map[string]string{"Content-Type": "application/json", "X-Organization-Id": opsOrg,
		"Authorization": ana["Authorization"]}, notRequest)
	if r.Status != http.StatusBadRequest || len(r.errors()) != 1 {
		t.Fatalf("JSON that is not a request: want 400 with one error, got %s", r)
	}
	asEchoCase("a JSON body that is not a request")
	r = raw(http.MethodPost, base+"/graphql", map[string]string{"Content-Type": "text/plain", "X-Organization-Id": opsOrg}, []byte(opsPIIName))
	if r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %s", r)
	}
	big, _ := json.Marshal(map[string]any{"query": createPerson, "variables": map[string]any{"in": person(), "pad": strings.Repeat(opsPIIName, 3000)}})
	r = raw(http.MethodPost, base+"/graphql", map[string]string{"Content-Type": "application/json", "X-Organization-Id": opsOrg}, big)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %s", r)
	}
	opsWantCode(t, "NoOrganization", gql("CreatePerson", map[string]string{"X-Organization-Id": ""}, createPerson,
		map[string]any{"in": person()}), http.StatusOK, "MISSING_ORGANIZATION")
	opsWantCode(t, "BadOrganization", gql("CreatePerson", map[string]string{"X-Organization-Id": opsPIIName}, createPerson,
		map[string]any{"in": person()}), http.StatusOK, "MISSING_ORGANIZATION")
	opsWantCode(t, "NoToken", gql("CreatePerson", map[string]string{"Authorization": ""}, createPerson,
		map[string]any{"in": person()}), http.StatusOK, "UNAUTHENTICATED")
	opsWantCode(t, "GarbageToken", gql("CreatePerson", map[string]string{"Authorization": "Bearer Zephyrine.Quaglia." + crm.NormalizeDocument(opsPIIDocument)},
		createPerson, map[string]any{"in": person()}), http.StatusOK, "UNAUTHENTICATED")
	opsWantCode(t, "Forbidden", gql("CreatePerson", map[string]string{"Authorization": "Bearer " + authtest.UserToken("lerian", "bob")},
		createPerson, map[string]any{"in": person()}), http.StatusOK, "FORBIDDEN")

	// /metrics, while the server runs.
	metricsText, _ := opsGetMetrics(t, base)
	sent++
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	logText := logs.String()

	var leaks []string
	leaks = append(leaks, opsFindPII(needles, "log output", logText)...)
	leaks = append(leaks, opsFindPII(needles, "/metrics", metricsText)...)
	for i, e := range errorTexts {
		leaks = append(leaks, opsFindPII(needles, fmt.Sprintf("error answer #%d", i), e)...)
	}
	spans := exp.GetSpans()
	for _, s := range spans {
		leaks = append(leaks, opsFindPII(needles, "span "+s.Name, opsSpanText(s))...)
	}
	// The embedded PostgreSQL's own log (development only) is checked too.
	pgLogs, _ := filepath.Glob(filepath.Join(dir, "data", "postgres", "log", "*.log"))
	for _, p := range pgLogs {
		b, err := os.ReadFile(p)
		if err == nil {
			leaks = append(leaks, opsFindPII(needles, p, string(b))...)
		}
	}
	for _, l := range leaks {
		t.Errorf("personal data leaked: %s", l)
	}
	if len(errorTexts) < 20 {
		t.Errorf("only %d failing answers were checked; the scenario did not run", len(errorTexts))
	}

	t.Run("access log", func(t *testing.T) {
		ops := map[string]int{}
		requests := 0
		sc := bufio.NewScanner(strings.NewReader(logText))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Errorf("log line is not JSON: %q", sc.Text())
				continue
			}
			if line["msg"] != "request" {
				continue
			}
			requests++
			if id, _ := line["request_id"].(string); id == "" {
				t.Errorf("request log line without request_id: %s", sc.Text())
			}
			for _, k := range []string{"method", "path", "status", "duration"} {
				if line[k] == nil {
					t.Errorf("request log line without %s: %s", k, sc.Text())
				}
			}
			if op, ok := line["operation"].(string); ok {
				ops[op]++
			}
		}
		if requests != sent {
			t.Errorf("%d request log lines for %d requests", requests, sent)
		}
		for op, n := range named {
			if ops[op] != n {
				t.Errorf("operation %q: %d access log lines name it, want %d", op, ops[op], n)
			}
		}
	})

	t.Run("traces", func(t *testing.T) {
		byName := map[string]int{}
		traceOfHTTP := map[string]bool{}
		for _, s := range spans {
			byName[s.Name]++
			if strings.HasPrefix(s.Name, "HTTP ") {
				traceOfHTTP[s.SpanContext.TraceID().String()] = true
			}
		}
		// One server span per request, each its own trace (no caller sent a traceparent).
		if n := len(traceOfHTTP); n != sent {
			t.Errorf("%d HTTP request traces for %d requests", n, sent)
		}
		for _, name := range []string{"HTTP POST /graphql", "HTTP GET /graphql", "HTTP GET /metrics",
			"SQL INSERT", "SQL SELECT", "SQL UPDATE", "SQL DELETE", "access-manager authorize"} {
			if byName[name] == 0 {
				t.Errorf("no span %q recorded; spans: %v", name, byName)
			}
		}
		// One span per root field, named after the field (see the regression subtest below for
		// the operation type part of the name).
		for _, field := range []string{"createHolder", "updateHolder", "holderByDocument", "holders", "createAliasAccount",
			"aliasAccounts", "addRelatedParty", "_entities"} {
			n := 0
			for name, c := range byName {
				if strings.HasPrefix(name, "graphql.") && strings.HasSuffix(name, "."+field) {
					n += c
				}
			}
			if n == 0 {
				t.Errorf("no root field span for %s; spans: %v", field, byName)
			}
		}
		// SQL and Access Manager spans belong to the trace of their HTTP request.
		for _, s := range spans {
			// Only this server makes SQL spans (the other servers of this process run
			// without OTEL_EXPORTER_OTLP_ENDPOINT), and only its HTTP requests are traced.
			if strings.HasPrefix(s.Name, "SQL ") && s.Parent.IsValid() && !traceOfHTTP[s.SpanContext.TraceID().String()] {
				t.Errorf("span %q has a parent outside the trace of any HTTP request", s.Name)
			}
			if strings.HasPrefix(s.Name, "SQL ") {
				stmt := ""
				for _, a := range s.Attributes {
					if a.Key == "db.statement" {
						stmt = a.Value.Emit()
					}
				}
				if stmt == "" {
					t.Errorf("SQL span without db.statement")
				}
			}
		}
		// The trace context reaches the Access Manager.
		tpMu.Lock()
		defer tpMu.Unlock()
		if len(traceparents) == 0 {
			t.Fatal("the Access Manager was never called")
		}
		for _, tp := range traceparents {
			parts := strings.Split(tp, "-")
			if len(parts) != 4 || !traceOfHTTP[parts[1]] {
				t.Errorf("Access Manager call with traceparent %q, want the trace of an HTTP request", tp)
			}
		}
	})

	// Regression (fixed bug): error messages a client receives repeat the input values they complain about,
	// although the error boundary (graph/errors.go presentGraphQLError) drops the echoed
	// value only for variables: gqlparser's ValuesOfCorrectType messages quote literals
	// of the query text ("Int cannot represent non-integer value: \"<value>\"", "String
	// cannot represent a non string value: 98765432100", "Value \"X\" does not exist in
	// \"HolderType\" enum."), and gqlgen's POST transport answers a body that is not JSON
	// with "json request body could not be decoded: <err> body:<the whole body>" (also
	// labelled GRAPHQL_VALIDATION_FAILED). These messages travel on to gateways and client
	// logs with the personal data in them.
	// Regression (fixed bug): syntax errors quoted the token they stopped at, value
	// included (`Unexpected String "<value>"`, `Expected "on", found String "<value>"`),
	// which withoutValues did not strip; now only the token's kind is named.
	t.Run("client errors never echo input values", func(t *testing.T) {
		if len(echoed) != 10 {
			t.Fatalf("%d echo cases ran, want 10", len(echoed))
		}
		for _, label := range slices.Sorted(maps.Keys(echoed)) {
			if leaks := opsFindPII(needles, "the error answer to "+label, echoed[label]); len(leaks) > 0 {
				t.Errorf("personal data echoed (%d matches), first: %s", len(leaks), leaks[0])
			}
		}
	})

	// Regression (fixed bug): root field spans are named "graphql.createHolder.createHolder" instead of
	// "graphql.Mutation.createHolder": traceRootField (graph/handler.go) uses
	// RootFieldContext.Object, which gqlgen sets to the field name, not the type name, so
	// a span name never tells a query from a mutation.
	t.Run("root field spans name the operation type", func(t *testing.T) {
		names := map[string]bool{}
		for _, s := range spans {
			names[s.Name] = true
		}
		for _, want := range []string{"graphql.Mutation.createHolder", "graphql.Query.holderByDocument", "graphql.Mutation.createAliasAccount"} {
			if !names[want] {
				t.Errorf("no span %q", want)
			}
		}
	})

	// Regression (fixed bug): graph/errors.go logs "graphql: internal error" (ErrorPresenter) and "graphql:
	// panic" (RecoverFunc) with an explicit "request_id" attribute, and the handler of
	// telemetry.NewLogger adds request_id again from the context: those lines carry the
	// key twice ({"request_id":"…",…,"request_id":"…"}), which log pipelines reject or
	// resolve arbitrarily. Fix: drop the explicit attribute (the context carries it).
	// The scenario provokes one such line: an _entities representation whose id is not a
	// UUID, which the generated federation code reports as a plain error.
	t.Run("log lines have unique keys", func(t *testing.T) {
		for _, l := range strings.Split(strings.TrimSpace(logText), "\n") {
			if dup := opsDuplicateKey(l); dup != "" {
				t.Errorf("log line repeats the key %q: %s", dup, l)
			}
		}
	})

	// Regression (fixed bug): the access log line is written by telemetry.AccessLog with the context of the
	// request before telemetry.TraceHTTP (mounted after it in newRouter, server.go) has
	// started the request's span, so the one line per request never carries the trace_id
	// that telemetry.NewLogger promises for lines logged with a request's context, and an
	// operator cannot go from an access log line to its trace.
	t.Run("access log carries trace_id when traced", func(t *testing.T) {
		sc := bufio.NewScanner(strings.NewReader(logText))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		without := 0
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "request" || line["path"] != "/graphql" {
				continue
			}
			if id, _ := line["trace_id"].(string); len(id) != 32 {
				without++
			}
		}
		if without > 0 {
			t.Errorf("%d /graphql access log lines have no trace_id although tracing is on", without)
		}
	})
}

// opsSpanText is everything a span records: name, attributes, events, links, status.
func opsSpanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, a := range s.Attributes {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
	}
	for _, e := range s.Events {
		b.WriteString(" event:" + e.Name)
		for _, a := range e.Attributes {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
		}
	}
	for _, l := range s.Links {
		for _, a := range l.Attributes {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
		}
	}
	b.WriteString(" status:" + s.Status.Description)
	if s.Resource != nil {
		for _, a := range s.Resource.Attributes() {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
		}
	}
	return b.String()
}

// opsDuplicateKey returns a top-level key that occurs twice in the JSON object line, or "".
func opsDuplicateKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// TestOpsErrorLogLinesHaveUniqueKeys: the lines the GraphQL error boundary logs (an
// internal error, a panic) carry request_id once.
//
// Regression (fixed bug): graph/errors.go ErrorPresenter and RecoverFunc pass "request_id" explicitly and
// the handler of telemetry.NewLogger adds it again from the context, so both lines repeat
// the key. Fix: drop the explicit attribute in graph/errors.go.
func TestOpsErrorLogLinesHaveUniqueKeys(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := telemetry.NewLogger(&buf, slog.LevelInfo)
	ctx := context.WithValue(context.Background(), middleware.RequestIDKey, "ops-request-1")
	if e := graph.ErrorPresenter(logger)(ctx, errors.New("driver said something")); opsDig(e.Extensions, "code") != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("internal error presented as %v", e)
	}
	_ = graph.RecoverFunc(logger)(ctx, "a panic")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", buf.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, `"request_id":"ops-request-1"`) {
			t.Errorf("log line without the request id: %s", l)
		}
		if dup := opsDuplicateKey(l); dup != "" {
			t.Errorf("log line repeats the key %q: %s", dup, l)
		}
	}
}
