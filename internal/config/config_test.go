package config_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lerianstudio/crm-registry/internal/config"
)

const (
	encHex  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	hashHex = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
)

// env returns a map-backed getenv.
func env(m map[string]string) config.Env {
	return func(name string) string { return m[name] }
}

// withKeys returns vars plus both valid keys.
func withKeys(vars map[string]string) map[string]string {
	m := map[string]string{config.EncryptKeyVar: encHex, config.HashKeyVar: hashHex}
	for k, v := range vars {
		m[k] = v
	}
	return m
}

func mustLoad(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	c, err := config.Load(env(vars))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// loadErr loads vars, requires an error and that it names every one of names.
func loadErr(t *testing.T, vars map[string]string, names ...string) {
	t.Helper()
	_, err := config.Load(env(vars))
	if err == nil {
		t.Fatalf("Load succeeded, want an error naming %v", names)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %s", err, n)
		}
	}
}

func TestLoad_Defaults(t *testing.T) {
	c := mustLoad(t, withKeys(nil))
	if c.EnvName != "development" || c.Production() {
		t.Errorf("EnvName = %q, Production() = %v; want development", c.EnvName, c.Production())
	}
	if c.ServerAddress != ":4003" {
		t.Errorf("ServerAddress = %q, want :4003", c.ServerAddress)
	}
	if want := 2 * runtime.NumCPU(); c.DBMaxConns != want {
		t.Errorf("DBMaxConns = %d, want %d", c.DBMaxConns, want)
	}
	if !c.EnableIntrospection || !c.EnablePlayground {
		t.Errorf("introspection = %v, playground = %v; want both on in development", c.EnableIntrospection, c.EnablePlayground)
	}
	if c.DatabaseURL != "" || c.DataDir != ".data" {
		t.Errorf("DatabaseURL = %q, DataDir = %q; want embedded default under .data", c.DatabaseURL, c.DataDir)
	}
	if !c.MigrateOnStart {
		t.Error("MigrateOnStart = false, want true")
	}
	if c.AuthEnabled {
		t.Error("AuthEnabled = true, want off by default")
	}
	if c.ApplicationName != "plugin-crm" {
		t.Errorf("ApplicationName = %q, want plugin-crm", c.ApplicationName)
	}
	if c.AuthCacheAllowTTL <= 0 || c.AuthCacheDenyTTL <= 0 || c.AuthTimeout <= 0 {
		t.Errorf("auth durations = %v/%v/%v, want positive defaults", c.AuthTimeout, c.AuthCacheAllowTTL, c.AuthCacheDenyTTL)
	}
	if c.RequestTimeout <= 0 || c.StatementTimeout <= 0 || c.ShutdownTimeout <= 0 || c.BodyLimit <= 0 {
		t.Errorf("limits = %v/%v/%v/%d, want positive defaults", c.RequestTimeout, c.StatementTimeout, c.ShutdownTimeout, c.BodyLimit)
	}
	if c.QueryDepthLimit <= 0 || c.ComplexityLimit <= 0 {
		t.Errorf("QueryDepthLimit = %d, ComplexityLimit = %d; want positive defaults", c.QueryDepthLimit, c.ComplexityLimit)
	}
	wantEnc, _ := hex.DecodeString(encHex)
	wantHash, _ := hex.DecodeString(hashHex)
	if !bytes.Equal(c.EncryptKey, wantEnc) || !bytes.Equal(c.HashKey, wantHash) {
		t.Errorf("keys = %x / %x, want the decoded hex", c.EncryptKey, c.HashKey)
	}
	if len(c.PreviousEncryptKeys) != 0 {
		t.Errorf("PreviousEncryptKeys = %x, want none", c.PreviousEncryptKeys)
	}
	if c.DebugAddress != "" {
		t.Errorf("DebugAddress = %q, want off by default", c.DebugAddress)
	}
}

