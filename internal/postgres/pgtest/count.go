package pgtest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/devdb"
	"github.com/lerianstudio/crm-registry/internal/postgres"
)

// StatementCounter counts the SQL statements sent to the database (each query or exec;
// BEGIN/COMMIT are not counted).
type StatementCounter struct{ n atomic.Int64 }

// Count returns the statements sent so far.
func (c *StatementCounter) Count() int { return int(c.n.Load()) }

// Reset sets the count back to zero.
func (c *StatementCounter) Reset() { c.n.Store(0) }

// MustOpenCountingDB is MustOpenDB with every statement counted.
func MustOpenCountingDB(tb testing.TB) (*sqlx.DB, *StatementCounter) {
	tb.Helper()
	c := devdb.Shared()
	name := fmt.Sprintf("t_%d", seq.Add(1))
	createMu.Lock()
	err := c.CreateDatabase(context.Background(), name, template)
	createMu.Unlock()
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	counter := &StatementCounter{}
	db, err := postgres.Open(context.Background(), c.URL(name), postgres.Options{
		MaxConns: 8,
		Driver:   Driver(),
		WrapConnector: func(dc driver.Connector) driver.Connector {
			return postgres.ObserveStatements(dc, func(ctx context.Context, _ string) (context.Context, func(error)) {
				counter.n.Add(1)
				return ctx, func(error) {}
			})
		},
	})
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, counter
}
