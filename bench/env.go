package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq" // the "postgres" driver for the admin connection

	"github.com/lerianstudio/crm-registry/internal/devdb"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
)

// benchOrg is the one organization of the whole dataset.
var benchOrg = uuid.MustParse("0190b2a0-0000-7000-8000-00000000be0c")

// durableSettings undo StartTemp's speed-over-durability defaults (its settings are
// overridden by Options.Settings) so pgbench and the server pay for real commits, and
// load pg_stat_statements to count the server's statements. Utility statements
// (BEGIN/COMMIT) are not counted, as in internal/postgres/pgtest.
func durableSettings(extra map[string]string) map[string]string {
	s := map[string]string{
		"fsync":                            "on",
		"synchronous_commit":               "on",
		"full_page_writes":                 "on",
		"shared_preload_libraries":         "pg_stat_statements",
		"pg_stat_statements.track":         "top",
		"pg_stat_statements.track_utility": "off",
		"pg_stat_statements.max":           "10000",
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// env is everything a measurement needs, all owned by this process.
type env struct {
	cluster   *devdb.Cluster
	admin     *sql.DB // superuser connection to database "postgres"
	crmDBID   int64
	server    *server
	plain     *server // the plain handler + storage reference (bench -serve-plain)
	pgbench   string
	pgVersion string
	settings  map[string]string // as reported by the server
	keys      [2]string         // hex encryption and hash keys
	enc       *fieldcrypt.AEAD
	loadTime  time.Duration
	data      *dataset
	dataDirFS string
	sizes     string // table sizes after loading
	// postmasterPID is PostgreSQL's postmaster, for the CPU accounting (cpu.go);
	// postmasterErr says why it is 0.
	postmasterPID int
	postmasterErr error
}

// startEnv starts the cluster and the server and loads the dataset. On error the
// returned env (if not nil) still has to be closed.
func startEnv(ctx context.Context, cfg config, root, tmp string) (*env, error) {
	e := &env{}
	for i := range e.keys {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		e.keys[i] = hex.EncodeToString(b)
	}
	ek, _ := fieldcrypt.ParseKey(e.keys[0])
	hk, _ := fieldcrypt.ParseKey(e.keys[1])
	enc, err := fieldcrypt.New(ek, hk)
	if err != nil {
		return nil, err
	}
	e.enc = enc

	// Build first: a compile error should not cost a cluster start.
	bin := filepath.Join(tmp, "crm-registry")
	log.Printf("building the server (go build -o %s .)", bin)
	build := exec.CommandContext(ctx, goTool(), "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}

	log.Print("starting a temporary PostgreSQL cluster (durable settings)")
	cluster, err := devdb.StartTemp(ctx, devdb.Options{
		Settings: durableSettings(cfg.pgSettings),
		Logf:     func(f string, a ...any) { log.Printf("devdb: "+f, a...) },
	})
	if err != nil {
		return nil, err
	}
	e.cluster = cluster
	e.dataDirFS = fsType(cluster.DataDir())
	if e.postmasterPID, e.postmasterErr = readPostmasterPID(cluster.DataDir()); e.postmasterErr != nil {
		log.Printf("no CPU accounting of PostgreSQL: %v", e.postmasterErr)
	}
	for _, name := range []string{"crm", "pgbench"} {
		if err := cluster.CreateDatabase(ctx, name, ""); err != nil {
			return e, err
		}
	}
	if e.admin, err = sql.Open("postgres", cluster.URL("postgres")); err != nil {
		return e, err
	}
	e.admin.SetMaxOpenConns(2)
	if _, err := e.admin.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return e, fmt.Errorf("pg_stat_statements: %w", err)
	}
	if err := e.admin.QueryRowContext(ctx, "SELECT oid FROM pg_database WHERE datname = 'crm'").Scan(&e.crmDBID); err != nil {
		return e, err
	}
	if err := e.readSettings(ctx); err != nil {
		return e, err
	}
	if e.pgbench, err = findPgbench(e.pgVersion); err != nil {
		return e, err
	}

	srvSpec := serverSpec{name: "server", bin: bin, log: "server.log"}
	if e.server, err = startServer(ctx, srvSpec, tmp, cluster.URL("crm"), e.keys, cfg.serverEnv); err != nil {
		return e, err
	}
	log.Printf("server pid %d listening on %s (pprof on %s)", e.server.pid, e.server.addr, e.server.debugAddr)
	// The reference starts once the server has migrated the database. It gets the
	// server's environment (-server-env included), so both read the same configuration.
	self, err := os.Executable()
	if err != nil {
		return e, err
	}
	plainSpec := serverSpec{name: "plain reference server", bin: self, args: []string{servePlainFlag}, log: "plain.log"}
	if e.plain, err = startServer(ctx, plainSpec, tmp, cluster.URL("crm"), e.keys, cfg.serverEnv); err != nil {
		return e, err
	}
	log.Printf("plain reference server pid %d listening on %s (pprof on %s)", e.plain.pid, e.plain.addr, e.plain.debugAddr)

	log.Printf("pgbench -i -s %d", cfg.scale)
	if out, err := e.pgbenchCmd(ctx, "-i", "-q", "-s", strconv.Itoa(cfg.scale)).CombinedOutput(); err != nil {
		return e, fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}

	if e.data, e.loadTime, err = loadDataset(ctx, cluster.URL("crm"), enc, cfg); err != nil {
		return e, err
	}
	log.Print("VACUUM ANALYZE and CHECKPOINT")
	crm, err := sql.Open("postgres", cluster.URL("crm"))
	if err != nil {
		return e, err
	}
	defer crm.Close()
	for _, q := range []string{"VACUUM ANALYZE holders", "VACUUM ANALYZE alias_accounts", "CHECKPOINT"} {
		if _, err := crm.ExecContext(ctx, q); err != nil {
			return e, fmt.Errorf("%s: %w", q, err)
		}
	}
	var sizes []string
	for _, t := range []string{"holders", "alias_accounts"} {
		var s string
		if err := crm.QueryRowContext(ctx, "SELECT pg_size_pretty(pg_total_relation_size($1::regclass))", t).Scan(&s); err != nil {
			return e, err
		}
		sizes = append(sizes, t+" "+s)
	}
	e.sizes = strings.Join(sizes, ", ")
	if e.data.pageCursors, err = pageCursors(ctx, crm); err != nil {
		return e, err
	}
	return e, nil
}

func (e *env) readSettings(ctx context.Context) error {
	e.settings = map[string]string{}
	for _, name := range []string{"server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
		"max_connections", "shared_preload_libraries", "wal_level", "max_wal_size", "checkpoint_timeout"} {
		var v string
		if err := e.admin.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
			return fmt.Errorf("SHOW %s: %w", name, err)
		}
		e.settings[name] = v
	}
	e.pgVersion = e.settings["server_version"]
	return nil
}

// close stops the servers, then the cluster (which removes its data directory).
func (e *env) close() {
	for _, s := range []*server{e.plain, e.server} {
		if s != nil {
			if err := s.stop(); err != nil {
				log.Printf("stop %s: %v", s.name, err)
			}
		}
	}
	if e.admin != nil {
		e.admin.Close()
	}
	if e.cluster != nil {
		log.Print("stopping PostgreSQL")
		if err := e.cluster.Stop(); err != nil {
			log.Printf("stop PostgreSQL: %v", err)
		}
	}
}

// statements returns the statements the crm database has executed so far.
func (e *env) statements(ctx context.Context) (int64, error) {
	var n int64
	err := e.admin.QueryRowContext(ctx, "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = $1", e.crmDBID).Scan(&n)
	return n, err
}

func (e *env) pgbenchCmd(ctx context.Context, args ...string) *exec.Cmd {
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.cluster.Port()), "-U", "postgres"}, args...)
	all = append(all, "pgbench")
	cmd := exec.CommandContext(ctx, e.pgbench, all...)
	cmd.Dir = os.TempDir()
	return cmd
}

