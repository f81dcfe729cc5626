package postgres_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
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
	db, _ := openTwoPools(t, opts)
	return db
}

// openTwoPools returns a pool opened with opts on a fresh database of the test's own,
// and a second pool on the same database (pgtest's), for the test's own statements.
func openTwoPools(t *testing.T, opts postgres.Options) (db, aside *sqlx.DB) {
	t.Helper()
	aside = pgtest.MustOpenDB(t)
	var name string
	if err := aside.Get(&name, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	opts.Driver = pgtest.Driver()
	db, err := postgres.Open(context.Background(), pgtest.URL(name), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, aside
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

// gatedPrepares makes the pool's prepares of one query wait until released (or their
// context ends), as a prepare stuck on a database that does not answer.
type gatedPrepares struct {
	query   string
	entered chan struct{} // receives once per gated prepare
	release chan struct{} // closed to let them through
}

func (g *gatedPrepares) wrap(c driver.Connector) driver.Connector { return gatedConnector{c, g} }

type gatedConnector struct {
	driver.Connector
	g *gatedPrepares
}

func (gc gatedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := gc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return gatedConn{c, gc.g}, nil
}

type gatedConn struct {
	driver.Conn
	g *gatedPrepares
}

func (c gatedConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if q == c.g.query {
		c.g.entered <- struct{}{}
		select {
		case <-c.g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

// TestStmtCache_PrepareBlocksNoOne: while one statement's prepare is stuck, a cache hit
// and another statement's prepare both go ahead.
func TestStmtCache_PrepareBlocksNoOne(t *testing.T) {
	t.Parallel()
	g := &gatedPrepares{query: "SELECT 2", entered: make(chan struct{}, 1), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(g.release) }) }
	t.Cleanup(release)
	db := openOwnPool(t, postgres.Options{MaxConns: 4, WrapConnector: g.wrap})
	cache := postgres.NewStmtCache(db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cache.Get(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	stuck := make(chan error, 1)
	go func() {
		_, err := cache.Get(ctx, "SELECT 2")
		stuck <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the gated prepare never started")
	}

	for _, q := range []string{"SELECT 1", "SELECT 3"} { // a hit, then another miss
		got := make(chan error, 1)
		go func() {
			_, err := cache.Get(ctx, q)
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("Get(%q): %v", q, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Get(%q) waited for another statement's prepare", q)
		}
	}
	release()
	if err := <-stuck; err != nil {
		t.Fatalf("the released prepare: %v", err)
	}
}

// TestStmtCache_ConcurrentMisses: requests that miss the same statement together each
// prepare it, and all of them get the one that was kept, which works.
func TestStmtCache_ConcurrentMisses(t *testing.T) {
	t.Parallel()
	db := openOwnPool(t, postgres.Options{MaxConns: 8})
	cache := postgres.NewStmtCache(db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 16
	start := make(chan struct{})
	stmts := make([]*sqlx.Stmt, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stmts[i], errs[i] = cache.Get(ctx, "SELECT $1::int + 1")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Get %d: %v", i, errs[i])
		}
		if stmts[i] != stmts[0] {
			t.Fatalf("Get %d returned another statement than Get 0: the cache kept more than one", i)
		}
	}
	var got int
	if err := stmts[0].QueryRowContext(ctx, 41).Scan(&got); err != nil || got != 42 {
		t.Fatalf("kept statement: %d, %v; want 42", got, err)
	}
	if again, err := cache.Get(ctx, "SELECT $1::int + 1"); err != nil || again != stmts[0] {
		t.Fatalf("Get after the race = %p, %v; want the kept statement %p", again, err, stmts[0])
	}
}
