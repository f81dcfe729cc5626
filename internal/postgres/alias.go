package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
)

var _ crm.AliasAccountService = (*AliasAccountService)(nil)

// AliasAccountService implements crm.AliasAccountService on PostgreSQL.
type AliasAccountService struct {
	db      *sqlx.DB
	enc     fieldcrypt.Encrypter
	holders *HolderService // maps the holder rows the hot path joins in
	stmts   *stmtCache
}

// NewAliasAccountService returns an AliasAccountService over db that encrypts with enc.
// It panics if enc is nil.
func NewAliasAccountService(db *sqlx.DB, enc fieldcrypt.Encrypter) *AliasAccountService {
	return &AliasAccountService{db: db, enc: enc, holders: NewHolderService(db, enc), stmts: newStmtCache(db)}
}

const aliasColumns = `id, organization_id, holder_id, ledger_id, account_id, branch, bank_type, country_code,
bank_id, opening_date, closing_date, data_enc, bank_account_hash, iban_hash, participant_document_hash,
related_party_hashes, related_party_roles, metadata, version, created_at, updated_at, deleted_at`

// aliasSelect is the select list of alias account reads (aliasReadColumns: the blind
// indexes and the related-party search arrays are only written, toRow derives them from
// the decrypted data) for the parts in parts.
func aliasSelect(prefix string, parts crm.Parts) string {
	return selectList(prefix, aliasReadColumns, parts)
}

// aliasRow is an alias_accounts row; data_enc holds aliasData, encrypted.
type aliasRow struct {
	ID                      dbID           `db:"id"`
	OrganizationID          dbID           `db:"organization_id"`
	HolderID                dbID           `db:"holder_id"`
	LedgerID                dbID           `db:"ledger_id"`
	AccountID               dbID           `db:"account_id"`
	Branch                  sql.NullString `db:"branch"`
	BankType                sql.NullString `db:"bank_type"`
	CountryCode             sql.NullString `db:"country_code"`
	BankID                  sql.NullString `db:"bank_id"`
	OpeningDate             sql.NullTime   `db:"opening_date"`
	ClosingDate             sql.NullTime   `db:"closing_date"`
	DataEnc                 []byte         `db:"data_enc"`
	BankAccountHash         []byte         `db:"bank_account_hash"`
	IBANHash                []byte         `db:"iban_hash"`
	ParticipantDocumentHash []byte         `db:"participant_document_hash"`
	RelatedPartyHashes      pq.ByteaArray  `db:"related_party_hashes"`
	RelatedPartyRoles       pq.StringArray `db:"related_party_roles"`
	Metadata                string         `db:"metadata"`
	Version                 int            `db:"version"`
	CreatedAt               time.Time      `db:"created_at"`
	UpdatedAt               time.Time      `db:"updated_at"`
	DeletedAt               sql.NullTime   `db:"deleted_at"`
}

// aliasData is the encrypted part of an alias account.
type aliasData struct {
	Account             *string             `json:"account,omitempty"`
	IBAN                *string             `json:"iban,omitempty"`
	ParticipantDocument *string             `json:"participantDocument,omitempty"`
	RelatedParties      []*crm.RelatedParty `json:"relatedParties,omitempty"`
}

func aliasAAD(org, id uuid.UUID) string {
	return "alias_accounts:" + org.String() + ":" + id.String()
}

// Blind index field names: each searchable value gets tokens of its own.
const (
	idxBankAccount         = "alias.bank_account"
	idxIBAN                = "alias.iban"
	idxParticipantDocument = "alias.participant_document"
	idxPartyDocument       = "related_party.document"
	idxPartyRoleDocument   = "related_party.role_document"
)

func (s *AliasAccountService) index(org uuid.UUID, field string, v *string) []byte {
	if v == nil || crm.NormalizeCode(*v) == "" {
		return nil
	}
	return s.enc.BlindIndex(org, field, crm.NormalizeCode(*v))
}

