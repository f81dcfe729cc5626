package postgres

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// formatError maps driver errors to domain errors by SQLSTATE and constraint name,
// never by message text. Other errors are returned unchanged (they become
// INTERNAL_SERVER_ERROR at the GraphQL boundary).
func formatError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Errorf(crm.ENOTFOUND, "Not found.")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return mapSQLState(err, pgErr.Code, pgErr.ConstraintName)
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return mapSQLState(err, string(pqErr.Code), pqErr.Constraint)
	}
	return err
}

// notFoundAs is formatError for a read of one record: no row is NOT_FOUND with msg,
// which names the record's kind.
func notFoundAs(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &crm.Error{Code: crm.ENOTFOUND, Message: msg}
	}
	return formatError(err)
}

// mapSQLState maps a server error (SQLSTATE and constraint name) of either driver.
func mapSQLState(err error, code, constraint string) error {
	switch constraint {
	case "holders_document_hash_active_key":
		return crm.Errorf(crm.EDOCUMENTEXISTS, "A holder with this document already exists.")
	case "alias_accounts_account_id_active_key":
		return crm.Errorf(crm.EACCOUNTLINKED, "This ledger account already has an alias account.")
	}
	switch code {
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character: validation should have caught it
		return crm.Errorf(crm.EINVALID, "Input contains characters that cannot be stored.")
	case "57014": // query_canceled: statement_timeout or a cancelled request
		return crm.Errorf(crm.ETIMEOUT, "The operation took too long and was cancelled.")
	case "40P01", "40001": // deadlock_detected, serialization_failure: rolled back, safe to retry
		// The write paths take their locks in one order, so this is a backstop: the client's
		// remedy is VERSION_CONFLICT's, read the record again and retry.
		return crm.Errorf(crm.EVERSIONCONFLICT, "The record was changed by a concurrent request: read it again and retry.")
	case "22003": // numeric_value_out_of_range: validation should have caught it
		return crm.Errorf(crm.EINVALID, "A number in the input is out of range.")
	}
	return err
}
