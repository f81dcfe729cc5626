package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// playgroundOrg is the organization pre-filled in the GraphiQL headers pane (newRouter).
const playgroundOrg = "00000000-0000-0000-0000-000000000001"

// findChromium returns the OS Chromium: $CHROMIUM, /usr/bin/chromium or `chromium` on
// PATH; "" when there is none.
func findChromium() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
		return ""
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// TestBrowserGraphiQL opens the playground in headless Chromium with every request to
// another host blocked (an air-gapped install), runs a holders query from the page and
// sees the seeded holder: test/browser/graphiql.test.mjs, driven by playwright-core with
// the OS Chromium. Needs `make node-deps graphiql` (make test does that).
func TestBrowserGraphiQL(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skipf("Chromium not found (CHROMIUM=%q, /usr/bin/chromium, chromium on PATH): install the OS package (apt-get install chromium) to run the GraphiQL browser test", os.Getenv("CHROMIUM"))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the GraphiQL browser test needs Node.js")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, "web", "graphiql", "dist")
	browserDir := filepath.Join(root, "test", "browser")
	for _, need := range []string{
		filepath.Join(dist, "graphiql.min.js"),
		filepath.Join(browserDir, "node_modules", "playwright-core", "package.json"),
	} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s missing: run `make node-deps graphiql` (make test does that)", need)
		}
	}

	dir := reachableTempDir(t)
	env := map[string]string{
		"SERVER_ADDRESS":             "127.0.0.1:0",
		"DATA_DIR":                   filepath.Join(dir, "data"),
		"LCRYPTO_ENCRYPT_SECRET_KEY": strings.Repeat("1f", 32),
		"LCRYPTO_HASH_SECRET_KEY":    strings.Repeat("2e", 32),
		"GRAPHIQL_ASSETS_DIR":        dist,
		"GRAPHQL_PLAYGROUND":         "true",
	}
	logs := &syncBuffer{}
	base, stop := startServer(t, env, filepath.Join(dir, ".env"), logs)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	if strings.Contains(logs.String(), "GraphiQL assets not found") {
		t.Fatalf("the server did not take the built assets from %s:\n%s", dist, logs)
	}

	name := "Helena Navegador " + time.Now().Format("150405.000")
	gqlPost(t, base, playgroundOrg, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"type": "NATURAL_PERSON", "name": name, "document": "529.982.247-25"}})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// In test/browser, `node --test` finds graphiql.test.mjs (and skips node_modules).
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(),
		"BASE_URL="+base, "EXPECTED_NAME="+name, "ORGANIZATION_ID="+playgroundOrg, "CHROMIUM="+chromium,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1",
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node --test test/browser/ (%s, Chromium %s):\n%s", time.Since(start).Round(time.Millisecond), chromium, out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	// The spec reporter's summary: something ran, nothing skipped (no BASE_URL would skip).
	if strings.Contains(string(out), "pass 0") || !strings.Contains(string(out), "skipped 0") {
		t.Fatalf("the browser test did not run")
	}
}