func (s *AliasAccountService) partyTokens(org uuid.UUID, role crm.RelatedPartyRole, document string) (doc, roleDoc []byte) {
	n := crm.NormalizeDocument(document)
	return s.enc.BlindIndex(org, idxPartyDocument, n), s.enc.BlindIndex(org, idxPartyRoleDocument, string(role)+":"+n)
}

func (s *AliasAccountService) toRow(a *crm.AliasAccount) (aliasRow, error) {
	d := aliasData{RelatedParties: a.RelatedParties}
	if b := a.BankingDetails; b != nil {
		d.Account, d.IBAN = b.Account, b.IBAN
	}
	if r := a.RegulatoryFields; r != nil {
		d.ParticipantDocument = r.ParticipantDocument
	}
	enc, err := sealBlob(s.enc, d, aliasAAD(a.OrganizationID, a.ID))
	if err != nil {
		return aliasRow{}, fmt.Errorf("alias account: %w", err)
	}
	meta, err := marshalMetadata(a.Metadata)
	if err != nil {
		return aliasRow{}, err
	}
	org := a.OrganizationID
	r := aliasRow{
		ID: dbID(a.ID), OrganizationID: dbID(org), HolderID: dbID(a.HolderID), LedgerID: dbID(a.LedgerID), AccountID: dbID(a.AccountID),
		DataEnc: enc, Metadata: meta, Version: a.Version, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		BankAccountHash:         s.index(org, idxBankAccount, d.Account),
		IBANHash:                s.index(org, idxIBAN, d.IBAN),
		ParticipantDocumentHash: s.index(org, idxParticipantDocument, d.ParticipantDocument),
		RelatedPartyHashes:      pq.ByteaArray{},
		RelatedPartyRoles:       pq.StringArray{},
	}
	if b := a.BankingDetails; b != nil {
		r.Branch, r.BankType, r.CountryCode, r.BankID = nullString(b.Branch), nullString(b.Type), nullString(b.CountryCode), nullString(b.BankID)
		r.OpeningDate, r.ClosingDate = nullDate(b.OpeningDate), nullDate(b.ClosingDate)
	}
	for _, p := range a.RelatedParties {
		doc, roleDoc := s.partyTokens(org, p.Role, p.Document)
		r.RelatedPartyHashes = append(r.RelatedPartyHashes, doc, roleDoc)
		if !slices.Contains(r.RelatedPartyRoles, string(p.Role)) {
			r.RelatedPartyRoles = append(r.RelatedPartyRoles, string(p.Role))
		}
	}
	if a.DeletedAt != nil {
		r.DeletedAt = sql.NullTime{Time: *a.DeletedAt, Valid: true}
	}
	return r, nil
}