// pgbenchResult is what one pgbench run reports.
type pgbenchResult struct {
	tps        float64
	latencyAvg time.Duration
	failed     int64
	processed  int64
	cpu        cpuUse // from pgbench's start to its exit
}

// runPgbench runs pgbench with mode ("-S" or "-N"), prepared statements, at the given
// concurrency for d (rounded up to whole seconds).
func (e *env) runPgbench(ctx context.Context, mode string, clients int, d time.Duration) (pgbenchResult, error) {
	secs := int((d + time.Second - 1) / time.Second)
	c := strconv.Itoa(clients)
	cmd := e.pgbenchCmd(ctx, mode, "-M", "prepared", "-c", c, "-j", c, "-T", strconv.Itoa(secs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	w := e.startCPU(nil)
	err := cmd.Run()
	u := w.stop()
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench %s: %w\n%s%s", mode, err, stdout.String(), stderr.String())
	}
	u.cpu[partPgbench] = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	u.has[partPgbench] = true
	r, err := parsePgbench(stdout.String())
	u.units = r.processed
	r.cpu = u
	return r, err
}

func parsePgbench(out string) (pgbenchResult, error) {
	var r pgbenchResult
	var haveTPS bool
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "tps = "):
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				return r, fmt.Errorf("pgbench: cannot parse %q", line)
			}
			r.tps, haveTPS = v, true
		case strings.HasPrefix(line, "latency average = "):
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[3], 64)
			r.latencyAvg = time.Duration(v * float64(time.Millisecond))
		case strings.HasPrefix(line, "number of failed transactions: "):
			f := strings.Fields(line)
			r.failed, _ = strconv.ParseInt(f[4], 10, 64)
		case strings.HasPrefix(line, "number of transactions actually processed: "):
			f := strings.Fields(line)
			n, _, _ := strings.Cut(f[5], "/")
			r.processed, _ = strconv.ParseInt(n, 10, 64)
		}
	}
	if !haveTPS {
		return r, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return r, nil
}

