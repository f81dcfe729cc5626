// Package config loads the server's configuration from the environment, and from a
// .env file at the repository root when present. It is the only place that reads
// environment variables.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Config is the whole server configuration, validated by Load.
type Config struct {
	// EnvName is "development" (default) or "production".
	EnvName string
	// ServerAddress is the listen address, default ":4003".
	ServerAddress string
	// DatabaseURL is a lib/pq URL. Empty means: start the embedded PostgreSQL under DataDir.
	DatabaseURL string
	// DataDir holds the embedded PostgreSQL cluster, default ".data".
	DataDir string
	// DBMaxConns is the connection pool size, default 2 × CPU cores.
	DBMaxConns int
	// DBDriver is "pq" (lib/pq, default: measured faster on the hot path with prepared
	// statements) or "pgx" (pgx's database/sql driver).
	DBDriver string
	// MigrateOnStart applies pending migrations at startup, default true.
	MigrateOnStart bool

	// EncryptKey and HashKey are the 32-byte field encryption and blind-index keys.
	EncryptKey, HashKey []byte
	// PreviousEncryptKeys still decrypt old values during a key rotation.
	PreviousEncryptKeys [][]byte

	AuthEnabled       bool
	AuthAddress       string
	AuthTimeout       time.Duration
	AuthCacheAllowTTL time.Duration
	AuthCacheDenyTTL  time.Duration
	ApplicationName   string

	EnableIntrospection bool
	EnablePlayground    bool
	PlaygroundAssetsDir string
	QueryDepthLimit     int
	MaxFields           int
	TokenLimit          int
	ComplexityLimit     int
	BodyLimit           int64
	RequestTimeout      time.Duration
	StatementTimeout    time.Duration
	ShutdownTimeout     time.Duration

	TLSCertFile, TLSKeyFile string
	LogLevel                string
	OTLPEndpoint            string
	Version                 string

	// DebugAddress, when set, is the listen address of a second HTTP server that serves
	// Go's profiler (net/http/pprof, /debug/pprof/) and nothing else. Empty (default) is
	// off. Production refuses an address that is not loopback.
	DebugAddress string
}

// Production reports whether the server runs in production mode.
func (c Config) Production() bool { return c.EnvName == "production" }

// Env is a source of configuration variables.
type Env func(name string) string

// WithDotEnv returns an Env that reads the process environment first and the file at
// path (a .env file) second. A missing file is not an error.
func WithDotEnv(getenv Env, path string) (Env, error) {
	vals, err := godotenv.Read(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return vals[name]
	}, nil
}

// Key variable names, as the Midaz CRM names them.
const (
	EncryptKeyVar = "LCRYPTO_ENCRYPT_SECRET_KEY"
	HashKeyVar    = "LCRYPTO_HASH_SECRET_KEY"
)