func TestLoad_Overrides(t *testing.T) {
	prev := strings.Repeat("ab", 32)
	c := mustLoad(t, withKeys(map[string]string{
		"SERVER_ADDRESS":                ":8080",
		"DB_MAX_CONNS":                  "7",
		"MIGRATE_ON_START":              "false",
		"GRAPHQL_INTROSPECTION":         "false",
		"GRAPHQL_PLAYGROUND":            "0",
		"PLUGIN_AUTH_ENABLED":           "true",
		"PLUGIN_AUTH_ADDRESS":           "http://plugin-auth:4000",
		"PLUGIN_AUTH_CACHE_ALLOW_TTL":   "0s",
		"HTTP_REQUEST_TIMEOUT":          "5s",
		"LCRYPTO_PREVIOUS_ENCRYPT_KEYS": prev + ", " + strings.Repeat("cd", 32),
	}))
	if c.ServerAddress != ":8080" || c.DBMaxConns != 7 || c.MigrateOnStart {
		t.Errorf("ServerAddress = %q, DBMaxConns = %d, MigrateOnStart = %v", c.ServerAddress, c.DBMaxConns, c.MigrateOnStart)
	}
	if c.EnableIntrospection || c.EnablePlayground {
		t.Errorf("introspection = %v, playground = %v; want both off", c.EnableIntrospection, c.EnablePlayground)
	}
	if !c.AuthEnabled || c.AuthAddress != "http://plugin-auth:4000" {
		t.Errorf("AuthEnabled = %v, AuthAddress = %q", c.AuthEnabled, c.AuthAddress)
	}
	if c.AuthCacheAllowTTL != 0 {
		t.Errorf("AuthCacheAllowTTL = %v, want 0 (disabled)", c.AuthCacheAllowTTL)
	}
	if c.RequestTimeout != 5*time.Second {
		t.Errorf("RequestTimeout = %v, want 5s", c.RequestTimeout)
	}
	if len(c.PreviousEncryptKeys) != 2 || hex.EncodeToString(c.PreviousEncryptKeys[0]) != prev {
		t.Errorf("PreviousEncryptKeys = %x", c.PreviousEncryptKeys)
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		names []string // each must appear in the error
	}{
		{"NoKeys", map[string]string{}, []string{config.EncryptKeyVar, config.HashKeyVar}},
		{"NoEncryptKey", map[string]string{config.HashKeyVar: hashHex}, []string{config.EncryptKeyVar}},
		{"NoHashKey", map[string]string{config.EncryptKeyVar: encHex}, []string{config.HashKeyVar}},
		{"EncryptKeyNotHex", withKeys(map[string]string{config.EncryptKeyVar: strings.Repeat("zz", 32)}), []string{config.EncryptKeyVar}},
		{"EncryptKeyTooShort", withKeys(map[string]string{config.EncryptKeyVar: encHex[:62]}), []string{config.EncryptKeyVar}},
		{"EncryptKeyOddLength", withKeys(map[string]string{config.EncryptKeyVar: encHex[:63]}), []string{config.EncryptKeyVar}},
		{"HashKeyTooLong", withKeys(map[string]string{config.HashKeyVar: hashHex + "00"}), []string{config.HashKeyVar}},
		{"HashKeyEqualsEncryptKey", withKeys(map[string]string{config.HashKeyVar: encHex}), []string{config.HashKeyVar}},
		{"PreviousKeyMalformed", withKeys(map[string]string{"LCRYPTO_PREVIOUS_ENCRYPT_KEYS": "abc"}), []string{"LCRYPTO_PREVIOUS_ENCRYPT_KEYS"}},
		{"UnknownEnvName", withKeys(map[string]string{"ENV_NAME": "staging"}), []string{"ENV_NAME"}},
		{"BadInt", withKeys(map[string]string{"DB_MAX_CONNS": "many"}), []string{"DB_MAX_CONNS"}},
		{"ZeroConns", withKeys(map[string]string{"DB_MAX_CONNS": "0"}), []string{"DB_MAX_CONNS"}},
		{"BadBool", withKeys(map[string]string{"GRAPHQL_PLAYGROUND": "sure"}), []string{"GRAPHQL_PLAYGROUND"}},
		{"BadDuration", withKeys(map[string]string{"HTTP_REQUEST_TIMEOUT": "30"}), []string{"HTTP_REQUEST_TIMEOUT"}},
		{"NegativeDuration", withKeys(map[string]string{"PLUGIN_AUTH_TIMEOUT": "-1s"}), []string{"PLUGIN_AUTH_TIMEOUT"}},
		{"AuthWithoutAddress", withKeys(map[string]string{"PLUGIN_AUTH_ENABLED": "true"}), []string{"PLUGIN_AUTH_ADDRESS"}},
		{"TLSCertWithoutKey", withKeys(map[string]string{"TLS_CERT_FILE": "cert.pem"}), []string{"TLS_CERT_FILE"}},
		{"ProductionWithoutDatabaseURL", withKeys(map[string]string{"ENV_NAME": "production"}), []string{"DATABASE_URL"}},
		{"ProductionWithoutKeys", map[string]string{"ENV_NAME": "production", "DATABASE_URL": "postgres://db.example.com/crm"}, []string{config.EncryptKeyVar, config.HashKeyVar}},
		{"ProductionSSLDisabledRemoteHost", withKeys(map[string]string{
			"ENV_NAME": "production", "DATABASE_URL": "postgres://crm:pw@db.example.com:5432/crm?sslmode=disable",
		}), []string{"DATABASE_URL"}},
		{"ProductionSSLDisabledRemoteIP", withKeys(map[string]string{
			"ENV_NAME": "production", "DATABASE_URL": "postgres://crm@10.0.0.5/crm?sslmode=disable",
		}), []string{"DATABASE_URL"}},
		// Regression (fixed bug): config.go:195-204 (insecureRemoteDB) only looks at the URL's authority. lib/pq
		// also takes the host from the "host" query parameter (lib/pq connector.go
		// convertURL turns every query parameter into a key=value setting), so
		// "postgres:///crm?host=db.example.com&sslmode=disable" connects in plain text to a
		// remote host and passes the production check. Fix: when u.Query() has "host" (or
		// "hostaddr"), check those values too (a leading "/" is a unix socket and is fine).
		{"ProductionSSLDisabledRemoteHostInQuery", withKeys(map[string]string{
			"ENV_NAME": "production", "DATABASE_URL": "postgres:///crm?host=db.example.com&sslmode=disable",
		}), []string{"DATABASE_URL"}},
		// pgx's sslmode, unset, is prefer (lib/pq's is require): it may fall back to plain text.
		{"ProductionPgxDefaultSSLModeRemoteHost", withKeys(map[string]string{
			"ENV_NAME": "production", "DB_DRIVER": "pgx", "DATABASE_URL": "postgres://crm:pw@db.example.com:5432/crm",
		}), []string{"DATABASE_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadErr(t, tt.vars, tt.names...)
		})
	}
}

