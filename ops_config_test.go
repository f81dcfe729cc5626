package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/lerianstudio/crm-registry/internal/config"
	"github.com/lerianstudio/crm-registry/internal/devdb"
)

// opsRefusal runs the server with env and expects run to return an error without ever
// listening and without writing a .env file; it returns the error text.
func opsRefusal(t *testing.T, env map[string]string) string {
	t.Helper()
	dotEnv := filepath.Join(t.TempDir(), ".env")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var listened atomic.Bool
	err := run(ctx, runArgs{
		Getenv:   func(k string) string { return env[k] },
		DotEnv:   dotEnv,
		Stdout:   &syncBuffer{},
		OnListen: func(net.Addr) { listened.Store(true) },
	})
	if err == nil {
		t.Fatalf("run with %v returned nil, want a refusal", env)
	}
	if listened.Load() {
		t.Fatalf("run with %v listened before refusing: %v", env, err)
	}
	if _, statErr := os.Stat(dotEnv); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("run with %v wrote %s", env, dotEnv)
	}
	return err.Error()
}

// TestOpsProductionRefusals: ENV_NAME=production refuses to start without real keys,
// without DATABASE_URL, and with sslmode=disable to a host that is not loopback; it
// honours sslmode; and a good production configuration starts with GraphiQL and
// introspection off unless asked for.
func TestOpsProductionRefusals(t *testing.T) {
	t.Parallel()
	keys := func(env map[string]string) map[string]string {
		env["LCRYPTO_ENCRYPT_SECRET_KEY"], env["LCRYPTO_HASH_SECRET_KEY"] = opsEncryptKey, opsHashKey
		return env
	}
	prod := func() map[string]string {
		return map[string]string{"ENV_NAME": "production", "SERVER_ADDRESS": "127.0.0.1:0"}
	}

	t.Run("no keys", func(t *testing.T) {
		t.Parallel()
		env := prod()
		env["DATABASE_URL"] = "postgres://u@127.0.0.1:1/crm?sslmode=disable"
		msg := opsRefusal(t, env)
		for _, want := range []string{"LCRYPTO_ENCRYPT_SECRET_KEY", "LCRYPTO_HASH_SECRET_KEY"} {
			if !strings.Contains(msg, want) {
				t.Errorf("refusal %q does not name %s", msg, want)
			}
		}
		if strings.Contains(msg, "DATABASE_URL") {
			t.Errorf("refusal %q blames DATABASE_URL, which is fine", msg)
		}
	})
	t.Run("one key", func(t *testing.T) {
		t.Parallel()
		env := prod()
		env["DATABASE_URL"] = "postgres://u@127.0.0.1:1/crm?sslmode=disable"
		env["LCRYPTO_ENCRYPT_SECRET_KEY"] = opsEncryptKey
		if msg := opsRefusal(t, env); !strings.Contains(msg, "LCRYPTO_HASH_SECRET_KEY") {
			t.Errorf("refusal %q does not name LCRYPTO_HASH_SECRET_KEY", msg)
		}
	})
	t.Run("same key twice", func(t *testing.T) {
		t.Parallel()
		env := prod()
		env["DATABASE_URL"] = "postgres://u@127.0.0.1:1/crm?sslmode=disable"
		env["LCRYPTO_ENCRYPT_SECRET_KEY"], env["LCRYPTO_HASH_SECRET_KEY"] = opsEncryptKey, opsEncryptKey
		if msg := opsRefusal(t, env); !strings.Contains(msg, "LCRYPTO_HASH_SECRET_KEY") {
			t.Errorf("refusal %q does not name LCRYPTO_HASH_SECRET_KEY", msg)
		}
	})
	t.Run("no DATABASE_URL", func(t *testing.T) {
		t.Parallel()
		msg := opsRefusal(t, keys(prod()))
		if !strings.Contains(msg, "DATABASE_URL") {
			t.Errorf("refusal %q does not name DATABASE_URL", msg)
		}
		if strings.Contains(msg, "LCRYPTO") {
			t.Errorf("refusal %q blames the keys, which are fine", msg)
		}
	})
	for name, dsn := range map[string]string{
		"sslmode=disable to a remote host":      "postgres://u@db.example.com/crm?sslmode=disable",
		"sslmode=disable to a remote IP":        "postgres://u@192.0.2.10:5432/crm?sslmode=disable",
		"sslmode=disable with host= parameter":  "postgres://u@127.0.0.1/crm?host=db.example.com&sslmode=disable",
		"sslmode=disable with hostaddr=":        "postgres://u@localhost/crm?hostaddr=192.0.2.10&sslmode=disable",
		"sslmode=disable, postgresql:// scheme": "postgresql://u:p@db.example.com:5432/crm?sslmode=disable",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := keys(prod())
			env["DATABASE_URL"] = dsn
			msg := opsRefusal(t, env)
			if !strings.Contains(msg, "DATABASE_URL") || !strings.Contains(msg, "sslmode") {
				t.Errorf("refusal %q does not name DATABASE_URL and sslmode", msg)
			}
		})
	}

	t.Run("against a real database", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cluster, err := devdb.StartTemp(ctx, devdb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := cluster.Stop(); err != nil {
				t.Errorf("stop cluster: %v", err)
			}
		})
		if err := cluster.CreateDatabase(ctx, "crm", ""); err != nil {
			t.Fatal(err)
		}
		// sslmode is honoured: the cluster has no TLS, so require cannot connect.
		env := keys(prod())
		env["DATABASE_URL"] = strings.Replace(cluster.URL("crm"), "sslmode=disable", "sslmode=require", 1)
		if msg := opsRefusal(t, env); !strings.Contains(strings.ToLower(msg), "ssl") {
			t.Errorf("sslmode=require to a server without TLS: %q, want an SSL error", msg)
		}

		// sslmode=disable to loopback is allowed: the server starts in production mode.
		env = keys(prod())
		env["DATABASE_URL"] = cluster.URL("crm")
		logs := &syncBuffer{}
		dotEnv := filepath.Join(t.TempDir(), ".env")
		base, stop := startServer(t, env, dotEnv, logs)
		defer func() {
			if err := stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}()
		if _, err := os.Stat(dotEnv); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("production wrote %s", dotEnv)
		}
		line := opsLogLine(logs.String(), "CRM registry listening")
		if line == nil || line["env"] != "production" || line["graphiql"] != false {
			t.Errorf("listening log line = %v, want env=production graphiql=false", line)
		}
		for path, want := range map[string]int{"/health": 200, "/readyz": 200, "/graphiql": 404, "/": 404} {
			if r := opsRequest(t, opsClient, http.MethodGet, base+path, nil, nil); r.Status != want {
				t.Errorf("GET %s = %d, want %d", path, r.Status, want)
			}
		}
		r := opsGQL(t, base, nil, `query Intro { __schema { queryType { name } } }`, nil)
		opsWantCode(t, "introspection", r, http.StatusOK, "GRAPHQL_VALIDATION_FAILED")
		if msg, _ := opsDig(r.errors()[0], "message").(string); msg != "Introspection is disabled on this server." {
			t.Errorf("introspection refused with %q", msg)
		}
		if d, ok := r.Body["data"]; ok && d != nil {
			t.Errorf("introspection answered data %v", d)
		}
		r = opsGQL(t, base, nil, `{ __type(name: "Holder") { name fields { name } } }`, nil)
		if len(r.errors()) == 0 {
			t.Errorf("__type introspection answered in production: %s", r)
		}
		// No "did you mean" suggestions in production.
		r = opsGQL(t, base, nil, `{ holdrs { totalCount } }`, nil)
		if len(r.errors()) == 0 || strings.Contains(strings.ToLower(string(r.Raw)), "did you mean") {
			t.Errorf("unknown field in production: %s", r)
		}
		opsOK(t, "a query in production", opsGQL(t, base, nil, `query ListHolders { holders { totalCount } }`, nil))

		// Both are switchable in production.
		env["GRAPHQL_PLAYGROUND"], env["GRAPHQL_INTROSPECTION"] = "true", "true"
		base2, stop2 := startServer(t, env, filepath.Join(t.TempDir(), ".env"), &syncBuffer{})
		defer func() {
			if err := stop2(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}()
		if r := opsRequest(t, opsClient, http.MethodGet, base2+"/graphiql", nil, nil); r.Status != http.StatusOK {
			t.Errorf("GET /graphiql with GRAPHQL_PLAYGROUND=true = %d, want 200", r.Status)
		}
		r = opsGQL(t, base2, nil, `query Intro { __schema { queryType { name } } }`, nil)
		if name := opsDig(r.Body, "data", "__schema", "queryType", "name"); name != "Query" {
			t.Errorf("introspection with GRAPHQL_INTROSPECTION=true: %s", r)
		}
	})
}

