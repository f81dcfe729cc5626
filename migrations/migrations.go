// Package migrations embeds the numbered SQL migrations run by golang-migrate.
// Never edit an applied migration: add a new pair with `make migrate-new name=...`.
package migrations

import "embed"

// FS holds every *.up.sql and *.down.sql file of this directory.
//
//go:embed *.sql
var FS embed.FS
