// Package devdb is the embedded default database: it runs a local PostgreSQL
// server from the PostgreSQL server binaries installed on the machine, for
// `make run` (when DATABASE_URL is unset) and for the test suites.
//
// Nothing is downloaded. When the binaries are missing and the process runs
// as root on a system with apt-get, the distribution's postgresql package is
// installed; otherwise Start and StartTemp return an error that says what to
// install.
//
// The server listens on 127.0.0.1 only, without a unix socket, and trusts
// every loopback connection; the superuser is "postgres". It is meant for
// development and tests only.
package devdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

const (
	superuser    = "postgres"
	readyTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	maxAttempts  = 5
)

// errPortInUse reports that the server could not bind its port.
var errPortInUse = errors.New("port already in use")

// Options configure a cluster.
type Options struct {
	// DataDir is the data directory used by Start (StartTemp ignores it);
	// relative paths are resolved against the working directory.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Logf, if set, receives progress messages.
	Logf func(format string, args ...any)
	// Settings holds extra server settings, passed as -c name=value.
	Settings map[string]string
}

// Cluster is a running PostgreSQL server owned by this process.
type Cluster struct {
	dataDir string
	port    int
	pid     int
	temp    bool          // remove dataDir on Stop
	done    chan struct{} // closed when our child postmaster has exited; nil if adopted
	lock    *os.File      // this process's hold on a persistent data directory (lockDataDir)
	logf    func(format string, args ...any)

	stopOnce sync.Once
	stopErr  error
}

// Start runs a persistent cluster in opts.DataDir, creating it with initdb
// when it is empty and reusing it afterwards. A server left running on that
// data directory by an earlier process that has exited is adopted (and stopped
// by Stop); while the process that started it still runs, Start refuses the
// data directory (lockDataDir).
//
// When running as root, the server runs as the "postgres" OS user; if that
// user cannot reach opts.DataDir, a directory under /var/tmp is used instead
// (see DataDir).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("devdb: Options.DataDir is required")
	}
	want, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	h, err := newHost(ctx, opts.Logf)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	dir, err := h.persistentDir(want)
	if err != nil {
		return nil, fmt.Errorf("devdb: data dir %s: %w", want, err)
	}
	h.logf("using data dir %s", dir)
	lock, err := lockDataDir(dir)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	c, err := h.launch(ctx, dir, opts, false)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("devdb: start PostgreSQL in %s: %w", dir, err)
	}
	c.lock = lock
	return c, nil
}

// lockDataDir takes the persistent data directory dir for this process: an exclusive
// flock on the file dir + ".lock" beside it, held until Stop, with this process's pid in
// it for the message another process gets. The kernel releases the lock when its process
// exits, however it exits, so a server whose owner is gone is free to adopt; one whose
// owner still runs is not: a second `make run` on the same DATA_DIR would adopt it and
// stop it on exit, under the first.
func lockDataDir(dir string) (*os.File, error) {
	name := dir + ".lock"
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another process (pid %s): stop it, or set DATA_DIR to another directory",
				dir, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// StartTemp runs a throw-away cluster in a fresh temporary directory, tuned
// for speed rather than durability. Its Stop removes the directory.
func StartTemp(ctx context.Context, opts Options) (*Cluster, error) {
	h, err := newHost(ctx, opts.Logf)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	dir, err := h.tempDir()
	if err != nil {
		return nil, fmt.Errorf("devdb: temporary data dir: %w", err)
	}
	c, err := h.launch(ctx, dir, opts, true)
	if err != nil {
		_ = os.RemoveAll(dir)
		_ = os.Remove(dir + ".owner")
		return nil, fmt.Errorf("devdb: start temporary PostgreSQL: %w", err)
	}
	return c, nil
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the data directory actually in use.
func (c *Cluster) DataDir() string { return c.dataDir }

// URL returns a lib/pq URL for database dbname on this cluster:
// postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name, copied from template unless template
// is "" (the server's default template).
func (c *Cluster) CreateDatabase(ctx context.Context, name, template string) error {
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("devdb: create database %q: %w", name, err)
	}
	defer db.Close()
	q := "CREATE DATABASE " + pq.QuoteIdentifier(name)
	if template != "" {
		q += " TEMPLATE " + pq.QuoteIdentifier(template)
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("devdb: create database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down ("fast" shutdown: SIGINT, then SIGQUIT and
// SIGKILL if it does not exit in time) and, for a cluster from StartTemp,
// removes its data directory. Calling Stop again returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		err := c.terminate()
		if c.lock != nil {
			err = errors.Join(err, c.lock.Close())
		}
		if c.temp {
			err = errors.Join(err, os.RemoveAll(c.dataDir))
			_ = os.Remove(c.dataDir + ".owner")
		}
		if err != nil {
			c.stopErr = fmt.Errorf("devdb: stop: %w", err)
		}
	})
	return c.stopErr
}

// launch initializes dir if needed, then adopts the server already running
// there or starts a new one.
func (h *host) launch(ctx context.Context, dir string, opts Options, temp bool) (*Cluster, error) {
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := h.initdb(ctx, dir, temp); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: dir, temp: temp, logf: h.logf}
	if !temp && c.adopt(ctx) {
		return c, nil
	}
	settings := map[string]string{"max_connections": "200"}
	if temp {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
		settings["shared_buffers"] = "128MB"
	}
	maps.Copy(settings, opts.Settings)
	settings["listen_addresses"] = "127.0.0.1"
	settings["unix_socket_directories"] = ""
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		settings["port"] = strconv.Itoa(port)
		err := c.run(ctx, h, settings)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortInUse) || opts.Port != 0 || attempt == maxAttempts {
			return nil, err
		}
		h.logf("port %d was taken; retrying with another port", port)
	}
}

