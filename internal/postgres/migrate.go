package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/lerianstudio/crm-registry/migrations"
)

// Migrate applies every pending up migration embedded in package migrations.
// golang-migrate holds an advisory lock meanwhile, so concurrent starts are safe.
// It borrows one connection of db and gives it back; db stays open.
func Migrate(ctx context.Context, db *sql.DB) (err error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("migrate: source: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// WithConnection, unlike WithInstance, does not close db when the migrator closes.
	drv, err := migratepg.WithConnection(ctx, conn, &migratepg.Config{})
	if err != nil {
		conn.Close()
		return fmt.Errorf("migrate: driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		conn.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if srcErr, dbErr := m.Close(); err == nil && (srcErr != nil || dbErr != nil) {
			err = fmt.Errorf("migrate: close: %v, %v", srcErr, dbErr)
		}
	}()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