// toAlias maps a row to an alias account, decoding only the parts in parts (see
// crm.ReadScope): reads pass their context's scope, write paths crm.AllParts.
func (s *AliasAccountService) toAlias(r *aliasRow, parts crm.Parts) (*crm.AliasAccount, error) {
	id, org := uuid.UUID(r.ID), uuid.UUID(r.OrganizationID)
	a := &crm.AliasAccount{
		ID: id, OrganizationID: org, HolderID: uuid.UUID(r.HolderID), LedgerID: uuid.UUID(r.LedgerID), AccountID: uuid.UUID(r.AccountID),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if parts&crm.PersonalData != 0 {
		var d aliasData
		if err := openBlob(s.enc, r.DataEnc, aliasAAD(org, id), &d); err != nil {
			return nil, fmt.Errorf("alias account %s: %w", id, err)
		}
		a.RelatedParties = d.RelatedParties
		if a.RelatedParties == nil {
			a.RelatedParties = []*crm.RelatedParty{}
		}
		b := crm.BankingDetails{
			Branch: ptrString(r.Branch), Type: ptrString(r.BankType), CountryCode: ptrString(r.CountryCode), BankID: ptrString(r.BankID),
			OpeningDate: ptrDate(r.OpeningDate), ClosingDate: ptrDate(r.ClosingDate), Account: d.Account, IBAN: d.IBAN,
		}
		if b != (crm.BankingDetails{}) {
			a.BankingDetails = &b
		}
		if d.ParticipantDocument != nil {
			a.RegulatoryFields = &crm.RegulatoryFields{ParticipantDocument: d.ParticipantDocument}
		}
	}
	if parts&crm.MetadataPart != 0 {
		meta, err := unmarshalMetadata(r.Metadata)
		if err != nil {
			return nil, fmt.Errorf("decode alias account %s metadata: %w", id, err)
		}
		a.Metadata = meta
	}
	if r.DeletedAt.Valid {
		t := r.DeletedAt.Time.UTC()
		a.DeletedAt = &t
	}
	return a, nil
}

func (s *AliasAccountService) toAliases(rows []aliasRow, parts crm.Parts) ([]*crm.AliasAccount, error) {
	out := make([]*crm.AliasAccount, len(rows))
	for i := range rows {
		a, err := s.toAlias(&rows[i], parts)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

const (
	insertAliasSQL = `INSERT INTO alias_accounts (` + aliasColumns + `) VALUES (:id, :organization_id, :holder_id,
:ledger_id, :account_id, :branch, :bank_type, :country_code, :bank_id, :opening_date, :closing_date, :data_enc,
:bank_account_hash, :iban_hash, :participant_document_hash, :related_party_hashes, :related_party_roles, :metadata,
:version, :created_at, :updated_at, :deleted_at)`
	// Locking the holder FOR SHARE makes a concurrent delete of the holder wait (and vice
	// versa), so an alias account never lands under a holder being deleted.
	shareHolderSQL = `SELECT id FROM holders WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE`
)

// CreateAliasAccount implements crm.AliasAccountService.
func (s *AliasAccountService) CreateAliasAccount(ctx context.Context, a *crm.AliasAccount) error {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return err
	}
	n, err := newAliasAccount(a, org, time.Time{}, false) // a new id: created at its time
	if err != nil {
		return err
	}
	row, err := s.toRow(n)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var holderID uuid.UUID
	if err := sqlx.GetContext(ctx, tx, &holderID, shareHolderSQL, org, n.HolderID); err != nil {
		if err == sql.ErrNoRows {
			return &crm.Error{Code: crm.ENOTFOUND, Message: "Holder not found.", Fields: map[string]string{"holderId": "names no active holder"}}
		}
		return formatError(err)
	}
	if _, err := sqlx.NamedExecContext(ctx, tx, insertAliasSQL, row); err != nil {
		return formatError(err)
	}
	if err := tx.Commit(); err != nil && !landed(ctx, s.db, "alias_accounts", org, n.ID, formatError(err)) {
		return formatError(err)
	}
	*a = *n
	return nil
}

// newAliasAccount validates a and returns the record to store: a copy with the
// organization, version 1, the creation time, ids for it and its related parties
// (kept where set with keepIDs, see newHolder), and no empty nested objects.
func newAliasAccount(a *crm.AliasAccount, org uuid.UUID, t time.Time, keepIDs bool) (*crm.AliasAccount, error) {
	n := *a
	n.DropEmptyObjects()
	if err := n.Validate(); err != nil {
		return nil, err
	}
	fresh, err := assignID(&n.ID, keepIDs)
	if err != nil {
		return nil, err
	}
	if fresh {
		t = creationTime(n.ID) // see newHolder
	}
	n.OrganizationID, n.Version, n.CreatedAt, n.UpdatedAt, n.DeletedAt, n.Holder = org, 1, t, t, nil, nil
	if n.Metadata == nil {
		n.Metadata = crm.Metadata{}
	}
	n.RelatedParties = make([]*crm.RelatedParty, len(a.RelatedParties))
	for i, p := range a.RelatedParties {
		c := *p
		if _, err := assignID(&c.ID, keepIDs); err != nil {
			return nil, err
		}
		n.RelatedParties[i] = &c
	}
	return &n, nil
}

var findAliasByIDSQL = newScopedSQL(func(p crm.Parts) string {
	return `SELECT ` + aliasSelect("", p) + ` FROM alias_accounts WHERE organization_id = $1 AND id = $2 AND ($3 OR deleted_at IS NULL)`
})

// FindAliasAccountByID implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccountByID(ctx context.Context, id uuid.UUID, includeDeleted bool) (*crm.AliasAccount, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	parts := crm.ReadScopeFromContext(ctx).AliasAccount
	var r aliasRow
	if err := getOne(ctx, s.stmts, &r, findAliasByIDSQL[parts], org, id, includeDeleted); err != nil {
		return nil, aliasNotFound(err)
	}
	return s.toAlias(&r, parts)
}

// aliasNotFound maps a single-row alias account read's error (notFoundAs).
func aliasNotFound(err error) error { return notFoundAs(err, "Alias account not found.") }

// aliasWithHolderRow is an alias account joined with its holder.
type aliasWithHolderRow struct {
	aliasRow
	H holderRow
}

// The hot path: one statement, one index probe on the partial unique index, the holder
// joined in by primary key, and in the same organization: every statement is scoped to
// the caller's organization, the joined table too.
// Its variants are indexed [alias account parts][holder parts].
var findAliasByLedgerAccountSQL = func() (q [crm.AllParts + 1]scopedSQL) {
	for ap := range q {
		q[ap] = newScopedSQL(func(hp crm.Parts) string {
			return `SELECT ` + aliasSelect("a.", crm.Parts(ap)) + `, ` + holderSelect("h.", hp) + `
FROM alias_accounts a JOIN holders h ON h.id = a.holder_id AND h.organization_id = a.organization_id
WHERE a.organization_id = $1 AND a.account_id = $2 AND a.deleted_at IS NULL`
		})
	}
	return q
}()

// FindAliasAccountByLedgerAccount implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccountByLedgerAccount(ctx context.Context, accountID uuid.UUID) (*crm.AliasAccount, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	scope := crm.ReadScopeFromContext(ctx)
	var r aliasWithHolderRow
	if err := getOne(ctx, s.stmts, &r, findAliasByLedgerAccountSQL[scope.AliasAccount][scope.Holder], org, accountID); err != nil {
		return nil, aliasNotFound(err)
	}
	a, err := s.toAlias(&r.aliasRow, scope.AliasAccount)
	if err != nil {
		return nil, err
	}
	if a.Holder, err = s.holders.toHolder(&r.H, scope.Holder); err != nil {
		return nil, err
	}
	return a, nil
}

