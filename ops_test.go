package main

// Operations acceptance tests (issue 6): Prometheus metrics, traces and logs without
// personal data, TLS, graceful shutdown under SIGTERM, production-mode refusals and the
// container files. Every test runs the real server (run) against a real PostgreSQL.
// Helpers are prefixed "ops" so they do not clash with the other tests of package main.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lerianstudio/crm-registry/internal/auth/authtest"
)

const (
	// Test-only keys (64 hex characters each, different from each other).
	opsEncryptKey = "a1b2c3d4e5f60718a1b2c3d4e5f60718a1b2c3d4e5f60718a1b2c3d4e5f60718"
	opsHashKey    = "9f8e7d6c5b4a39289f8e7d6c5b4a39289f8e7d6c5b4a39289f8e7d6c5b4a3928"
	// opsOrg is the X-Organization-Id of every request unless a test says otherwise.
	opsOrg = "0191a2b3-0000-7000-8000-0000000a0b51"
)

// opsClient is the HTTP client of the tests: every request is bounded.
var opsClient = &http.Client{Timeout: 60 * time.Second}

// opsEnv is the environment of a development server on a free loopback port with its
// embedded PostgreSQL under dir, the test keys, and extra name/value pairs.
func opsEnv(dir string, extra ...string) map[string]string {
	env := map[string]string{
		"SERVER_ADDRESS":             "127.0.0.1:0",
		"DATA_DIR":                   filepath.Join(dir, "data"),
		"LCRYPTO_ENCRYPT_SECRET_KEY": opsEncryptKey,
		"LCRYPTO_HASH_SECRET_KEY":    opsHashKey,
		"GRAPHQL_PLAYGROUND":         "false",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// opsStart runs the real server with env (its .env file in a fresh directory, so the
// repository's .env is never read) and returns its base URL and an idempotent stop
// function; the server is also stopped when the test ends.
func opsStart(t *testing.T, env map[string]string, logs io.Writer) (string, func() error) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	base, stop := startServer(t, env, filepath.Join(t.TempDir(), ".env"), logs)
	var once sync.Once
	var stopErr error
	s := func() error {
		once.Do(func() { stopErr = stop() })
		return stopErr
	}
	t.Cleanup(func() {
		if err := s(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return base, s
}

// opsResp is an HTTP response, decoded when it is JSON.
type opsResp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any // nil when the body is not a JSON object
}

func (r opsResp) errors() []any {
	errs, _ := r.Body["errors"].([]any)
	return errs
}

// codes returns the extensions.code of each GraphQL error ("" when it has none).
func (r opsResp) codes() []string {
	var out []string
	for _, e := range r.errors() {
		code, _ := opsDig(e, "extensions", "code").(string)
		out = append(out, code)
	}
	return out
}

// errorText is what a client learns from a failure: the GraphQL errors, or the whole
// body when it is not a GraphQL response.
func (r opsResp) errorText() string {
	if r.Body == nil {
		return string(r.Raw)
	}
	if _, ok := r.Body["data"]; !ok || r.Body["data"] == nil {
		return string(r.Raw)
	}
	b, _ := json.Marshal(r.Body["errors"])
	return string(b)
}

func (r opsResp) String() string {
	s := string(r.Raw)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", r.Status, s)
}

// opsDig walks nested JSON objects by key.
func opsDig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// opsRequest sends one request and reads the whole answer.
func opsRequest(t *testing.T, client *http.Client, method, url string, hdr map[string]string, body []byte) opsResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	r := opsResp{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// opsGQL posts a GraphQL operation as JSON with the test organization; hdr adds or
// overrides headers (an empty value removes one).
func opsGQL(t *testing.T, base string, hdr map[string]string, query string, vars map[string]any) opsResp {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": "application/json", "X-Organization-Id": opsOrg}
	for k, v := range hdr {
		h[k] = v
	}
	return opsRequest(t, opsClient, http.MethodPost, base+"/graphql", h, body)
}

// opsOK fails unless r is a 200 GraphQL answer without errors, and returns the string
// found at path under data.
func opsOK(t *testing.T, what string, r opsResp, path ...string) string {
	t.Helper()
	if r.Status != http.StatusOK || r.Body == nil || len(r.errors()) > 0 {
		t.Fatalf("%s: want success, got %s", what, r)
	}
	if len(path) == 0 {
		return ""
	}
	s, ok := opsDig(r.Body["data"], path...).(string)
	if !ok {
		t.Fatalf("%s: no string at data.%s in %s", what, strings.Join(path, "."), r)
	}
	return s
}

// opsWantCode fails unless r is an HTTP status answer whose errors carry exactly codes.
func opsWantCode(t *testing.T, what string, r opsResp, status int, codes ...string) {
	t.Helper()
	got := r.codes()
	if r.Status != status || strings.Join(got, ",") != strings.Join(codes, ",") {
		t.Fatalf("%s: want HTTP %d with codes %v, got codes %v in %s", what, status, codes, got, r)
	}
}

// --- Prometheus text format ----------------------------------------------------------

type opsSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

var (
	opsSampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$`)
	opsLabelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// opsParseMetrics parses the Prometheus text exposition format.
func opsParseMetrics(t *testing.T, text string) []opsSample {
	t.Helper()
	var out []opsSample
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := opsSampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparseable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in metrics line %q: %v", line, err)
		}
		s := opsSample{Name: m[1], Labels: map[string]string{}, Value: v}
		for _, l := range opsLabelRE.FindAllStringSubmatch(m[2], -1) {
			s.Labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// opsSeries returns the sum of the samples named name whose labels include labels, and
// how many series matched.
func opsSeries(samples []opsSample, name string, labels map[string]string) (float64, int) {
	var sum float64
	var n int
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range labels {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		n++
	}
	return sum, n
}

// opsGetMetrics scrapes /metrics.
func opsGetMetrics(t *testing.T, base string) (string, []opsSample) {
	t.Helper()
	r := opsRequest(t, opsClient, http.MethodGet, base+"/metrics", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics Content-Type = %q, want the Prometheus text format", ct)
	}
	return string(r.Raw), opsParseMetrics(t, string(r.Raw))
}

// opsWantSeries fails unless exactly one series name{labels} exists with value want.
func opsWantSeries(t *testing.T, samples []opsSample, name string, labels map[string]string, want float64) {
	t.Helper()
	got, n := opsSeries(samples, name, labels)
	if n != 1 || got != want {
		t.Errorf("%s%v: want one series = %v, got %d series summing to %v", name, labels, want, n, got)
	}
}

// opsWantPresent fails unless at least one series name{labels} exists.
func opsWantPresent(t *testing.T, samples []opsSample, name string, labels map[string]string) float64 {
	t.Helper()
	v, n := opsSeries(samples, name, labels)
	if n == 0 {
		t.Errorf("no series %s%v in /metrics", name, labels)
	}
	return v
}

const opsCreateHolder = `mutation CreateOne($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`

// TestOpsMetrics: after a few named operations, /metrics exposes request counts and
// latency by route, operations and their latency by operation name, errors by
// extensions.code, the connection pool and the Go runtime and process, with exact
// values; the operation label set is bounded and raw paths never become labels.
func TestOpsMetrics(t *testing.T) {
	t.Parallel()
	dir := reachableTempDir(t)
	base, _ := opsStart(t, opsEnv(dir, "DB_MAX_CONNS", "3"), nil)

	opsOK(t, "CreateOne", opsGQL(t, base, nil, opsCreateHolder, map[string]any{"in": map[string]any{
		"type": "NATURAL_PERSON", "name": "Metrics Person", "document": "MET-0001"}}), "createHolder", "holder", "id")
	r := opsGQL(t, base, nil, `query ListHolders { holders(first: 5) { totalCount edges { node { id } } } }`, nil)
	opsOK(t, "ListHolders", r)
	if n := opsDig(r.Body, "data", "holders", "totalCount"); n != float64(1) {
		t.Fatalf("ListHolders totalCount = %v, want 1", n)
	}
	r = opsGQL(t, base, nil, `mutation BadOne($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"type": "NATURAL_PERSON", "name": "Metrics Person", "document": "MET-0002",
			"contact": map[string]any{"primaryEmail": "not-an-e-mail"}}})
	opsWantCode(t, "BadOne", r, http.StatusOK, "BAD_USER_INPUT")
	opsOK(t, "anonymous", opsGQL(t, base, nil, `{ holders { totalCount } }`, nil))
	// A valid GraphQL name longer than 64 characters is labelled "invalid".
	long := "Op" + strings.Repeat("x", 63)
	opsOK(t, "long name", opsGQL(t, base, nil, `query `+long+` { __typename }`, nil))
	// A path no route matches is counted as "unmatched", never by its raw text.
	if r := opsRequest(t, opsClient, http.MethodGet, base+"/no-such-route/raw-path-9731", nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET /no-such-route: %s", r)
	}

	text, m := opsGetMetrics(t, base)
	opsWantSeries(t, m, "crm_http_requests_total", map[string]string{"route": "/graphql", "method": "POST", "code": "200"}, 5)
	opsWantSeries(t, m, "crm_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1)
	opsWantSeries(t, m, "crm_http_request_duration_seconds_count", map[string]string{"route": "/graphql"}, 5)
	opsWantSeries(t, m, "crm_http_request_duration_seconds_bucket", map[string]string{"route": "/graphql", "le": "+Inf"}, 5)
	if strings.Contains(text, "raw-path-9731") {
		t.Errorf("a raw request path became a metric label")
	}
	for op, n := range map[string]float64{"CreateOne": 1, "ListHolders": 1, "BadOne": 1, "anonymous": 1, "invalid": 1} {
		opsWantSeries(t, m, "crm_graphql_operations_total", map[string]string{"operation": op}, n)
		opsWantSeries(t, m, "crm_graphql_operation_duration_seconds_count", map[string]string{"operation": op}, n)
	}
	if strings.Contains(text, long) {
		t.Errorf("an over-long operation name became a metric label")
	}
	opsWantSeries(t, m, "crm_graphql_operation_duration_seconds_bucket", map[string]string{"operation": "ListHolders", "le": "+Inf"}, 1)
	if _, n := opsSeries(m, "crm_graphql_operation_duration_seconds_bucket", map[string]string{"operation": "ListHolders"}); n < 10 {
		t.Errorf("crm_graphql_operation_duration_seconds_bucket{operation=ListHolders}: %d buckets, want a latency histogram", n)
	}
	if sum, _ := opsSeries(m, "crm_graphql_operation_duration_seconds_sum", map[string]string{"operation": "ListHolders"}); sum <= 0 {
		t.Errorf("crm_graphql_operation_duration_seconds_sum{operation=ListHolders} = %v, want > 0", sum)
	}
	opsWantSeries(t, m, "crm_graphql_errors_total", map[string]string{"code": "BAD_USER_INPUT"}, 1)
	if total, _ := opsSeries(m, "crm_graphql_errors_total", nil); total != 1 {
		t.Errorf("crm_graphql_errors_total sums to %v over all codes, want 1", total)
	}

	// Connection pool statistics (collectors.NewDBStatsCollector(db, "crm")).
	opsWantSeries(t, m, "go_sql_max_open_connections", map[string]string{"db_name": "crm"}, 3)
	if v := opsWantPresent(t, m, "go_sql_open_connections", map[string]string{"db_name": "crm"}); v < 1 || v > 3 {
		t.Errorf("go_sql_open_connections{db_name=crm} = %v, want 1..3", v)
	}
	for _, name := range []string{"go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total",
		"go_sql_wait_duration_seconds_total", "go_sql_max_idle_closed_total", "go_sql_max_idle_time_closed_total",
		"go_sql_max_lifetime_closed_total"} {
		opsWantPresent(t, m, name, map[string]string{"db_name": "crm"})
	}
	// Go runtime and process.
	if v := opsWantPresent(t, m, "go_goroutines", nil); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	if v := opsWantPresent(t, m, "process_resident_memory_bytes", nil); v <= 0 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	opsWantPresent(t, m, "go_memstats_heap_alloc_bytes", nil)
	opsWantPresent(t, m, "process_open_fds", nil)
	// The Access Manager series exist only once it is called (see TestOpsMetricsAccessManager).
	if _, n := opsSeries(m, "crm_access_manager_request_duration_seconds_count", nil); n != 0 {
		t.Errorf("Access Manager calls counted while access control is off")
	}

	// The operation label set is bounded: 5 labels so far, the 200th distinct name is
	// the last one kept, later names are counted as "other".
	for i := range 200 {
		opsOK(t, "flood", opsGQL(t, base, nil, fmt.Sprintf(`query OpsLabel%03d { __typename }`, i), nil))
	}
	_, m = opsGetMetrics(t, base)
	opsWantSeries(t, m, "crm_graphql_operations_total", map[string]string{"operation": "OpsLabel194"}, 1)
	if _, n := opsSeries(m, "crm_graphql_operations_total", map[string]string{"operation": "OpsLabel195"}); n != 0 {
		t.Errorf("operation label OpsLabel195 kept beyond the bound of 200 names")
	}
	opsWantSeries(t, m, "crm_graphql_operations_total", map[string]string{"operation": "other"}, 5)
	if _, n := opsSeries(m, "crm_graphql_operations_total", nil); n != 201 {
		t.Errorf("crm_graphql_operations_total has %d series, want 200 names + other", n)
	}
}

// TestOpsMetricsAccessManager: with access control on, the Access Manager call latency
// is recorded by outcome, and the decision cache hits and misses are counted: two
// identical authorised requests make one call (allow) and one cache hit.
func TestOpsMetricsAccessManager(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule("lerian/ana", "holders", "get"))
	dir := reachableTempDir(t)
	base, _ := opsStart(t, opsEnv(dir, "PLUGIN_AUTH_ENABLED", "true", "PLUGIN_AUTH_ADDRESS", am.URL), nil)

	ana := map[string]string{"Authorization": "Bearer " + authtest.UserToken("lerian", "ana")}
	const q = `query ListHolders { holders { totalCount } }`
	opsOK(t, "first ListHolders", opsGQL(t, base, ana, q, nil))
	opsOK(t, "second ListHolders", opsGQL(t, base, ana, q, nil))
	if n := len(am.Requests()); n != 1 {
		t.Fatalf("Access Manager received %d calls for two identical requests, want 1 (cached)", n)
	}

	_, m := opsGetMetrics(t, base)
	opsWantSeries(t, m, "crm_access_manager_request_duration_seconds_count", map[string]string{"outcome": "allow"}, 1)
	opsWantSeries(t, m, "crm_access_manager_request_duration_seconds_bucket", map[string]string{"outcome": "allow", "le": "+Inf"}, 1)
	opsWantSeries(t, m, "crm_access_manager_cache_lookups_total", map[string]string{"result": "hit"}, 1)
	opsWantSeries(t, m, "crm_access_manager_cache_lookups_total", map[string]string{"result": "miss"}, 1)

	// A user without the permission: one more call (deny) and miss; no token: no call.
	bob := map[string]string{"Authorization": "Bearer " + authtest.UserToken("lerian", "bob")}
	opsWantCode(t, "bob", opsGQL(t, base, bob, q, nil), http.StatusOK, "FORBIDDEN")
	opsWantCode(t, "no token", opsGQL(t, base, nil, q, nil), http.StatusOK, "UNAUTHENTICATED")
	if n := len(am.Requests()); n != 2 {
		t.Fatalf("Access Manager received %d calls, want 2", n)
	}
	_, m = opsGetMetrics(t, base)
	opsWantSeries(t, m, "crm_access_manager_request_duration_seconds_count", map[string]string{"outcome": "allow"}, 1)
	opsWantSeries(t, m, "crm_access_manager_request_duration_seconds_count", map[string]string{"outcome": "deny"}, 1)
	opsWantSeries(t, m, "crm_access_manager_cache_lookups_total", map[string]string{"result": "hit"}, 1)
	opsWantSeries(t, m, "crm_access_manager_cache_lookups_total", map[string]string{"result": "miss"}, 2)
	opsWantSeries(t, m, "crm_graphql_errors_total", map[string]string{"code": "FORBIDDEN"}, 1)
	opsWantSeries(t, m, "crm_graphql_errors_total", map[string]string{"code": "UNAUTHENTICATED"}, 1)
	opsWantSeries(t, m, "crm_graphql_operations_total", map[string]string{"operation": "ListHolders"}, 4)
}
