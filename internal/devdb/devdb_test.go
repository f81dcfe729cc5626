package devdb_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/devdb"
)

func TestMain(m *testing.M) {
	os.Exit(devdb.RunTests(m, func(c *devdb.Cluster) error {
		return c.CreateDatabase(context.Background(), "shared", "")
	}))
}

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestShared(t *testing.T) {
	db := open(t, devdb.Shared().URL("shared"))
	if got := queryString(t, db, "SELECT current_database()"); got != "shared" {
		t.Fatalf("current_database() = %q, want shared", got)
	}
}

func TestStartTemp(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	c, err := devdb.StartTemp(ctx, devdb.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartTemp took %v (port %d, dir %s)", time.Since(began), c.Port(), c.DataDir())
	defer c.Stop()

	db := open(t, c.URL("postgres"))
	if got := queryString(t, db, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 = %q", got)
	}
	for setting, want := range map[string]string{"listen_addresses": "127.0.0.1", "fsync": "off", "max_connections": "200"} {
		if got := queryString(t, db, "SHOW "+setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}

	// A name that needs quoting, and a copy of it made from it as template.
	if err := c.CreateDatabase(ctx, `my-"db"`, ""); err != nil {
		t.Fatal(err)
	}
	mine := open(t, c.URL(`my-"db"`))
	if _, err := mine.Exec("CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	mine.Close()
	if err := c.CreateDatabase(ctx, "copy", `my-"db"`); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, open(t, c.URL("copy")), "SELECT v FROM t"); got != "42" {
		t.Fatalf("copied table holds %q, want 42", got)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port()))); err == nil {
		conn.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	if _, err := os.Stat(c.DataDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp dir %s not removed: %v", c.DataDir(), err)
	}
}

func TestStartTempConcurrent(t *testing.T) {
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			c, err := devdb.StartTemp(context.Background(), devdb.Options{})
			if err == nil {
				err = c.Stop()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// reachableTempDir returns a t.TempDir that the postgres OS user can enter
// (t.TempDir creates 0700 directories, owned by root when running as root).
func reachableTempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartPersistent(t *testing.T) {
	ctx := context.Background()
	want := filepath.Join(reachableTempDir(t), "nested", "pgdata")
	opts := devdb.Options{DataDir: want, Logf: t.Logf}

	c, err := devdb.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if c.DataDir() != want {
		t.Fatalf("DataDir() = %s, want %s", c.DataDir(), want)
	}
	if _, err := open(t, c.URL("postgres")).Exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// A second run reuses the data directory.
	c, err = devdb.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if got := queryString(t, open(t, c.URL("postgres")), "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("kept = %q", got)
	}

	// While the process that started it runs, the data directory is not another's:
	// adopting its server would stop it under that process.
	if again, err := devdb.Start(ctx, opts); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		if again != nil {
			again.Stop()
		}
		t.Fatalf("a second Start on a data directory in use: %v, want an error saying it is in use", err)
	}
	if got := queryString(t, open(t, c.URL("postgres")), "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after the refused Start, kept = %q", got)
	}

	// A server left running on the data directory by a process that has gone is adopted
	// and stopped.
	devdb.Abandon(c)
	adopted, err := devdb.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if adopted.Port() != c.Port() {
		t.Fatalf("adopted port %d, want %d", adopted.Port(), c.Port())
	}
	if err := adopted.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// A stale postmaster.pid (dead process) is ignored.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := strconv.Itoa(dead.Process.Pid) + "\n" + want + "\n0\n5432\n\n127.0.0.1\n0 0\nready\n"
	if err := os.WriteFile(filepath.Join(want, "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = devdb.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the fallback applies only when running as root")
	}
	want := filepath.Join(t.TempDir(), "pgdata") // t.TempDir is 0700 root: unreachable for postgres
	c, err := devdb.Start(context.Background(), devdb.Options{DataDir: want, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(c.DataDir()); os.Remove(c.DataDir() + ".lock") })
	defer c.Stop()
	if !strings.HasPrefix(c.DataDir(), "/var/tmp/crm-devdb-") {
		t.Fatalf("DataDir() = %s, want a /var/tmp/crm-devdb-* fallback", c.DataDir())
	}
	if got := queryString(t, open(t, c.URL("postgres")), "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 = %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestStartTempSweepsOrphans: a temporary cluster whose test process died (no Stop) is
// stopped and removed by the next StartTemp.
func TestStartTempSweepsOrphans(t *testing.T) {
	ctx := context.Background()
	orphan, err := devdb.StartTemp(ctx, devdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orphan.Stop() })
	// A pid that certainly belongs to no live process: a child that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan.DataDir()+".owner", []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}

	next, err := devdb.StartTemp(ctx, devdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	if _, err := os.Stat(orphan.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("orphan data dir %s still there (%v)", orphan.DataDir(), err)
	}
	db, err := sql.Open("postgres", orphan.URL("postgres")+"&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("the orphan's postgres still answers")
	}
	if _, err := os.Stat(next.DataDir() + ".owner"); err != nil {
		t.Fatalf("new cluster has no owner file: %v", err)
	}
}