// aliasesWhere is a read of alias accounts with the given WHERE clause.
func aliasesWhere(where string) scopedSQL {
	return newScopedSQL(func(p crm.Parts) string { return `SELECT ` + aliasSelect("", p) + ` FROM alias_accounts ` + where })
}

var (
	findAliasesByHolderIDsSQL      = aliasesWhere(`WHERE organization_id = $1 AND holder_id = ANY($2) AND deleted_at IS NULL ORDER BY holder_id, id`)
	findAliasesByIDsSQL            = aliasesWhere(`WHERE organization_id = $1 AND id = ANY($2) AND deleted_at IS NULL`)
	findAliasesByLedgerAccountsSQL = aliasesWhere(`WHERE organization_id = $1 AND account_id = ANY($2) AND deleted_at IS NULL`)
)

// FindAliasAccountsByHolderIDs implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccountsByHolderIDs(ctx context.Context, holderIDs []uuid.UUID) ([]*crm.AliasAccount, error) {
	return s.findMany(ctx, findAliasesByHolderIDsSQL, holderIDs)
}

// FindAliasAccountsByIDs implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccountsByIDs(ctx context.Context, ids []uuid.UUID) ([]*crm.AliasAccount, error) {
	return s.findMany(ctx, findAliasesByIDsSQL, ids)
}