// EnsureDevKeys makes sure a development .env at path defines both keys: when getenv
// has neither, it appends freshly generated ones to the file (creating it, mode 0600)
// and returns true so the caller can warn. It never runs in production mode.
func EnsureDevKeys(getenv Env, path string) (bool, error) {
	if getenv("ENV_NAME") == "production" || (getenv(EncryptKeyVar) != "" && getenv(HashKeyVar) != "") {
		return false, nil
	}
	if getenv(EncryptKeyVar) != "" || getenv(HashKeyVar) != "" {
		return false, errors.New("set both " + EncryptKeyVar + " and " + HashKeyVar + ", or neither to generate development keys")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	// The mode given to OpenFile applies only when creating: an existing .env (e.g. copied
	// from .env.example) must not stay world-readable once it holds keys.
	if err := f.Chmod(0o600); err != nil {
		return false, err
	}
	_, err = fmt.Fprintf(f, "\n# Development keys generated on %s. Never use them in production.\n%s=%s\n%s=%s\n",
		time.Now().UTC().Format(time.RFC3339), EncryptKeyVar, randomHex(32), HashKeyVar, randomHex(32))
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Load reads the configuration, applies defaults and validates it. Production mode
// refuses to start without explicit keys and DATABASE_URL or with a debug listener that
// is not loopback, and turns introspection and the playground off unless asked for.
func Load(getenv Env) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		EnvName:             p.str("ENV_NAME", "development"),
		ServerAddress:       p.str("SERVER_ADDRESS", ":4003"),
		DatabaseURL:         p.str("DATABASE_URL", ""),
		DataDir:             p.str("DATA_DIR", ".data"),
		DBMaxConns:          p.int("DB_MAX_CONNS", 2*runtime.NumCPU()),
		DBDriver:            p.str("DB_DRIVER", "pq"),
		MigrateOnStart:      p.bool("MIGRATE_ON_START", true),
		AuthEnabled:         p.bool("PLUGIN_AUTH_ENABLED", false),
		AuthAddress:         p.str("PLUGIN_AUTH_ADDRESS", ""),
		AuthTimeout:         p.dur("PLUGIN_AUTH_TIMEOUT", 2*time.Second),
		AuthCacheAllowTTL:   p.dur("PLUGIN_AUTH_CACHE_ALLOW_TTL", 30*time.Second),
		AuthCacheDenyTTL:    p.dur("PLUGIN_AUTH_CACHE_DENY_TTL", 5*time.Second),
		ApplicationName:     p.str("APPLICATION_NAME", "plugin-crm"),
		QueryDepthLimit:     p.int("GRAPHQL_DEPTH_LIMIT", 12),
		MaxFields:           p.int("GRAPHQL_MAX_FIELDS", 500),
		TokenLimit:          p.int("GRAPHQL_TOKEN_LIMIT", 15000),
		ComplexityLimit:     p.int("GRAPHQL_COMPLEXITY_LIMIT", 100000),
		BodyLimit:           int64(p.int("HTTP_BODY_LIMIT", 1<<20)),
		RequestTimeout:      p.dur("HTTP_REQUEST_TIMEOUT", 30*time.Second),
		StatementTimeout:    p.dur("DB_STATEMENT_TIMEOUT", 10*time.Second),
		ShutdownTimeout:     p.dur("SHUTDOWN_TIMEOUT", 20*time.Second),
		PlaygroundAssetsDir: p.str("GRAPHIQL_ASSETS_DIR", "web/graphiql/dist"),
		TLSCertFile:         p.str("TLS_CERT_FILE", ""),
		TLSKeyFile:          p.str("TLS_KEY_FILE", ""),
		LogLevel:            p.str("LOG_LEVEL", "info"),
		OTLPEndpoint:        p.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		Version:             p.str("VERSION", "dev"),
		DebugAddress:        p.str("DEBUG_ADDR", ""),
	}
	prod := c.Production()
	c.EnableIntrospection = p.bool("GRAPHQL_INTROSPECTION", !prod)
	c.EnablePlayground = p.bool("GRAPHQL_PLAYGROUND", !prod)
	c.EncryptKey = p.key(EncryptKeyVar)
	c.HashKey = p.key(HashKeyVar)
	if s := getenv("LCRYPTO_PREVIOUS_ENCRYPT_KEYS"); s != "" {
		for _, k := range strings.Split(s, ",") {
			c.PreviousEncryptKeys = append(c.PreviousEncryptKeys, p.keyValue("LCRYPTO_PREVIOUS_ENCRYPT_KEYS", strings.TrimSpace(k)))
		}
	}

	if c.EnvName != "development" && c.EnvName != "production" {
		p.fail("ENV_NAME", "must be development or production")
	}
	if c.EncryptKey == nil && !p.failed(EncryptKeyVar) {
		p.fail(EncryptKeyVar, "is required (64 hex characters)")
	}
	if c.HashKey == nil && !p.failed(HashKeyVar) {
		p.fail(HashKeyVar, "is required (64 hex characters)")
	}
	if c.EncryptKey != nil && c.HashKey != nil && string(c.EncryptKey) == string(c.HashKey) {
		p.fail(HashKeyVar, "must differ from "+EncryptKeyVar)
	}
	if prod && c.DatabaseURL == "" {
		p.fail("DATABASE_URL", "is required in production (the embedded database is for development)")
	}
	if prod && c.DatabaseURL != "" && insecureRemoteDB(c.DatabaseURL, c.DBDriver, getenv) {
		p.fail("DATABASE_URL", "must not use sslmode=disable, allow or prefer (which may fall back to plain text) to a non-loopback host in production: use require, verify-ca or verify-full")
	}
	if c.AuthEnabled && c.AuthAddress == "" {
		p.fail("PLUGIN_AUTH_ADDRESS", "is required when PLUGIN_AUTH_ENABLED=true")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.fail("TLS_CERT_FILE", "and TLS_KEY_FILE must be set together")
	}
	if c.DBDriver != "pq" && c.DBDriver != "pgx" {
		p.fail("DB_DRIVER", "must be pq or pgx")
	}
	// Numeric limits: each out-of-range value would break the server rather than tune it
	// (HTTP_REQUEST_TIMEOUT=0 fails every request, HTTP_BODY_LIMIT<=0 refuses every POST,
	// a GraphQL limit of 0 or less would silently mean the default or no limit at all).
	p.atLeast("DB_MAX_CONNS", c.DBMaxConns, 1)
	p.atLeast("GRAPHQL_DEPTH_LIMIT", c.QueryDepthLimit, 1)
	p.atLeast("GRAPHQL_MAX_FIELDS", c.MaxFields, 1)
	p.atLeast("GRAPHQL_TOKEN_LIMIT", c.TokenLimit, 1)
	p.atLeast("GRAPHQL_COMPLEXITY_LIMIT", c.ComplexityLimit, 1)
	p.atLeast("HTTP_BODY_LIMIT", int(c.BodyLimit), 1)
	p.durAtLeast("HTTP_REQUEST_TIMEOUT", c.RequestTimeout, time.Millisecond)
	p.durAtLeast("SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Millisecond)
	p.durAtLeast("PLUGIN_AUTH_TIMEOUT", c.AuthTimeout, time.Millisecond)
	// 0 is "off" for these (documented): the statement timeout then is PostgreSQL's own
	// (none by default), and a TTL of 0 caches nothing. A statement timeout under 1ms
	// would be sent as 0 milliseconds, turning the bound off unasked.
	if c.StatementTimeout != 0 {
		p.durAtLeast("DB_STATEMENT_TIMEOUT", c.StatementTimeout, time.Millisecond, "or 0 for none")
	}
	if c.DebugAddress != "" {
		host, _, err := net.SplitHostPort(c.DebugAddress)
		switch {
		case err != nil:
			p.fail("DEBUG_ADDR", "must be host:port, e.g. 127.0.0.1:6060")
		case prod && !loopbackHost(host):
			// Profiles and goroutine dumps show the server's internals (and may hold
			// fragments of request data): never reachable from another machine in production.
			p.fail("DEBUG_ADDR", "must be a loopback address in production (127.0.0.1, [::1] or localhost), not "+c.DebugAddress)
		}
	}
	if len(p.errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %s", strings.Join(p.errs, "; "))
	}
	return c, nil
}

// insecureRemoteDB reports whether a database URL may talk to a host that is not
// loopback without TLS. It follows the drivers' rules: sslmode and host come from the
// URL, else from PGSSLMODE / PGHOST / PGHOSTADDR; unset, lib/pq's sslmode is "require"
// and pgx's (driver "pgx") "prefer". "disable", "allow" and "prefer" may all end up in
// plain text.
func insecureRemoteDB(dsn, driver string, getenv Env) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return true
	}
	q := u.Query()
	mode := q.Get("sslmode")
	if mode == "" {
		mode = getenv("PGSSLMODE")
	}
	if mode == "" && driver == "pgx" {
		mode = "prefer"
	}
	switch mode {
	case "", "require", "verify-ca", "verify-full":
		return false
	}
	hosts := []string{u.Hostname(), q.Get("host"), q.Get("hostaddr")}
	if hosts[0] == "" && hosts[1] == "" && hosts[2] == "" {
		hosts = []string{getenv("PGHOST"), getenv("PGHOSTADDR")}
	}
	for _, host := range hosts {
		for _, h := range strings.Split(host, ",") { // lib/pq accepts several hosts
			h = strings.TrimSpace(h)
			if h == "" || h == "localhost" || strings.HasPrefix(h, "/") { // unix socket
				continue
			}
			if ip := net.ParseIP(strings.Trim(h, "[]")); ip == nil || !ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}

// loopbackHost reports whether a listen host is loopback only. An empty host listens
// on every interface.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type parser struct {
	getenv Env
	errs   []string
	bad    map[string]bool
}

