package devdb

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errNotInstalled says what to install when no server binaries are found.
var errNotInstalled = errors.New("PostgreSQL server binaries (initdb, postgres) not found; " +
	"install the PostgreSQL server: apt-get install postgresql (Debian/Ubuntu) / brew install postgresql@15 (macOS)")

// host is what the machine provides for running a cluster.
type host struct {
	bin  string              // directory holding initdb and postgres
	cred *syscall.Credential // when root: the unprivileged user to run the server as
	logf func(format string, args ...any)
}

func newHost(ctx context.Context, logf func(string, ...any)) (*host, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	h := &host{logf: logf}
	var err error
	if h.bin, err = findBinDir(ctx, logf); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if h.cred, err = serverUser(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// serverUser returns the credentials of the "postgres" OS user, since
// PostgreSQL refuses to run as root.
func serverUser() (*syscall.Credential, error) {
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("running as root, but PostgreSQL refuses to run as root and there is no %q OS user to run it as "+
			"(create one, e.g. useradd --system --user-group %s): %w", superuser, superuser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", superuser, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	return cred, nil
}

// findBinDir locates the server binaries, installing them if possible.
func findBinDir(ctx context.Context, logf func(string, ...any)) (string, error) {
	if dir, ok := lookupBinDir(ctx); ok {
		return dir, nil
	}
	if err := install(ctx, logf); err != nil {
		return "", err
	}
	if dir, ok := lookupBinDir(ctx); ok {
		return dir, nil
	}
	return "", errNotInstalled
}

// lookupBinDir tries pg_config --bindir, then initdb on PATH, then the
// highest version under /usr/lib/postgresql.
func lookupBinDir(ctx context.Context) (string, bool) {
	var candidates []string
	if out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(versioned, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	for _, dir := range append(candidates, versioned...) {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, true
		}
	}
	return "", false
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// install installs the distribution's PostgreSQL server with apt-get, when
// running as root on a system that has it.
func install(ctx context.Context, logf func(string, ...any)) error {
	if os.Geteuid() != 0 {
		return errNotInstalled
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errNotInstalled
	}
	// Several test binaries may get here at once; apt must run only once.
	lock, err := os.OpenFile("/var/tmp/crm-devdb-install.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("install PostgreSQL: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("install PostgreSQL: lock: %w", err)
	}
	if _, ok := lookupBinDir(ctx); ok {
		return nil // installed by another process meanwhile
	}
	const pkg = "postgresql"
	logf("PostgreSQL server not found; installing it (apt-get install %s)…", pkg)
	if err := apt(ctx, "apt-get", "update", "-qq"); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "policy", pkg).Output()
	if err != nil || !bytes.Contains(out, []byte("Candidate:")) || bytes.Contains(out, []byte("Candidate: (none)")) {
		return fmt.Errorf("apt has no installation candidate for %q: %w", pkg, errNotInstalled)
	}
	if err := apt(ctx, "apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg); err != nil {
		return err
	}
	logf("installed PostgreSQL (%s)", pkg)
	return nil
}

// apt runs an apt command quietly, returning its output only on failure.
func apt(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// persistentDir creates the data directory want and returns it, or, when the
// server user cannot reach it, a directory under /var/tmp derived from it.
func (h *host) persistentDir(want string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		return "", err
	}
	dir := want
	if !h.reachable(filepath.Dir(want)) {
		sum := sha256.Sum256([]byte(want))
		dir = filepath.Join("/var/tmp", fmt.Sprintf("crm-devdb-%x", sum[:6]))
		h.logf("the %s OS user cannot reach %s; using data dir %s instead", superuser, want, dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return dir, h.own(dir)
}

// tempDir creates a fresh directory for a throw-away cluster.
func (h *host) tempDir() (string, error) {
	parent := os.TempDir()
	if !h.reachable(parent) {
		parent = "/var/tmp"
	}
	sweepTemp(parent, h.logf)
	dir, err := os.MkdirTemp(parent, "crm-devdb-test-")
	if err != nil {
		return "", err
	}
	// The owner file (beside the data dir: initdb wants an empty directory) lets a later
	// run clean up after a test binary that died without stopping its cluster.
	if err := os.WriteFile(dir+".owner", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	if err := h.own(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// reachable reports whether the server user may traverse dir and all its
// parents (judged by mode bits; always true when not running as root).
func (h *host) reachable(dir string) bool {
	if h.cred == nil {
		return true
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		bit := fs.FileMode(0o001)
		if st.Uid == h.cred.Uid {
			bit = 0o100
		} else if st.Gid == h.cred.Gid || slices.Contains(h.cred.Groups, st.Gid) {
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return false
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
		} else {
			return true
		}
	}
}

// own hands dir and its contents to the server user when running as root.
func (h *host) own(dir string) error {
	if h.cred == nil {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == h.cred.Uid && st.Gid == h.cred.Gid {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(h.cred.Uid), int(h.cred.Gid))
	})
}

// initdb creates a cluster in the empty directory dir.
func (h *host) initdb(ctx context.Context, dir string, noSync bool) error {
	if entries, err := os.ReadDir(dir); err != nil {
		return err
	} else if len(entries) > 0 {
		return fmt.Errorf("%s is neither empty nor a PostgreSQL data directory (no PG_VERSION)", dir)
	}
	if !noSync {
		h.logf("initializing PostgreSQL data dir %s", dir)
	}
	args := []string{"-D", dir, "-U", superuser, "-A", "trust", "-E", "UTF8", "--no-locale"}
	if noSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(h.bin, "initdb"), args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: h.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// openLog opens the server log for appending and returns its current size.
func (h *host) openLog(path string) (*os.File, int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, 0, fmt.Errorf("server log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("server log: %w", err)
	}
	if h.cred != nil {
		_ = os.Chown(filepath.Dir(path), int(h.cred.Uid), int(h.cred.Gid))
		_ = f.Chown(int(h.cred.Uid), int(h.cred.Gid))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("server log: %w", err)
	}
	return f, fi.Size(), nil
}

// sweepTemp stops and removes the temporary clusters under parent whose owning process
// is gone (a test binary killed by a panic or a timeout never runs its Stop).
func sweepTemp(parent string, logf func(string, ...any)) {
	owners, _ := filepath.Glob(filepath.Join(parent, "crm-devdb-test-*.owner"))
	for _, owner := range owners {
		b, err := os.ReadFile(owner)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		dir := strings.TrimSuffix(owner, ".owner")
		if pm, err := os.ReadFile(filepath.Join(dir, "postmaster.pid")); err == nil {
			if first, _, _ := strings.Cut(string(pm), "\n"); first != "" {
				if ppid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && postgresAlive(ppid) {
					_ = syscall.Kill(ppid, syscall.SIGQUIT) // immediate shutdown: nothing to keep
					for i := 0; i < 100 && postgresAlive(ppid); i++ {
						time.Sleep(20 * time.Millisecond)
					}
					if postgresAlive(ppid) {
						_ = syscall.Kill(ppid, syscall.SIGKILL)
					}
				}
			}
		}
		_ = os.RemoveAll(dir)
		_ = os.Remove(owner)
		logf("removed the stale temporary cluster %s (its test process %d is gone)", dir, pid)
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