// TestLoad_Limits: numeric settings outside their range are refused with an error that
// names the variable and the range, once (a value that does not parse is reported as
// such, not also as out of range); the boundary values and the documented "0 = off"
// values load.
func TestLoad_Limits(t *testing.T) {
	refused := []struct {
		name, value, want string // want: the range the error must state
	}{
		{"HTTP_REQUEST_TIMEOUT", "0", "at least 1ms"},
		{"HTTP_REQUEST_TIMEOUT", "0s", "at least 1ms"},
		{"SHUTDOWN_TIMEOUT", "0", "at least 1ms"},
		{"PLUGIN_AUTH_TIMEOUT", "0s", "at least 1ms"},
		{"DB_STATEMENT_TIMEOUT", "500us", "at least 1ms or 0 for none"},
		{"HTTP_BODY_LIMIT", "-1", "at least 1"},
		{"HTTP_BODY_LIMIT", "0", "at least 1"},
		{"GRAPHQL_COMPLEXITY_LIMIT", "-1", "at least 1"},
		{"GRAPHQL_COMPLEXITY_LIMIT", "0", "at least 1"},
		{"GRAPHQL_DEPTH_LIMIT", "-1", "at least 1"},
		{"GRAPHQL_DEPTH_LIMIT", "0", "at least 1"},
		{"GRAPHQL_MAX_FIELDS", "0", "at least 1"},
		{"GRAPHQL_TOKEN_LIMIT", "-5", "at least 1"},
		{"DB_MAX_CONNS", "-2", "at least 1"},
	}
	for _, tt := range refused {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := config.Load(env(withKeys(map[string]string{tt.name: tt.value})))
			if err == nil {
				t.Fatalf("Load accepted %s=%s", tt.name, tt.value)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.name+" must be") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not name %s with its range (%q)", msg, tt.name, tt.want)
			}
		})
	}

	t.Run("UnparsableReportedOnce", func(t *testing.T) {
		_, err := config.Load(env(withKeys(map[string]string{"GRAPHQL_DEPTH_LIMIT": "deep", "HTTP_REQUEST_TIMEOUT": "-1s"})))
		if err == nil {
			t.Fatal("Load accepted unparsable values")
		}
		for _, name := range []string{"GRAPHQL_DEPTH_LIMIT", "HTTP_REQUEST_TIMEOUT"} {
			if n := strings.Count(err.Error(), name); n != 1 {
				t.Errorf("error %q mentions %s %d times, want once", err, name, n)
			}
		}
	})

	t.Run("Boundaries", func(t *testing.T) {
		c := mustLoad(t, withKeys(map[string]string{
			"HTTP_REQUEST_TIMEOUT": "1ms", "SHUTDOWN_TIMEOUT": "1ms", "PLUGIN_AUTH_TIMEOUT": "1ms",
			"DB_STATEMENT_TIMEOUT": "1ms", "HTTP_BODY_LIMIT": "1", "GRAPHQL_COMPLEXITY_LIMIT": "1",
			"GRAPHQL_DEPTH_LIMIT": "1", "GRAPHQL_MAX_FIELDS": "1", "GRAPHQL_TOKEN_LIMIT": "1", "DB_MAX_CONNS": "1",
		}))
		if c.RequestTimeout != time.Millisecond || c.ShutdownTimeout != time.Millisecond || c.AuthTimeout != time.Millisecond ||
			c.StatementTimeout != time.Millisecond {
			t.Errorf("durations = %v/%v/%v/%v, want 1ms each", c.RequestTimeout, c.ShutdownTimeout, c.AuthTimeout, c.StatementTimeout)
		}
		if c.BodyLimit != 1 || c.ComplexityLimit != 1 || c.QueryDepthLimit != 1 || c.MaxFields != 1 || c.TokenLimit != 1 || c.DBMaxConns != 1 {
			t.Errorf("limits = %d/%d/%d/%d/%d/%d, want 1 each", c.BodyLimit, c.ComplexityLimit, c.QueryDepthLimit, c.MaxFields, c.TokenLimit, c.DBMaxConns)
		}
	})

	t.Run("ZeroMeansOff", func(t *testing.T) {
		c := mustLoad(t, withKeys(map[string]string{
			"DB_STATEMENT_TIMEOUT": "0", "PLUGIN_AUTH_CACHE_ALLOW_TTL": "0s", "PLUGIN_AUTH_CACHE_DENY_TTL": "0",
		}))
		if c.StatementTimeout != 0 || c.AuthCacheAllowTTL != 0 || c.AuthCacheDenyTTL != 0 {
			t.Errorf("StatementTimeout = %v, TTLs = %v/%v; want 0 (off) each", c.StatementTimeout, c.AuthCacheAllowTTL, c.AuthCacheDenyTTL)
		}
	})
}