// FindAliasAccountsByLedgerAccounts implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccountsByLedgerAccounts(ctx context.Context, accountIDs []uuid.UUID) ([]*crm.AliasAccount, error) {
	return s.findMany(ctx, findAliasesByLedgerAccountsSQL, accountIDs)
}

func (s *AliasAccountService) findMany(ctx context.Context, query scopedSQL, ids []uuid.UUID) ([]*crm.AliasAccount, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	parts := crm.ReadScopeFromContext(ctx).AliasAccount
	rows, err := selectAll[aliasRow](ctx, s.stmts, query[parts], org, pq.Array(ids))
	if err != nil {
		return nil, formatError(err)
	}
	return s.toAliases(rows, parts)
}

// FindAliasAccounts implements crm.AliasAccountService.
func (s *AliasAccountService) FindAliasAccounts(ctx context.Context, f crm.AliasAccountFilter) (*crm.AliasAccountPage, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var w where
	w.add("organization_id = ?", org)
	if !f.IncludeDeleted {
		w.add("deleted_at IS NULL")
	}
	if f.HolderID != nil {
		w.add("holder_id = ?", *f.HolderID)
	}
	if f.LedgerID != nil {
		w.add("ledger_id = ?", *f.LedgerID)
	}
	if f.AccountID != nil {
		w.add("account_id = ?", *f.AccountID)
	}
	if f.HolderDocument != nil {
		holders := "holder_id IN (SELECT id FROM holders WHERE organization_id = ? AND document_hash = ?"
		if !f.IncludeDeleted {
			holders += " AND deleted_at IS NULL"
		}
		w.add(holders+")", org, s.holders.documentIndex(org, *f.HolderDocument))
	}
	if f.Branch != nil {
		w.add("branch = ?", *f.Branch)
	}
	for _, c := range []struct {
		v      *string
		column string
		field  string
	}{{f.BankAccount, "bank_account_hash", idxBankAccount}, {f.IBAN, "iban_hash", idxIBAN}, {f.ParticipantDocument, "participant_document_hash", idxParticipantDocument}} {
		if c.v != nil {
			w.add(c.column+" = ?", s.enc.BlindIndex(org, c.field, crm.NormalizeCode(*c.v)))
		}
	}
	switch {
	case f.RelatedPartyDocument != nil && f.RelatedPartyRole != nil:
		_, roleDoc := s.partyTokens(org, *f.RelatedPartyRole, *f.RelatedPartyDocument)
		w.add("related_party_hashes @> ARRAY[?::bytea]", roleDoc)
	case f.RelatedPartyDocument != nil:
		doc, _ := s.partyTokens(org, "", *f.RelatedPartyDocument)
		w.add("related_party_hashes @> ARRAY[?::bytea]", doc)
	case f.RelatedPartyRole != nil:
		w.add("related_party_roles @> ARRAY[?::text]", string(*f.RelatedPartyRole))
	}
	if len(f.Metadata) > 0 {
		meta, err := marshalMetadata(f.Metadata)
		if err != nil {
			return nil, err
		}
		w.add("metadata @> ?::jsonb", meta)
	}
	parts := crm.ReadScopeFromContext(ctx).AliasAccount
	var rows []aliasRow
	total, more, err := pageQuery(ctx, s.db, "alias_accounts", aliasSelect("", parts), w, f.Page, &rows)
	if err != nil {
		return nil, err
	}
	as, err := s.toAliases(rows, parts)
	if err != nil {
		return nil, err
	}
	return &crm.AliasAccountPage{AliasAccounts: as, HasNextPage: more, TotalCount: total}, nil
}

var lockAliasSQL = `SELECT ` + aliasSelect("", crm.AllParts) + ` FROM alias_accounts
WHERE organization_id = $1 AND id = $2 AND ($3 OR deleted_at IS NULL) FOR UPDATE`

