package playground

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const testOrg = "00000000-0000-0000-0000-000000000001"

// fakeAssets writes stand-ins for the files `make graphiql` builds into a new
// directory (inside a parent that also holds a secret file next to it).
func fakeAssets(t *testing.T) string {
	t.Helper()
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("top secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "dist")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range builtAssets {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("/* "+name+" */"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Present in the directory but not an asset the page uses: not served.
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newTest(t *testing.T, dir string) (http.Handler, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	h := New(Options{
		Endpoint: "/graphql", AssetsDir: dir,
		Headers: map[string]string{"X-Organization-Id": testOrg},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	return h, logs
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestPlaygroundPage(t *testing.T) {
	h, logs := newTest(t, fakeAssets(t))
	if logs.Len() != 0 {
		t.Fatalf("logged with the assets present: %s", logs)
	}
	rec := get(t, h, "/graphiql")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /graphiql = %d", rec.Code)
	}
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	cspHeader := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(cspHeader, want) {
			t.Errorf("CSP %q lacks %q", cspHeader, want)
		}
	}
	if strings.Contains(cspHeader, "unsafe-inline") || strings.Contains(cspHeader, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", cspHeader)
	}

	// Every script and stylesheet comes from /graphiql/assets/; no inline script.
	srcs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1)
	var urls []string
	for _, m := range srcs {
		if m[1] == "data:," { // the empty favicon
			continue
		}
		urls = append(urls, m[1])
		if !strings.HasPrefix(m[1], "/graphiql/assets/") {
			t.Errorf("page loads %q from outside /graphiql/assets/", m[1])
		}
	}
	for _, name := range append(append([]string{}, builtAssets...), "init.js") {
		if !strings.Contains(strings.Join(urls, " "), "/graphiql/assets/"+name+"?v=") {
			t.Errorf("page does not load %s: %v", name, urls)
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(m[2]) != "" && !strings.Contains(m[1], `type="application/json"`) {
			t.Errorf("inline script: %s", m[0])
		}
	}

	// The configuration block: endpoint, headers pane pre-filled, a holders query.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="graphiql-config">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no configuration block in\n%s", body)
	}
	var cfg struct{ Endpoint, Headers, DefaultQuery string }
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("configuration is not JSON: %v\n%s", err, m[1])
	}
	if cfg.Endpoint != "/graphql" {
		t.Errorf("endpoint = %q", cfg.Endpoint)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(cfg.Headers), &headers); err != nil || headers["X-Organization-Id"] != testOrg {
		t.Errorf("headers = %q (%v), want the organization pre-filled", cfg.Headers, err)
	}
	if !strings.Contains(cfg.DefaultQuery, "holders(") {
		t.Errorf("default query = %q, want a holders query", cfg.DefaultQuery)
	}

	if rec := get(t, h, "/graphiql/"); rec.Code != http.StatusOK || rec.Body.String() != body {
		t.Errorf("GET /graphiql/ = %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphiql", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("POST /graphiql = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// The configuration is data, never markup or script: values cannot break out of the block.
func TestPlaygroundConfigEscaped(t *testing.T) {
	logs := &bytes.Buffer{}
	h := New(Options{
		Endpoint: "/graphql", AssetsDir: fakeAssets(t), DefaultQuery: `</script><script>alert(1)</script>`,
		Headers: map[string]string{"X-Evil": `"</script><img src=x onerror=alert(1)>`},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	body := get(t, h, "/graphiql").Body.String()
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img") {
		t.Fatalf("configuration not escaped:\n%s", body)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="graphiql-config">(.*?)</script>`).FindStringSubmatch(body)
	var cfg struct{ DefaultQuery string }
	if m == nil || json.Unmarshal([]byte(m[1]), &cfg) != nil || cfg.DefaultQuery != `</script><script>alert(1)</script>` {
		t.Fatalf("configuration block does not round-trip: %v", m)
	}
}

func TestPlaygroundAssets(t *testing.T) {
	dir := fakeAssets(t)
	h, _ := newTest(t, dir)
	for name, ctype := range map[string]string{
		"react.production.min.js":     "text/javascript",
		"react-dom.production.min.js": "text/javascript",
		"graphiql.min.js":             "text/javascript",
		"graphiql.min.css":            "text/css",
	} {
		rec := get(t, h, "/graphiql/assets/"+name+"?v=anything")
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", name, rec.Code)
			continue
		}
		if got := rec.Body.String(); got != "/* "+name+" */" {
			t.Errorf("%s body = %q", name, got)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, ctype) {
			t.Errorf("%s Content-Type = %q, want %s", name, ct, ctype)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("%s Cache-Control = %q", name, cc)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s without nosniff", name)
		}
	}
	rec := get(t, h, "/graphiql/assets/init.js")
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), initJS) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("init.js = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{"createFetcher", "config.endpoint", "config.headers", "shouldPersistHeaders: false"} {
		if !strings.Contains(string(initJS), want) {
			t.Errorf("init.js lacks %q", want)
		}
	}

	// A rebuilt asset is served without a restart.
	if err := os.WriteFile(filepath.Join(dir, "graphiql.min.css"), []byte("rebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := get(t, h, "/graphiql/assets/graphiql.min.css").Body.String(); got != "rebuilt" {
		t.Errorf("after rebuild: %q", got)
	}
}

func TestPlaygroundTraversalRefused(t *testing.T) {
	dir := fakeAssets(t)
	h, _ := newTest(t, dir)
	// After startup, an asset replaced by a link out of the directory: not followed.
	css := filepath.Join(dir, "graphiql.min.css")
	if err := os.Remove(css); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(filepath.Dir(dir), "secret.txt"), css); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/graphiql/assets/../../go.mod",
		"/graphiql/assets/../secret.txt",
		"/graphiql/assets/..%2fsecret.txt",
		"/graphiql/assets/%2e%2e/secret.txt",
		"/graphiql/assets/%2e%2e%2f%2e%2e%2fgo.mod",
		"/graphiql/assets/..%5csecret.txt",
		"/graphiql/assets//etc/passwd",
		"/graphiql/assets/./graphiql.min.js",
		"/graphiql/assets/manifest.json",
		"/graphiql/assets/",
		"/graphiql/assets/graphiql.min.css", // the link out of the directory
		"/graphiql/other",
	} {
		rec := get(t, h, path)
		if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "module") {
			t.Errorf("GET %s = %d %q, want refused", path, rec.Code, rec.Body.String())
		}
	}
}

func TestPlaygroundFallbackWhenNotBuilt(t *testing.T) {
	for name, dir := range map[string]string{
		"missing dir": filepath.Join(t.TempDir(), "no-such-dist"),
		"empty dir":   t.TempDir(),
		"not set":     "",
	} {
		t.Run(name, func(t *testing.T) {
			h, logs := newTest(t, dir)
			if n := strings.Count(logs.String(), "GraphiQL assets not found in"); n != 1 {
				t.Fatalf("logged %d times, want once at startup: %s", n, logs)
			}
			if !strings.Contains(logs.String(), "run make graphiql") || !strings.Contains(logs.String(), "CDN") {
				t.Errorf("log does not say why and what to do: %s", logs)
			}
			for range 3 {
				rec := get(t, h, "/graphiql")
				if rec.Code != http.StatusOK {
					t.Fatalf("GET /graphiql = %d", rec.Code)
				}
				body := rec.Body.String()
				// gqlgen's page: GraphiQL from a CDN, with the organization header in the UI.
				if !regexp.MustCompile(`src="https://[^"]+/graphiql\.min\.js"`).MatchString(body) || !strings.Contains(body, testOrg) {
					t.Fatalf("not the CDN page with the header:\n%s", body)
				}
			}
			if strings.Count(logs.String(), "GraphiQL assets not found") != 1 {
				t.Errorf("logged again per request: %s", logs)
			}
			if rec := get(t, h, "/graphiql/assets/graphiql.min.js"); rec.Code != http.StatusNotFound {
				t.Errorf("asset in fallback mode = %d, want 404", rec.Code)
			}
		})
	}
}

func TestPlaygroundBuiltAssetsOffline(t *testing.T) {
	// The real build (make graphiql), when present: nothing in it points to another host.
	dir := filepath.Join("..", "..", "web", "graphiql", "dist")
	if _, err := os.Stat(filepath.Join(dir, "graphiql.min.js")); err != nil {
		t.Skip("web/graphiql/dist not built (make graphiql)")
	}
	css, err := os.ReadFile(filepath.Join(dir, "graphiql.min.css"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`@import|url\(\s*['"]?(?:https?:)?//`).Find(css); m != nil {
		t.Errorf("graphiql.min.css fetches from the network: %s", m)
	}
	h, logs := newTest(t, dir)
	if logs.Len() != 0 {
		t.Fatalf("built assets not accepted: %s", logs)
	}
	rec := get(t, h, "/graphiql/assets/graphiql.min.js")
	if rec.Code != http.StatusOK || rec.Body.Len() < 100_000 {
		t.Fatalf("graphiql.min.js = %d, %d bytes", rec.Code, rec.Body.Len())
	}
}
