package postgres_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// openOwnPool opens a pool of the test's own on a fresh test database, with opts (the
// driver is the suite's), so that what a test does to its connections touches no other
// test's.
func openOwnPool(t *testing.T, opts postgres.Options) *sqlx.DB {
	t.Helper()
	var name string
	if err := pgtest.MustOpenDB(t).Get(&name, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	opts.Driver = pgtest.Driver()
	db, err := postgres.Open(context.Background(), pgtest.URL(name), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// backendPID returns the pid of the PostgreSQL backend serving conn, after checking
// it is a postgres process of this machine: the only process the test may signal.
func backendPID(t *testing.T, ctx context.Context, conn *sql.Conn) int {
	t.Helper()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" || pid == os.Getpid() {
		t.Fatalf("backend pid %d is not a local postgres process (comm %q, %v)", pid, comm, err)
	}
	return pid
}

// freeze stops the process pid with SIGSTOP, as a server that stops answering, and
// resumes it when the test ends, whatever happens. It returns once the process is
// stopped.
func freeze(t *testing.T, pid int) {
	t.Helper()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) // before stopping: a failure below still resumes it
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Skipf("cannot stop the backend (pid %d): %v", pid, err)
	}
	// The kernel stops the process asynchronously and there is nothing to wait on but
	// its state in /proc ("T": stopped), hence the polling.
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " T") {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("backend %d not stopped after 10s: %s", pid, stat)
		}
	}
}

// TestOpen_FrozenBackend: a query on a connection whose server stops answering (its
// backend stopped with SIGSTOP; a path that drops packets looks the same to the client)
// fails once the statement timeout and its margin have passed instead of blocking
// forever, though the query's context has no deadline; the connection is discarded, and
// the pool serves queries again when the server answers.
func TestOpen_FrozenBackend(t *testing.T) {
	t.Parallel()
	const stmtTimeout = time.Second
	db := openOwnPool(t, postgres.Options{MaxConns: 2, StatementTimeout: stmtTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A cleanup, not a defer: cleanups run after defers and in reverse order, so freeze's
	// resume comes first and a failed test cannot wait on a query of the stopped backend.
	t.Cleanup(func() { conn.Close() })
	pid := backendPID(t, ctx, conn)

	// The server's own timeout still comes first: the margin lets its error through and
	// the connection stays in use.
	if _, err := conn.ExecContext(ctx, "SELECT pg_sleep(3)"); err == nil {
		t.Fatal("pg_sleep(3) with a 1s statement timeout succeeded")
	}
	if again := backendPID(t, ctx, conn); again != pid {
		t.Fatalf("after the server cancelled the statement the connection changed (backend %d, was %d)", again, pid)
	}

	freeze(t, pid)
	done := make(chan error, 1)
	go func() {
		var one int
		done <- conn.QueryRowContext(context.Background(), "SELECT 1").Scan(&one)
	}()
	bound := postgres.IOTimeout(stmtTimeout) + 10*time.Second
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("query on a stopped backend succeeded")
		}
		t.Logf("query on the stopped backend: %v", err)
	case <-time.After(bound):
		t.Fatalf("query on a stopped backend still blocked after %v: reads have no deadline", bound)
	}
	if err := conn.PingContext(ctx); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("connection after the timeout: Ping = %v, want driver.ErrBadConn (unusable)", err)
	}
	conn.Close()

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var other int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&other); err != nil {
		t.Fatalf("pool after the server answers again: %v", err)
	}
	if other == pid {
		t.Errorf("pool still uses the connection that timed out (backend %d)", pid)
	}
}