// TestLoad_DebugAddress: the pprof listener is off by default, any host:port in
// development, and loopback only in production, where every other setting here is
// valid so the refusal can only be DEBUG_ADDR's.
func TestLoad_DebugAddress(t *testing.T) {
	prod := func(addr string) map[string]string {
		return withKeys(map[string]string{
			"ENV_NAME": "production", "DATABASE_URL": "postgres://crm@db.example.com/crm?sslmode=verify-full", "DEBUG_ADDR": addr,
		})
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060", "127.0.0.1:0"} {
		t.Run("ProductionLoopback "+addr, func(t *testing.T) {
			if c := mustLoad(t, prod(addr)); c.DebugAddress != addr {
				t.Errorf("DebugAddress = %q, want %q", c.DebugAddress, addr)
			}
		})
	}
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.0.0.5:6060", "debug.example.com:6060"} {
		t.Run("ProductionRefuses "+addr, func(t *testing.T) {
			_, err := config.Load(env(prod(addr)))
			if err == nil {
				t.Fatalf("Load accepted DEBUG_ADDR=%s in production", addr)
			}
			if msg := err.Error(); !strings.Contains(msg, "DEBUG_ADDR") || !strings.Contains(msg, "loopback") || strings.Contains(msg, "DATABASE_URL") {
				t.Errorf("error %q, want only a DEBUG_ADDR loopback refusal", msg)
			}
		})
	}
	for _, addr := range []string{":6060", "0.0.0.0:6060", "127.0.0.1:6060"} {
		t.Run("Development "+addr, func(t *testing.T) {
			if c := mustLoad(t, withKeys(map[string]string{"DEBUG_ADDR": addr})); c.DebugAddress != addr {
				t.Errorf("DebugAddress = %q, want %q", c.DebugAddress, addr)
			}
		})
	}
	for _, addr := range []string{"6060", "127.0.0.1", "http://127.0.0.1:6060"} {
		t.Run("Malformed "+addr, func(t *testing.T) {
			loadErr(t, withKeys(map[string]string{"DEBUG_ADDR": addr}), "DEBUG_ADDR")
		})
	}
}