// findPgbench returns the pgbench of the server's major version when installed, else
// the one on PATH or of the newest installed version.
func findPgbench(serverVersion string) (string, error) {
	major, _, _ := strings.Cut(serverVersion, ".")
	if p := filepath.Join("/usr/lib/postgresql", major, "bin", "pgbench"); isExecutable(p) {
		return p, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return vb - va
	})
	if len(found) > 0 {
		return found[0], nil
	}
	return "", errors.New("pgbench not found (it comes with the PostgreSQL server package, e.g. postgresql-15)")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// goTool returns the go command: the one on PATH, else the standard install location.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// serverSpec says how to start an HTTP server subprocess: the crm-registry binary, or
// this program as the plain reference server.
type serverSpec struct {
	name string // in messages
	bin  string
	args []string
	log  string // its log file, in the working directory
}

// server is an HTTP server subprocess.
type server struct {
	name      string
	bin       string // its executable (go tool pprof reads its symbols)
	pid       int
	addr      string
	debugAddr string // its DEBUG_ADDR: net/http/pprof's handlers
	logPath   string
	done      chan struct{}
	waitErr   error
}

// startServer runs spec with the benchmark configuration in dir (so no .env of the
// repository is read), SERVER_ADDRESS and DEBUG_ADDR on free loopback ports, and waits
// until /readyz answers 200.
func startServer(ctx context.Context, spec serverSpec, dir, dbURL string, keys [2]string, extraEnv []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	debugPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		name: spec.name, bin: spec.bin,
		addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		debugAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(debugPort)),
		logPath:   filepath.Join(dir, spec.log), done: make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(spec.bin, spec.args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ENV_NAME=development",
		"DATABASE_URL="+dbURL,
		"SERVER_ADDRESS="+s.addr,
		"DEBUG_ADDR="+s.debugAddr,
		"LCRYPTO_ENCRYPT_SECRET_KEY="+keys[0],
		"LCRYPTO_HASH_SECRET_KEY="+keys[1],
		"LOG_LEVEL=warn",
		"MIGRATE_ON_START=true",
		"PLUGIN_AUTH_ENABLED=false",
		"OTEL_EXPORTER_OTLP_ENDPOINT=",
	)
	cmd.Env = append(cmd.Env, extraEnv...) // later entries win
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	if err := startChild(cmd, s.done, &s.waitErr); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	s.pid = cmd.Process.Pid

	deadline := time.Now().Add(90 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited during startup (%v):\n%s", s.name, s.waitErr, tail(s.logPath))
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := hc.Get("http://" + s.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				hc.CloseIdleConnections()
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("%s not ready after 90s:\n%s", s.name, tail(s.logPath))
		}
	}
}

// stop sends SIGTERM (graceful shutdown), then SIGKILL if it has not exited in 30 s.
func (s *server) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	log.Printf("stopping the %s (pid %d)", s.name, s.pid)
	_ = signalProcess(s.pid, false)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = signalProcess(s.pid, true)
	select {
	case <-s.done:
		return fmt.Errorf("%s did not stop on SIGTERM; killed", s.name)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit", s.name, s.pid)
	}
}

// peakRSS returns VmHWM of a process in KiB.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