func (p *parser) fail(name, why string) {
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[name] = true
	p.errs = append(p.errs, name+" "+why)
}

func (p *parser) failed(name string) bool { return p.bad[name] }

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) int(name string, def int) int {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, "must be an integer")
	}
	return n
}

// atLeast fails name unless n >= lowest (once: not when it failed to parse).
func (p *parser) atLeast(name string, n, lowest int) {
	if n < lowest && !p.failed(name) {
		p.fail(name, fmt.Sprintf("must be an integer of at least %d, not %d", lowest, n))
	}
}

// durAtLeast fails name unless d >= lowest (once: not when it failed to parse); alt
// names another allowed value.
func (p *parser) durAtLeast(name string, d, lowest time.Duration, alt ...string) {
	if d < lowest && !p.failed(name) {
		p.fail(name, strings.Join(append([]string{"must be a duration of at least " + lowest.String()}, alt...), " ")+", not "+d.String())
	}
}

func (p *parser) bool(name string, def bool) bool {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "must be true or false")
	}
	return b
}

func (p *parser) dur(name string, def time.Duration) time.Duration {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(name, "must be a duration such as 500ms, 5s or 1m")
	}
	return d
}

func (p *parser) key(name string) []byte {
	v := p.getenv(name)
	if v == "" {
		return nil
	}
	return p.keyValue(name, v)
}

func (p *parser) keyValue(name, v string) []byte {
	k, err := hex.DecodeString(v)
	if err != nil || len(k) != 32 {
		p.fail(name, "must be 64 hexadecimal characters")
		return nil
	}
	return k
}