const (
	updateAliasSQL = `UPDATE alias_accounts SET branch = :branch, bank_type = :bank_type, country_code = :country_code,
bank_id = :bank_id, opening_date = :opening_date, closing_date = :closing_date, data_enc = :data_enc,
bank_account_hash = :bank_account_hash, iban_hash = :iban_hash, participant_document_hash = :participant_document_hash,
related_party_hashes = :related_party_hashes, related_party_roles = :related_party_roles, metadata = :metadata,
version = :version, updated_at = :updated_at, deleted_at = :deleted_at
WHERE organization_id = :organization_id AND id = :id`
	hardDeleteAliasSQL = `DELETE FROM alias_accounts WHERE organization_id = $1 AND id = $2`
)

// change runs fn on the locked alias account inside a transaction and stores its result
// with the next version, unless fn reports no change. It is the one write path for
// updates, deletes, restores and related parties.
func (s *AliasAccountService) change(ctx context.Context, id uuid.UUID, includeDeleted bool,
	fn func(tx *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error)) (*crm.AliasAccount, error) {
	return s.changeAfter(ctx, id, includeDeleted, nil, fn)
}

// changeAfter is change with a first step, run in the transaction before the alias
// account is locked: where a change locks the holder too, it must lock it first, in the
// order DeleteHolder takes the two (holder, then its alias accounts), or the two deadlock.
func (s *AliasAccountService) changeAfter(ctx context.Context, id uuid.UUID, includeDeleted bool,
	first func(tx *sqlx.Tx, org uuid.UUID) error,
	fn func(tx *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error)) (*crm.AliasAccount, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if first != nil {
		if err := first(tx, org); err != nil {
			return nil, err
		}
	}
	var r aliasRow
	if err := tx.QueryRowContext(ctx, lockAliasSQL, org, id, includeDeleted).Scan(r.readDest()...); err != nil {
		return nil, aliasNotFound(err)
	}
	cur, err := s.toAlias(&r, crm.AllParts)
	if err != nil {
		return nil, err
	}
	next, err := fn(tx, cur)
	if err != nil || next == nil || next == cur {
		return next, err
	}
	next.Version, next.UpdatedAt = cur.Version+1, now()
	row, err := s.toRow(next)
	if err != nil {
		return nil, err
	}
	if _, err := sqlx.NamedExecContext(ctx, tx, updateAliasSQL, row); err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return next, nil
}

// UpdateAliasAccount implements crm.AliasAccountService.
func (s *AliasAccountService) UpdateAliasAccount(ctx context.Context, id uuid.UUID, u crm.AliasAccountUpdate) (*crm.AliasAccount, error) {
	return s.change(ctx, id, false, func(_ *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error) {
		if err := checkVersion(u.ExpectedVersion, cur.Version); err != nil {
			return nil, err
		}
		next := cur.Apply(u)
		if err := next.Validate(); err != nil {
			return nil, err
		}
		if s.sameStored(cur, next) {
			return cur, nil
		}
		return next, nil
	})
}

