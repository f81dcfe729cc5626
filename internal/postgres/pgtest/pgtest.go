// Package pgtest gives tests a real, migrated PostgreSQL database of their own,
// on a throw-away cluster started by internal/devdb (no Docker, no mocks).
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/devdb"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/postgres"
)

const template = "crm_template"

// RunTests starts the test cluster, migrates a template database once, runs the tests
// and stops the cluster. Call it from TestMain: os.Exit(pgtest.RunTests(m)).
func RunTests(m interface{ Run() int }) int {
	return devdb.RunTests(m, func(c *devdb.Cluster) error {
		ctx := context.Background()
		if err := c.CreateDatabase(ctx, template, ""); err != nil {
			return err
		}
		db, err := postgres.Open(ctx, c.URL(template), postgres.Options{MaxConns: 2})
		if err != nil {
			return err
		}
		defer db.Close()
		return postgres.Migrate(ctx, db.DB)
	})
}

var (
	seq atomic.Int64
	// createMu serialises CREATE DATABASE … TEMPLATE: PostgreSQL refuses to copy a
	// template while another copy of it is in progress.
	createMu sync.Mutex
)

// MustOpenDB returns a connection pool to a fresh database, a copy of the migrated
// template, so each test can run in parallel with its own data. It is closed when the
// test ends.
func MustOpenDB(tb testing.TB) *sqlx.DB {
	tb.Helper()
	c := devdb.Shared()
	name := fmt.Sprintf("t_%d", seq.Add(1))
	ctx := context.Background()
	createMu.Lock()
	err := c.CreateDatabase(ctx, name, template)
	createMu.Unlock()
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	db, err := postgres.Open(ctx, c.URL(name), postgres.Options{MaxConns: 8, Driver: Driver()})
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Driver is the database driver the tests use: PGTEST_DRIVER (pq or pgx), default pq,
// so the whole suite can be run against either driver.
func Driver() string { return os.Getenv("PGTEST_DRIVER") }

// URL returns the connection URL of the test database db was opened on.
func URL(dbname string) string { return devdb.Shared().URL(dbname) }

// Encrypter returns a field encrypter with fixed test keys.
func Encrypter(tb testing.TB) *fieldcrypt.AEAD {
	tb.Helper()
	enc, err := fieldcrypt.New(EncryptKey, HashKey)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

// Test keys (never used outside tests).
var (
	EncryptKey = []byte("0123456789abcdef0123456789abcdef")
	HashKey    = []byte("fedcba9876543210fedcba9876543210")
)
