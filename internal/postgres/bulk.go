package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
)

// BulkLoad stores holders and alias accounts of the organization in ctx in one
// transaction with COPY: tens of thousands of rows per second where one
// CreateHolder / CreateAliasAccount per row costs a round trip and a commit each. It is
// meant for loading data sets (the benchmark harness, imports), not for the API.
//
// Rows are validated and mapped exactly as by CreateHolder and CreateAliasAccount (the
// same toRow: JSON, encryption bound to the row, blind indexes), and are given the
// organization, version 1 and the creation time as those do. An ID left uuid.Nil is
// assigned a UUIDv7 (so is a related party's); a set ID is kept, which lets a caller
// link alias accounts to holders of the same call. The records are updated in place.
//
// An alias account's holder must be one of the call's holders or an active holder of the
// same organization, as for CreateAliasAccount: otherwise the call fails with ENOTFOUND
// naming the account (holderId). Holders already stored are locked FOR SHARE until the
// end, so a concurrent delete of one waits. The database's unique indexes still hold: a
// document or ledger account already taken fails the whole call with EDOCUMENTEXISTS /
// EACCOUNTLINKED. Nothing is stored when the call fails.
func BulkLoad(ctx context.Context, db *sqlx.DB, enc fieldcrypt.Encrypter, holders []*crm.Holder, aliases []*crm.AliasAccount) error {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return err
	}
	hs := NewHolderService(db, enc)
	as := NewAliasAccountService(db, enc)
	t := now()

	holderRows := make([][]any, 0, len(holders))
	for i, h := range holders {
		n, err := newHolder(h, org, t, true)
		if err != nil {
			return bulkError("holders", i, err)
		}
		r, err := hs.toRow(n)
		if err != nil {
			return err
		}
		holderRows = append(holderRows, []any{r.ID, r.OrganizationID, r.Type, r.ExternalID, r.DataEnc, r.DocumentHash,
			r.Metadata, r.Version, r.CreatedAt, r.UpdatedAt, r.DeletedAt})
		*h = *n
	}

	inCall := make(map[uuid.UUID]bool, len(holders))
	for _, h := range holders {
		inCall[h.ID] = true
	}
	stored := map[uuid.UUID]int{} // holders the alias accounts name outside the call: the first account naming each
	aliasRows := make([][]any, 0, len(aliases))
	for i, a := range aliases {
		n, err := newAliasAccount(a, org, t, true)
		if err != nil {
			return bulkError("aliasAccounts", i, err)
		}
		r, err := as.toRow(n)
		if err != nil {
			return err
		}
		aliasRows = append(aliasRows, []any{r.ID, r.OrganizationID, r.HolderID, r.LedgerID, r.AccountID, r.Branch, r.BankType,
			r.CountryCode, r.BankID, r.OpeningDate, r.ClosingDate, r.DataEnc, r.BankAccountHash, r.IBANHash,
			r.ParticipantDocumentHash, r.RelatedPartyHashes, r.RelatedPartyRoles, r.Metadata, r.Version, r.CreatedAt,
			r.UpdatedAt, r.DeletedAt})
		*a = *n
		if _, seen := stored[n.HolderID]; !seen && !inCall[n.HolderID] {
			stored[n.HolderID] = i
		}
	}

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := shareStoredHolders(ctx, tx, org, stored); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "holders", holderColumns, holderRows); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "alias_accounts", aliasColumns, aliasRows); err != nil {
		return err
	}
	return formatError(tx.Commit())
}

// shareStoredHoldersSQL locks the active holders of the organization among $2 FOR SHARE.
const shareStoredHoldersSQL = `SELECT id FROM holders WHERE organization_id = $1 AND id = ANY($2) AND deleted_at IS NULL FOR SHARE`

// shareStoredHolders locks the holders of byID (the alias accounts' holders that are not
// in the call, each with the index of the first account naming it) FOR SHARE, and fails
// with ENOTFOUND for the first account whose holder is not an active holder of org.
func shareStoredHolders(ctx context.Context, tx *sqlx.Tx, org uuid.UUID, byID map[uuid.UUID]int) error {
	if len(byID) == 0 {
		return nil
	}
	ids := slices.Collect(maps.Keys(byID))
	var found []uuid.UUID
	if err := sqlx.SelectContext(ctx, tx, &found, shareStoredHoldersSQL, org, pq.Array(ids)); err != nil {
		return formatError(err)
	}
	for _, id := range found {
		delete(byID, id)
	}
	if len(byID) == 0 {
		return nil
	}
	return bulkError("aliasAccounts", slices.Min(slices.Collect(maps.Values(byID))), &crm.Error{Code: crm.ENOTFOUND,
		Message: "Holder not found.", Fields: map[string]string{"holderId": "names no active holder"}})
}

// copyRows copies rows (values in the order of columns, a comma-separated list) into
// table: with COPY on lib/pq, with multi-row INSERTs on other drivers (pgx's stdlib
// driver has no COPY through database/sql).
func copyRows(ctx context.Context, tx *sqlx.Tx, table, columns string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	cols := strings.Split(columns, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	if tx.DriverName() != "postgres" {
		return insertRows(ctx, tx, table, cols, rows)
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, cols...))
	if err != nil {
		return formatError(err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return formatError(err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil { // flushes: constraint errors surface here
		return formatError(err)
	}
	return nil
}

// insertRows inserts rows with multi-row INSERT statements of at most 65535 parameters.
func insertRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any) error {
	per := 65535 / len(cols)
	for start := 0; start < len(rows); start += per {
		end := min(start+per, len(rows))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(cols))
		for i, r := range rows[start:end] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range r {
				if j > 0 {
					b.WriteString(", ")
				}
				args = append(args, r[j])
				b.WriteString("$" + strconv.Itoa(len(args)))
			}
			b.WriteByte(')')
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return formatError(err)
		}
	}
	return nil
}

// bulkError names the record of a BulkLoad input that failed validation: its field
// errors are prefixed with "holders[i]." or "aliasAccounts[i].".
func bulkError(list string, i int, err error) error {
	var e *crm.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return fmt.Errorf("%s[%d]: %w", list, i, err)
	}
	c := *e
	c.Fields = make(map[string]string, len(e.Fields))
	for k, v := range e.Fields {
		c.Fields[fmt.Sprintf("%s[%d].%s", list, i, k)] = v
	}
	return &c
}
