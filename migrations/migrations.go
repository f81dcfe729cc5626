// Package migrations embeds the numbered SQL migrations run by golang-migrate.
// Never edit an applied migration: add a new pair with `make migrate-new name=...`.
//
// The server applies them at start on its own pool, under DB_STATEMENT_TIMEOUT (10s by
// default), which also bounds how long its connections wait for an answer (that plus
// 5s). A migration that may take longer on a large table (an index, a rewrite) needs the
// operator to start once with a larger DB_STATEMENT_TIMEOUT; say so in its release notes.
package migrations

import "embed"

// FS holds every *.up.sql and *.down.sql file of this directory.
//
//go:embed *.sql
var FS embed.FS
