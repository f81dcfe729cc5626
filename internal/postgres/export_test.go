package postgres

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Hooks for package postgres_test, which has the test database.

// StmtCache is the prepared-statement cache of the services.
type StmtCache = stmtCache

// NewStmtCache returns an empty statement cache over db.
func NewStmtCache(db *sqlx.DB) *StmtCache { return newStmtCache(db) }

// Get returns the prepared statement of query, preparing it on a miss.
func (c *stmtCache) Get(ctx context.Context, query string) (*sqlx.Stmt, error) {
	return c.get(ctx, query)
}

// IOTimeout is how long a read or write on a database connection may block.
var IOTimeout = ioTimeout