// TestOpsProductionRefusesWeakSSLModes: the production rule "no unencrypted database
// connection to a host that is not loopback" must hold for every way lib/pq can end up
// without TLS, not only for the literal sslmode=disable. Checked on config.Load: run
// would connect (off this machine) if the rule let them through.
func TestOpsProductionRefusesWeakSSLModes(t *testing.T) {
	t.Parallel()
	base := map[string]string{"ENV_NAME": "production", "LCRYPTO_ENCRYPT_SECRET_KEY": opsEncryptKey, "LCRYPTO_HASH_SECRET_KEY": opsHashKey}
	load := func(extra map[string]string) error {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		_, err := config.Load(func(k string) string { return env[k] })
		return err
	}
	// The rule itself, and what it must keep allowing.
	if err := load(map[string]string{"DATABASE_URL": "postgres://u@db.example.com/crm?sslmode=disable"}); err == nil {
		t.Fatal("sslmode=disable to a remote host accepted")
	}
	for _, ok := range []string{
		"postgres://u@db.example.com/crm",                        // lib/pq's default is require
		"postgres://u@db.example.com/crm?sslmode=require",        //
		"postgres://u@db.example.com/crm?sslmode=verify-full",    //
		"postgres://u@127.0.0.1:5432/crm?sslmode=disable",        // loopback
		"postgres://u@localhost:5432/crm?sslmode=disable",        //
		"postgres://u@[::1]:5432/crm?sslmode=disable",            //
		"postgres://u@127.0.0.1:5432/crm?sslmode=allow",          // loopback, whatever the mode
		"postgres://u@db.example.com/crm?sslmode=verify-ca&x=1",  //
		"postgresql://u@db.example.com:5432/crm?sslmode=require", //
	} {
		if err := load(map[string]string{"DATABASE_URL": ok}); err != nil {
			t.Errorf("DATABASE_URL=%s refused: %v", ok, err)
		}
	}

	// Regression (fixed bug): internal/config/config.go insecureRemoteDB only looks for sslmode=disable, but
	// lib/pq v1.12 also supports sslmode=allow (tries WITHOUT TLS first) and
	// sslmode=prefer (falls back to no TLS when the server, or a man in the middle,
	// declines it), and reads PGSSLMODE / PGHOST from the process environment when the
	// URL leaves them out. Each of these gives an unencrypted connection to a remote
	// database in production. Fix: treat allow and prefer like disable; and either refuse
	// PGSSLMODE/PGHOST/PGHOSTADDR in production or always write an explicit sslmode (and
	// host) into the URL before opening it (postgres.Open), so the environment cannot
	// weaken it.
	for name, extra := range map[string]map[string]string{
		"sslmode=allow":           {"DATABASE_URL": "postgres://u@db.example.com/crm?sslmode=allow"},
		"sslmode=prefer":          {"DATABASE_URL": "postgres://u@db.example.com/crm?sslmode=prefer"},
		"PGSSLMODE=disable":       {"DATABASE_URL": "postgres://u@db.example.com/crm", "PGSSLMODE": "disable"},
		"PGHOST with no URL host": {"DATABASE_URL": "postgres:///crm?sslmode=disable", "PGHOST": "db.example.com"},
	} {
		if err := load(extra); err == nil {
			t.Errorf("%s: production accepted an unencrypted connection to db.example.com (%v)", name, extra)
		}
	}
}

