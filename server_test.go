package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the real server (run) with env on a free port and returns its base
// URL and a stop function that shuts it down and returns run's error.
func startServer(t *testing.T, env map[string]string, dotEnv string, logs io.Writer) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runArgs{
			Getenv:   func(k string) string { return env[k] },
			DotEnv:   dotEnv,
			Stdout:   logs,
			OnListen: func(a net.Addr) { addr <- a },
		})
	}()
	select {
	case a := <-addr:
		return "http://" + a.String(), func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatal("server did not start within 3 minutes")
	}
	return "", nil
}

func gqlPost(t *testing.T, base, org, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Organization-Id", org)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["errors"] != nil {
		t.Fatalf("errors: %v", out["errors"])
	}
	return out["data"].(map[string]any)
}

// reachableTempDir returns a fresh directory for the embedded PostgreSQL, removed when
// the test ends (after servers registered later have stopped). Not t.TempDir(): its
// parent is private to root, and as root the cluster runs as the postgres user, who must
// reach the data directory.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crm-test-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestRunEmbedded is `make run` as a new user meets it: no DATABASE_URL and no keys, so
// the server writes development keys into .env, starts its own PostgreSQL, serves the
// probes, GraphiQL and the API; and a second start reuses the same cluster and keys.
func TestRunEmbedded(t *testing.T) {
	dir := reachableTempDir(t)
	dotEnv := filepath.Join(dir, ".env")
	env := map[string]string{"SERVER_ADDRESS": "127.0.0.1:0", "DATA_DIR": filepath.Join(dir, "data")}
	logs := &syncBuffer{}
	base, stop := startServer(t, env, dotEnv, logs)

	if b, err := os.ReadFile(dotEnv); err != nil || !strings.Contains(string(b), "LCRYPTO_ENCRYPT_SECRET_KEY=") {
		t.Fatalf("development keys not written to .env: %v %q", err, b)
	}
	if !strings.Contains(logs.String(), "development encryption keys") {
		t.Fatalf("no warning about development keys in logs")
	}
	for path, want := range map[string]int{"/health": 200, "/readyz": 200, "/version": 200, "/graphiql": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}

	org := "0191a2b3-0000-7000-8000-000000000001"
	data := gqlPost(t, base, org, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
		map[string]any{"in": map[string]any{"type": "NATURAL_PERSON", "name": "Ana Souza", "document": "123.456.789-09"}})
	id := data["createHolder"].(map[string]any)["holder"].(map[string]any)["id"].(string)
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if strings.Contains(logs.String(), "Ana Souza") || strings.Contains(logs.String(), "123.456.789-09") {
		t.Fatal("personal data in the logs")
	}

	// Second start: same cluster, same keys, the holder is still there and decrypts.
	base, stop = startServer(t, env, dotEnv, io.Discard)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	data = gqlPost(t, base, org, `query($id: ID!) { holder(id: $id) { name } }`, map[string]any{"id": id})
	if name := data["holder"].(map[string]any)["name"]; name != "Ana Souza" {
		t.Fatalf("after restart holder name = %v", name)
	}
}

// TestProductionRefusesDevDefaults: production mode refuses to start without explicit
// keys and DATABASE_URL, and never writes development keys.
func TestProductionRefusesDevDefaults(t *testing.T) {
	dotEnv := filepath.Join(t.TempDir(), ".env")
	env := map[string]string{"ENV_NAME": "production", "SERVER_ADDRESS": "127.0.0.1:0"}
	err := run(context.Background(), runArgs{Getenv: func(k string) string { return env[k] }, DotEnv: dotEnv, Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "LCRYPTO_ENCRYPT_SECRET_KEY") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("run = %v, want a refusal naming the keys and DATABASE_URL", err)
	}
	if _, err := os.Stat(dotEnv); !os.IsNotExist(err) {
		t.Fatalf("production wrote %s", dotEnv)
	}
}

// TestWithoutCredentials: addresses logged at start-up lose any user information, query
// and fragment.
func TestWithoutCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"http://plugin-auth:4000":                  "http://plugin-auth:4000",
		"https://user:s3cret@collector:4318/v1":    "https://collector:4318/v1",
		"http://tok3n@plugin-auth:4000":            "http://plugin-auth:4000",
		"https://collector:4318/v1?api_key=s3cret": "https://collector:4318/v1",
		"https://collector:4318/?#s3cret":          "https://collector:4318/",
		"http://user:s3cret@[::1\x7f:4318/broken":  "(not a URL)",
	} {
		if got := withoutCredentials(in); got != want {
			t.Errorf("withoutCredentials(%q) = %q, want %q", in, got, want)
		}
	}
}