// run starts the postmaster and waits until it accepts connections.
func (c *Cluster) run(ctx context.Context, h *host, settings map[string]string) error {
	logPath := filepath.Join(c.dataDir, "log", "postgres.log")
	logFile, offset, err := h.openLog(logPath)
	if err != nil {
		return err
	}
	args := []string{"-D", c.dataDir}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	cmd := exec.Command(filepath.Join(h.bin, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps a terminal's Ctrl-C away from the server,
	// so the caller can stop it cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: h.cred}
	if c.temp {
		setPdeathsig(cmd.SysProcAttr)
	}
	c.port, _ = strconv.Atoi(settings["port"])
	err = c.spawn(cmd, c.temp)
	logFile.Close()
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err = c.waitReady(ctx); err == nil {
		return nil
	}
	exited := c.exited()
	_ = c.terminate()
	tail := logTail(logPath, offset)
	if exited && (strings.Contains(tail, "could not bind") || strings.Contains(tail, "already in use")) {
		return fmt.Errorf("127.0.0.1:%d: %w", c.port, errPortInUse)
	}
	return fmt.Errorf("%w\n--- tail of %s ---\n%s", err, logPath, tail)
}

// spawn starts cmd and reaps it in a goroutine that closes c.done. With
// lockThread, that goroutine keeps its OS thread until the server exits, so a
// parent-death signal (which Linux ties to the starting thread) fires only
// when this whole process dies.
func (c *Cluster) spawn(cmd *exec.Cmd, lockThread bool) error {
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		defer close(done)
		if lockThread {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		}
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
	}()
	if err := <-started; err != nil {
		return err
	}
	c.pid, c.done = cmd.Process.Pid, done
	return nil
}

// adopt takes over a server that an earlier process left running on
// c.dataDir and reports whether it did. A stale postmaster.pid is removed.
func (c *Cluster) adopt(ctx context.Context) bool {
	pidFile := filepath.Join(c.dataDir, "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	lines := strings.Split(string(data), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid <= 0 || pid == os.Getpid() || !postgresAlive(pid) {
		_ = os.Remove(pidFile)
		return false
	}
	c.pid = pid
	if len(lines) > 3 {
		c.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	c.logf("adopting the PostgreSQL server already running on %s (pid %d, port %d)", c.dataDir, c.pid, c.port)
	err = c.waitReady(ctx)
	if err == nil {
		return true
	}
	c.logf("cannot use it (%v); restarting it", err)
	if err := c.terminate(); err != nil {
		c.logf("%v", err)
	}
	c.pid, c.port = 0, 0
	return false
}

// waitReady waits until the server on c.port answers for c.dataDir.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		if c.exited() {
			return fmt.Errorf("postgres (pid %d) exited during startup", c.pid)
		}
		err := c.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not accepting connections on port %d: %w (last error: %v)", c.port, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ping checks that the server on c.port is up and serves c.dataDir (and not
// some other cluster that grabbed the port first).
func (c *Cluster) ping(ctx context.Context) error {
	// connect_timeout also bounds the startup handshake, which a listener
	// that is not PostgreSQL may never answer.
	db, err := sql.Open("postgres", c.URL("postgres")+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var dir string
	if err := db.QueryRowContext(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return err
	}
	a, errA := os.Stat(dir)
	b, errB := os.Stat(c.dataDir)
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		return fmt.Errorf("port %d serves another data directory (%s)", c.port, dir)
	}
	return nil
}

// exited reports whether the postmaster is gone.
func (c *Cluster) exited() bool {
	if c.done == nil {
		return !postgresAlive(c.pid)
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// terminate stops the postmaster: SIGINT (fast shutdown), then SIGQUIT, then
// SIGKILL for it and its process group.
func (c *Cluster) terminate() error {
	if c.pid <= 0 {
		return nil
	}
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, stopTimeout}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, s := range steps {
		if c.exited() {
			return nil
		}
		if s.sig != syscall.SIGINT {
			c.logf("postgres (pid %d) did not stop in time; sending %v", c.pid, s.sig)
		}
		_ = syscall.Kill(c.pid, s.sig)
		if s.sig == syscall.SIGKILL && c.done != nil {
			_ = syscall.Kill(-c.pid, syscall.SIGKILL) // its backends share our child's process group
		}
		for deadline := time.Now().Add(s.wait); !c.exited() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c.exited() {
		return nil
	}
	return fmt.Errorf("postgres (pid %d) did not exit", c.pid)
}

// postgresAlive reports whether pid is a live (non-zombie) postgres process.
func postgresAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		_, noProc := os.Stat("/proc/self/stat")
		return noProc != nil // without /proc (macOS), trust kill(2)
	}
	s := string(stat) // "pid (comm) state ..."
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return false
	}
	comm := s[open+1 : end]
	return (comm == "postgres" || comm == "postmaster") && s[end+2] != 'Z'
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last lines written to the log at path after offset.
func logTail(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if offset <= int64(len(data)) {
		data = data[offset:]
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
