package main

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOpsDebugListener: DEBUG_ADDR starts a second listener with net/http/pprof's
// handlers; the API's address never serves them, the debug address serves nothing
// else, it stops with the server, and production refuses an address that is not
// loopback before listening anywhere.
func TestOpsDebugListener(t *testing.T) {
	t.Parallel()

	t.Run("production refuses a non-loopback address", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{
			"ENV_NAME": "production", "SERVER_ADDRESS": "127.0.0.1:0", "DEBUG_ADDR": "0.0.0.0:0",
			"DATABASE_URL":               "postgres://u@127.0.0.1:1/crm?sslmode=disable",
			"LCRYPTO_ENCRYPT_SECRET_KEY": opsEncryptKey, "LCRYPTO_HASH_SECRET_KEY": opsHashKey,
		}
		if msg := opsRefusal(t, env); !strings.Contains(msg, "DEBUG_ADDR") {
			t.Errorf("refusal %q does not name DEBUG_ADDR", msg)
		}
	})

	t.Run("serves pprof on its own address only", func(t *testing.T) {
		t.Parallel()
		logs := &syncBuffer{}
		base, stop := opsStart(t, opsEnv(reachableTempDir(t), "DEBUG_ADDR", "127.0.0.1:0"), logs)
		line := opsLogLine(logs.String(), "profiling listener (net/http/pprof) enabled")
		addr, _ := line["debug_addr"].(string)
		if addr == "" {
			t.Fatalf("no debug_addr in the log line %v", line)
		}
		debug := "http://" + addr

		for path, want := range map[string]int{
			"/debug/pprof/":                  http.StatusOK,
			"/debug/pprof/goroutine?debug=1": http.StatusOK,
			"/graphql":                       http.StatusNotFound,
			"/health":                        http.StatusNotFound,
			"/metrics":                       http.StatusNotFound,
		} {
			if r := opsRequest(t, opsClient, http.MethodGet, debug+path, nil, nil); r.Status != want {
				t.Errorf("debug listener: GET %s = %d, want %d", path, r.Status, want)
			}
		}
		r := opsRequest(t, opsClient, http.MethodGet, debug+"/debug/pprof/profile?seconds=1", nil, nil)
		if r.Status != http.StatusOK || !bytes.HasPrefix(r.Raw, []byte{0x1f, 0x8b}) {
			t.Errorf("CPU profile: HTTP %d, %d bytes; want 200 and a gzipped profile", r.Status, len(r.Raw))
		}
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/cmdline"} {
			if r := opsRequest(t, opsClient, http.MethodGet, base+path, nil, nil); r.Status != http.StatusNotFound {
				t.Errorf("API listener: GET %s = %d, want 404", path, r.Status)
			}
		}

		if err := stop(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the debug listener %s still accepts connections after shutdown", addr)
		}
	})
}
