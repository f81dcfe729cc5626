package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// Single-row statements (a lookup by key, a holder's insert) run detached from their
// request's cancellation once they have their turn, and the wait for a turn stays
// cancellable (stmtCache.detach). The tests hold a statement up with a table lock taken
// from a second pool on the same database.

// lockHolders takes a lock of mode on the holders table in a transaction of aside's
// (ACCESS EXCLUSIVE holds up reads and writes, EXCLUSIVE only writes), and returns the
// function that ends it.
func lockHolders(t *testing.T, aside *sqlx.DB, mode string) (unlock func()) {
	t.Helper()
	tx, err := aside.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE holders IN " + mode + " MODE"); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	done := false
	unlock = func() {
		if !done {
			done = true
			_ = tx.Rollback()
		}
	}
	t.Cleanup(unlock)
	return unlock
}

// waitForLockWaiters waits until n backends of the database wait for a lock.
func waitForLockWaiters(t *testing.T, aside *sqlx.DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var waiting int
		if err := aside.Get(&waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends wait for a lock after 30s, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createLookedUp creates a holder with document and looks it up once, so the lookup by
// id is prepared before a test locks the table: a statement's first prepare waits for a
// lock too, and only the statement itself runs detached.
func createLookedUp(t *testing.T, ctx context.Context, s *postgres.HolderService, document string) *crm.Holder {
	t.Helper()
	h := mustCreate(t, ctx, s, simpleHolder(document))
	if _, err := s.FindHolderByID(ctx, h.ID, false); err != nil {
		t.Fatal(err)
	}
	return h
}

// cancelWhileLocked runs stmt while aside holds a lock of mode on the holders table: it
// ends stmt's context once stmt waits for the lock, checks that stmt still waits, then
// lifts the lock and returns stmt's result.
func cancelWhileLocked(t *testing.T, ctx context.Context, aside *sqlx.DB, mode, what string, stmt func(context.Context) error) error {
	t.Helper()
	unlock := lockHolders(t, aside, mode)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- stmt(sctx) }()
	waitForLockWaiters(t, aside, 1)
	cancel()
	notYet(t, got, what)
	unlock()
	return outcome(t, got, what)
}

// outcome waits for a statement's result, failing if none comes within a bound only a
// statement stuck for good exceeds.
func outcome(t *testing.T, got <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-got:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no result after 30s", what)
		return nil
	}
}

// notYet fails if a result comes within a short while: a statement held up by a lock
// must still be waiting for it.
func notYet(t *testing.T, got <-chan error, what string) {
	t.Helper()
	select {
	case err := <-got:
		t.Fatalf("%s returned while the table was still locked: %v", what, err)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestSingleRowStatements_FinishAfterCancel: a lookup and an insert that have started
// run to completion when their context ends, and report their result; an insert
// cancelled half-way would leave its caller not knowing whether it was written.
func TestSingleRowStatements_FinishAfterCancel(t *testing.T) {
	t.Parallel()
	db, aside := openTwoPools(t, postgres.Options{MaxConns: 2})
	s := postgres.NewHolderService(db, pgtest.Encrypter(t))
	ctx, org := orgContext()
	h := createLookedUp(t, ctx, s, "DETACH-1")

	t.Run("lookup", func(t *testing.T) {
		var found *crm.Holder
		err := cancelWhileLocked(t, ctx, aside, "ACCESS EXCLUSIVE", "the cancelled lookup", func(ctx context.Context) (err error) {
			found, err = s.FindHolderByID(ctx, h.ID, false)
			return err
		})
		if err != nil {
			t.Fatalf("FindHolderByID after its context ended: %v, want the holder", err)
		}
		if found.ID != h.ID || found.Document != "DETACH-1" {
			t.Fatalf("FindHolderByID = %s %q, want %s %q", found.ID, found.Document, h.ID, "DETACH-1")
		}
	})

	t.Run("insert", func(t *testing.T) {
		created := simpleHolder("DETACH-2")
		err := cancelWhileLocked(t, ctx, aside, "EXCLUSIVE", "the cancelled insert", func(ctx context.Context) error {
			return s.CreateHolder(ctx, created)
		})
		if err != nil {
			t.Fatalf("CreateHolder after its context ended: %v, want it written and acknowledged", err)
		}
		if n := countOrgHolders(t, aside, org); n != 2 {
			t.Fatalf("%d holders stored, want 2 (the acknowledged insert among them)", n)
		}
		stored, err := s.FindHolderByID(ctx, created.ID, false)
		if err != nil || stored.Document != "DETACH-2" {
			t.Fatalf("the acknowledged holder: %v, %v", stored, err)
		}
	})
}

// TestSingleRowStatements_TurnWaitEndsWithContext: with every turn taken (one per pooled
// connection), a lookup whose context ends while it waits for one gives up with the
// context's error at once, rather than queueing for a connection it no longer needs.
func TestSingleRowStatements_TurnWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	db, aside := openTwoPools(t, postgres.Options{MaxConns: 1})
	s := postgres.NewHolderService(db, pgtest.Encrypter(t))
	ctx, _ := orgContext()
	h := createLookedUp(t, ctx, s, "DETACH-3")

	unlock := lockHolders(t, aside, "ACCESS EXCLUSIVE")
	first := make(chan error, 1)
	go func() {
		_, err := s.FindHolderByID(ctx, h.ID, false) // takes the one turn and waits for the lock
		first <- err
	}()
	waitForLockWaiters(t, aside, 1)

	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := s.FindHolderByID(sctx, h.ID, false)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the waiting lookup: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a lookup whose context ended still waits for its turn")
	}
	unlock()
	if err := outcome(t, first, "the lookup holding the turn"); err != nil {
		t.Fatalf("the lookup holding the turn: %v", err)
	}
	// The turn is free again.
	if _, err := s.FindHolderByID(ctx, h.ID, false); err != nil {
		t.Fatalf("a lookup after the turn was given back: %v", err)
	}
}