// TestOpsDockerCompose validates docker-compose.yml with the docker client, where there
// is one.
func TestOpsDockerCompose(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("docker compose not available: %v %s", err, strings.TrimSpace(string(out)))
	}
	cmd := exec.CommandContext(ctx, "docker", "compose", "-f", "docker-compose.yml", "config", "-q")
	cmd.Env = append(os.Environ(), "LCRYPTO_ENCRYPT_SECRET_KEY="+opsEncryptKey, "LCRYPTO_HASH_SECRET_KEY="+opsHashKey)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
	// The keys are required: without them the file must not validate.
	cmd = exec.CommandContext(ctx, "docker", "compose", "-f", "docker-compose.yml", "config", "-q")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(s string) bool { return strings.HasPrefix(s, "LCRYPTO_") })
	cmd.Dir = "."
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("docker compose config without the keys succeeded:\n%s", out)
	}
}

// TestOpsContainerFiles checks the Dockerfile (multi-stage, static binary, non-root),
// docker-compose.yml (PostgreSQL and the server with health checks, migrations on
// start, the Access Manager block) and that .env.example documents every variable the
// configuration reads.
func TestOpsContainerFiles(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Dockerfile.
	var froms []int
	var lines []string
	for _, l := range strings.Split(read("Dockerfile"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			froms = append(froms, len(lines))
		}
		lines = append(lines, l)
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d FROM lines, want a multi-stage build", len(froms))
	}
	build, final := lines[:froms[len(froms)-1]], lines[froms[len(froms)-1]:]
	if !slices.ContainsFunc(build, func(l string) bool {
		return strings.HasPrefix(l, "RUN ") && strings.Contains(l, "CGO_ENABLED=0") && strings.Contains(l, "go build")
	}) {
		t.Errorf("Dockerfile: no `RUN CGO_ENABLED=0 go build` (static binary) in the build stage")
	}
	var user, binary string
	copied := map[string]bool{} // destinations of COPY --from in the final stage
	for _, l := range final {
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "COPY":
			if strings.HasPrefix(f[1], "--from=") {
				copied[f[len(f)-1]] = true
			}
		case "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(strings.TrimSpace(l[len(f[0]):])), &argv); err != nil || len(argv) == 0 {
				t.Fatalf("Dockerfile: ENTRYPOINT %q is not in exec form (the image has no shell)", l)
			}
			binary = argv[0]
		}
	}
	if name, _, _ := strings.Cut(user, ":"); user == "" || name == "root" || name == "0" {
		t.Errorf("Dockerfile: final stage USER = %q, want a non-root user", user)
	}
	if binary == "" || !copied[binary] {
		t.Fatalf("Dockerfile: the ENTRYPOINT %q is not a binary copied from a build stage (%v)", binary, copied)
	}

	// docker-compose.yml.
	var compose struct {
		Services map[string]struct {
			Image       string         `yaml:"image"`
			Build       any            `yaml:"build"`
			Environment map[string]any `yaml:"environment"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	composeText := read("docker-compose.yml")
	if err := yaml.Unmarshal([]byte(composeText), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, okPG := compose.Services["postgres"]
	crm, okCRM := compose.Services["crm"]
	if !okPG || !okCRM {
		t.Fatalf("docker-compose.yml services = %v, want postgres and crm", compose.Services)
	}
	if !strings.HasPrefix(pg.Image, "postgres:") || len(pg.Healthcheck.Test) == 0 {
		t.Errorf("postgres service: image %q healthcheck %v", pg.Image, pg.Healthcheck.Test)
	}
	if crm.Build == nil {
		t.Errorf("crm service is not built from the Dockerfile")
	}
	if d := crm.DependsOn["postgres"]; d.Condition != "service_healthy" {
		t.Errorf("crm depends_on postgres condition %q, want service_healthy", d.Condition)
	}
	if want := []string{"CMD", binary, "healthcheck"}; !slices.Equal(crm.Healthcheck.Test, want) {
		t.Errorf("crm healthcheck %v, want %v (the image has no shell)", crm.Healthcheck.Test, want)
	}
	if v := crm.Environment["MIGRATE_ON_START"]; v != "true" && v != true {
		t.Errorf("crm MIGRATE_ON_START = %v, want true (migrations on start)", v)
	}
	if dsn, _ := crm.Environment["DATABASE_URL"].(string); !strings.Contains(dsn, "@postgres:5432/") {
		t.Errorf("crm DATABASE_URL %q does not point at the postgres service", dsn)
	}
	for _, k := range []string{"LCRYPTO_ENCRYPT_SECRET_KEY", "LCRYPTO_HASH_SECRET_KEY"} {
		if v, _ := crm.Environment[k].(string); !strings.Contains(v, "${"+k+":?") {
			t.Errorf("crm %s = %q, want it required from the environment (${%s:?…})", k, v, k)
		}
	}
	for _, want := range []string{"# PLUGIN_AUTH_ENABLED", "# PLUGIN_AUTH_ADDRESS"} {
		if !strings.Contains(composeText, want) {
			t.Errorf("docker-compose.yml has no commented Access Manager setting %q", want)
		}
	}

	// .env.example documents every variable internal/config reads.
	src := read(filepath.Join("internal", "config", "config.go"))
	consts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*"([A-Z][A-Z0-9_]+)"`).FindAllStringSubmatch(src, -1) {
		consts[m[1]] = m[2]
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:p\.(?:str|int|bool|dur|key|keyValue)|getenv)\(\s*(?:"([A-Z][A-Z0-9_]+)"|(\w+)\s*[,)])`).FindAllStringSubmatch(src, -1) {
		switch {
		case m[1] != "":
			vars[m[1]] = true
		case consts[m[2]] != "":
			vars[consts[m[2]]] = true
		}
	}
	if len(vars) < 30 || !vars["LCRYPTO_ENCRYPT_SECRET_KEY"] || !vars["OTEL_EXPORTER_OTLP_ENDPOINT"] {
		t.Fatalf("found only %d variables in config.go: %v", len(vars), vars)
	}
	example := read(".env.example")
	for v := range vars {
		if !regexp.MustCompile(`(?m)^#?\s*` + v + `=`).MatchString(example) {
			t.Errorf(".env.example does not document %s", v)
		}
	}
}