func TestLoad_ErrorDoesNotLeakKeys(t *testing.T) {
	bad := strings.Repeat("a", 63) // a key one character short
	_, err := config.Load(env(withKeys(map[string]string{config.EncryptKeyVar: bad})))
	if err == nil {
		t.Fatal("Load succeeded with a malformed key")
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), hashHex) {
		t.Fatalf("error %q contains key material", err)
	}
}

func TestLoad_Production(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"RemoteWithTLS", "postgres://crm:pw@db.example.com:5432/crm?sslmode=verify-full"},
		{"RemoteDefaultSSLMode", "postgres://crm:pw@db.example.com:5432/crm"},
		{"LoopbackIPv4SSLDisabled", "postgres://crm:pw@127.0.0.1:5432/crm?sslmode=disable"},
		{"LoopbackIPv6SSLDisabled", "postgres://crm:pw@[::1]:5432/crm?sslmode=disable"},
		{"LocalhostSSLDisabled", "postgres://crm:pw@localhost/crm?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, withKeys(map[string]string{"ENV_NAME": "production", "DATABASE_URL": tt.url}))
			if !c.Production() {
				t.Error("Production() = false")
			}
			if c.EnableIntrospection || c.EnablePlayground {
				t.Errorf("introspection = %v, playground = %v; want both off by default in production", c.EnableIntrospection, c.EnablePlayground)
			}
			if c.DatabaseURL != tt.url {
				t.Errorf("DatabaseURL = %q", c.DatabaseURL)
			}
		})
	}
	t.Run("PgxRemoteWithTLS", func(t *testing.T) {
		mustLoad(t, withKeys(map[string]string{"ENV_NAME": "production", "DB_DRIVER": "pgx", "DATABASE_URL": tests[0].url}))
	})
	t.Run("IntrospectionOnRequest", func(t *testing.T) {
		c := mustLoad(t, withKeys(map[string]string{
			"ENV_NAME": "production", "DATABASE_URL": tests[0].url,
			"GRAPHQL_INTROSPECTION": "true", "GRAPHQL_PLAYGROUND": "true",
		}))
		if !c.EnableIntrospection || !c.EnablePlayground {
			t.Errorf("introspection = %v, playground = %v; want both on when asked", c.EnableIntrospection, c.EnablePlayground)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWithDotEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	writeFile(t, path, "# comment\nSHARED=from-file\nFILE_ONLY=file\nQUOTED=\"a b\"\nexport EXPORTED=yes\n")
	getenv, err := config.WithDotEnv(env(map[string]string{"SHARED": "from-process", "PROCESS_ONLY": "proc"}), path)
	if err != nil {
		t.Fatalf("WithDotEnv: %v", err)
	}
	for name, want := range map[string]string{
		"SHARED":       "from-process", // the process environment wins
		"FILE_ONLY":    "file",
		"PROCESS_ONLY": "proc",
		"QUOTED":       "a b",
		"EXPORTED":     "yes",
		"ABSENT":       "",
	} {
		if got := getenv(name); got != want {
			t.Errorf("getenv(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestWithDotEnv_MissingFile(t *testing.T) {
	getenv, err := config.WithDotEnv(env(map[string]string{"A": "1"}), filepath.Join(t.TempDir(), "does-not-exist.env"))
	if err != nil {
		t.Fatalf("WithDotEnv with a missing file: %v", err)
	}
	if getenv("A") != "1" || getenv("B") != "" {
		t.Fatalf("getenv(A) = %q, getenv(B) = %q", getenv("A"), getenv("B"))
	}
}

func TestWithDotEnv_Unreadable(t *testing.T) {
	// A directory where the file should be is an error, not "missing".
	if _, err := config.WithDotEnv(env(nil), t.TempDir()); err == nil {
		t.Fatal("WithDotEnv on a directory succeeded")
	}
}

var keyLine = regexp.MustCompile(`(?m)^(LCRYPTO_ENCRYPT_SECRET_KEY|LCRYPTO_HASH_SECRET_KEY)=([0-9a-f]{64})$`)

func TestEnsureDevKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")

	created, err := config.EnsureDevKeys(env(nil), path)
	if err != nil {
		t.Fatalf("EnsureDevKeys: %v", err)
	}
	if !created {
		t.Fatal("EnsureDevKeys = false on a fresh directory, want true")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode = %v, want 0600", mode)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := keyLine.FindAllStringSubmatch(string(first), -1)
	if len(m) != 2 || m[0][1] == m[1][1] {
		t.Fatalf(".env holds %d key lines, want one of each:\n%s", len(m), first)
	}
	if m[0][2] == m[1][2] {
		t.Fatal("the two generated keys are equal")
	}

	// Second start: the keys come from the file.
	getenv, err := config.WithDotEnv(env(nil), path)
	if err != nil {
		t.Fatal(err)
	}
	created, err = config.EnsureDevKeys(getenv, path)
	if err != nil {
		t.Fatalf("second EnsureDevKeys: %v", err)
	}
	if created {
		t.Fatal("second EnsureDevKeys = true, want false")
	}
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf(".env changed on the second call:\n%s\n---\n%s", first, second)
	}

	// And they are keys Load accepts.
	c, err := config.Load(getenv)
	if err != nil {
		t.Fatalf("Load with generated keys: %v", err)
	}
	if len(c.EncryptKey) != 32 || len(c.HashKey) != 32 {
		t.Fatalf("generated keys have %d and %d bytes", len(c.EncryptKey), len(c.HashKey))
	}
}

func TestEnsureDevKeys_KeepsExistingContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	writeFile(t, path, "SERVER_ADDRESS=:9000")
	created, err := config.EnsureDevKeys(env(nil), path)
	if err != nil || !created {
		t.Fatalf("EnsureDevKeys = %v, %v; want true, nil", created, err)
	}
	getenv, err := config.WithDotEnv(env(nil), path)
	if err != nil {
		t.Fatal(err)
	}
	if getenv("SERVER_ADDRESS") != ":9000" {
		t.Errorf("existing setting lost: SERVER_ADDRESS = %q", getenv("SERVER_ADDRESS"))
	}
	if len(getenv(config.EncryptKeyVar)) != 64 || len(getenv(config.HashKeyVar)) != 64 {
		t.Errorf("keys not readable after append")
	}
}

// Regression (fixed bug): config.go:101 opens an existing .env with os.OpenFile(..., 0o600), and the mode
// only applies when the file is created: secret keys appended to a .env that already
// exists world-readable (e.g. copied from .env.example with mode 0644) stay
// world-readable. Fix: call f.Chmod(0o600) after opening (before writing the keys).
func TestEnsureDevKeys_ExistingFileMadePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	writeFile(t, path, "SERVER_ADDRESS=:9000\n")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	created, err := config.EnsureDevKeys(env(nil), path)
	if err != nil || !created {
		t.Fatalf("EnsureDevKeys = %v, %v; want true, nil", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("mode = %v after writing keys, want 0600", mode)
	}
}

func TestEnsureDevKeys_KeysInEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	created, err := config.EnsureDevKeys(env(withKeys(nil)), path)
	if err != nil || created {
		t.Fatalf("EnsureDevKeys = %v, %v; want false, nil", created, err)
	}
	assertNoFile(t, path)
}

func TestEnsureDevKeys_Production(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	created, err := config.EnsureDevKeys(env(map[string]string{"ENV_NAME": "production"}), path)
	if err != nil || created {
		t.Fatalf("EnsureDevKeys = %v, %v; want false, nil", created, err)
	}
	assertNoFile(t, path)
}

func TestEnsureDevKeys_OnlyOneKey(t *testing.T) {
	for _, name := range []string{config.EncryptKeyVar, config.HashKeyVar} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			created, err := config.EnsureDevKeys(env(map[string]string{name: encHex}), path)
			if err == nil {
				t.Fatalf("EnsureDevKeys = %v, nil; want an error", created)
			}
			if created {
				t.Error("created = true on error")
			}
			if !strings.Contains(err.Error(), config.EncryptKeyVar) || !strings.Contains(err.Error(), config.HashKeyVar) {
				t.Errorf("error %q does not name both variables", err)
			}
			assertNoFile(t, path)
		})
	}
}

func assertNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists (stat err: %v), want nothing written", path, err)
	}
}