// sameStored reports whether two versions of an account would be stored alike.
func (s *AliasAccountService) sameStored(a, b *crm.AliasAccount) bool {
	ja, errA := json.Marshal([]any{a.BankingDetails, a.RegulatoryFields, a.RelatedParties, a.Metadata})
	jb, errB := json.Marshal([]any{b.BankingDetails, b.RegulatoryFields, b.RelatedParties, b.Metadata})
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// DeleteAliasAccount implements crm.AliasAccountService.
func (s *AliasAccountService) DeleteAliasAccount(ctx context.Context, id uuid.UUID, hard bool) (*crm.AliasAccount, error) {
	if hard {
		org, err := crm.OrganizationFromContext(ctx)
		if err != nil {
			return nil, err
		}
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback()
		if err := execOne(ctx, tx, hardDeleteAliasSQL, org, id); err != nil {
			if crm.ErrorCode(err) == crm.ENOTFOUND {
				return nil, crm.Errorf(crm.ENOTFOUND, "Alias account not found.")
			}
			return nil, err
		}
		return nil, formatError(tx.Commit())
	}
	return s.change(ctx, id, false, func(_ *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error) {
		n := *cur
		t := now()
		n.DeletedAt = &t
		return &n, nil
	})
}

// holderOfAliasSQL reads an alias account's holder id (fixed at creation) without locking
// the account, so that the holder can be locked first (RestoreAliasAccount).
const holderOfAliasSQL = `SELECT holder_id FROM alias_accounts WHERE organization_id = $1 AND id = $2`

// RestoreAliasAccount implements crm.AliasAccountService. The holder must be active: it is
// locked FOR SHARE before the account, so a concurrent delete of the holder either waits
// for the restore or makes it fail with NOT_FOUND, and the two cannot deadlock. (An
// active account always has an active holder, so only a restore can meet a deleted one.)
func (s *AliasAccountService) RestoreAliasAccount(ctx context.Context, id uuid.UUID) (*crm.AliasAccount, error) {
	lockHolder := func(tx *sqlx.Tx, org uuid.UUID) error {
		var holderID uuid.UUID
		if err := sqlx.GetContext(ctx, tx, &holderID, holderOfAliasSQL, org, id); err != nil {
			return aliasNotFound(err)
		}
		if err := sqlx.GetContext(ctx, tx, &holderID, shareHolderSQL, org, holderID); err != nil {
			return notFoundAs(err, "The alias account's holder is deleted: restore the holder first.")
		}
		return nil
	}
	return s.changeAfter(ctx, id, true, lockHolder, func(_ *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error) {
		if cur.DeletedAt == nil {
			return cur, nil
		}
		n := *cur
		n.DeletedAt = nil
		return &n, nil // EACCOUNTLINKED through the partial unique index on write
	})
}

// AddRelatedParty implements crm.AliasAccountService.
func (s *AliasAccountService) AddRelatedParty(ctx context.Context, aliasID uuid.UUID, p *crm.RelatedParty, expectedVersion *int) (*crm.AliasAccount, error) {
	if _, err := crm.OrganizationFromContext(ctx); err != nil {
		return nil, err // first, as for every operation: bad input without an organization is MISSING_ORGANIZATION
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, aliasID, false, func(_ *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error) {
		if err := checkVersion(expectedVersion, cur.Version); err != nil {
			return nil, err
		}
		if len(cur.RelatedParties) >= crm.MaxRelatedParties {
			return nil, crm.InvalidField("relatedParty", "the alias account already has 100 related parties")
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		c := *p
		c.ID = id
		n := *cur
		n.RelatedParties = append(slices.Clip(cur.RelatedParties), &c)
		*p = c
		return &n, nil
	})
}

// RemoveRelatedParty implements crm.AliasAccountService.
func (s *AliasAccountService) RemoveRelatedParty(ctx context.Context, aliasID, partyID uuid.UUID, expectedVersion *int) (*crm.AliasAccount, error) {
	return s.change(ctx, aliasID, false, func(_ *sqlx.Tx, cur *crm.AliasAccount) (*crm.AliasAccount, error) {
		if err := checkVersion(expectedVersion, cur.Version); err != nil {
			return nil, err
		}
		i := slices.IndexFunc(cur.RelatedParties, func(p *crm.RelatedParty) bool { return p.ID == partyID })
		if i < 0 {
			return nil, crm.Errorf(crm.ENOTFOUND, "Related party not found.")
		}
		n := *cur
		n.RelatedParties = slices.Delete(slices.Clone(cur.RelatedParties), i, i+1)
		return &n, nil
	})
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func nullDate(d *crm.Date) sql.NullTime {
	if d == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: d.Time, Valid: true}
}

func ptrString(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

func ptrDate(n sql.NullTime) *crm.Date {
	if !n.Valid {
		return nil
	}
	t := n.Time
	d := crm.NewDate(t.Year(), t.Month(), t.Day())
	return &d
}
