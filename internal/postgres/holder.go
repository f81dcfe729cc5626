package postgres

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
)

// Ensure the interface is implemented.
var _ crm.HolderService = (*HolderService)(nil)

// HolderService implements crm.HolderService on PostgreSQL.
type HolderService struct {
	db    *sqlx.DB
	enc   fieldcrypt.Encrypter
	stmts *stmtCache
}

// NewHolderService returns a HolderService over db that encrypts with enc.
// It panics if enc is nil: storing personal data unencrypted is never an option.
func NewHolderService(db *sqlx.DB, enc fieldcrypt.Encrypter) *HolderService {
	if enc == nil {
		panic("postgres: NewHolderService needs an Encrypter")
	}
	return &HolderService{db: db, enc: enc, stmts: newStmtCache(db)}
}

const holderColumns = `id, organization_id, type, external_id, data_enc, document_hash, metadata, version, created_at, updated_at, deleted_at`

// holderSelect is the select list of holder reads (holderReadColumns: the blind index
// is only written, toRow recomputes it from the document) for the parts in parts.
func holderSelect(prefix string, parts crm.Parts) string {
	return selectList(prefix, holderReadColumns, parts)
}

// holderRow is a holders row. data_enc holds holderData, encrypted.
type holderRow struct {
	ID             dbID           `db:"id"`
	OrganizationID dbID           `db:"organization_id"`
	Type           string         `db:"type"`
	ExternalID     sql.NullString `db:"external_id"`
	DataEnc        []byte         `db:"data_enc"`
	DocumentHash   []byte         `db:"document_hash"`
	Metadata       string         `db:"metadata"` // text, not []byte: with binary parameters lib/pq would send bytes as binary jsonb
	Version        int            `db:"version"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	DeletedAt      sql.NullTime   `db:"deleted_at"`
}

// holderData is the encrypted part of a holder: everything that identifies a person.
type holderData struct {
	Name          string             `json:"name"`
	Document      string             `json:"document"`
	Addresses     *crm.Addresses     `json:"addresses,omitempty"`
	Contact       *crm.Contact       `json:"contact,omitempty"`
	NaturalPerson *crm.NaturalPerson `json:"naturalPerson,omitempty"`
	LegalPerson   *crm.LegalPerson   `json:"legalPerson,omitempty"`
}

// holderAAD binds a holder ciphertext to its table, organization and record.
func holderAAD(org, id uuid.UUID) string {
	return "holders:" + org.String() + ":" + id.String()
}

// documentIndex is the blind index of a holder document.
func (s *HolderService) documentIndex(org uuid.UUID, document string) []byte {
	return s.enc.BlindIndex(org, "holder.document", crm.NormalizeDocument(document))
}

func (s *HolderService) toRow(h *crm.Holder) (holderRow, error) {
	enc, err := sealBlob(s.enc, holderData{
		Name: h.Name, Document: h.Document, Addresses: h.Addresses, Contact: h.Contact,
		NaturalPerson: h.NaturalPerson, LegalPerson: h.LegalPerson,
	}, holderAAD(h.OrganizationID, h.ID))
	if err != nil {
		return holderRow{}, fmt.Errorf("holder: %w", err)
	}
	meta, err := marshalMetadata(h.Metadata)
	if err != nil {
		return holderRow{}, err
	}
	r := holderRow{
		ID: dbID(h.ID), OrganizationID: dbID(h.OrganizationID), Type: string(h.Type), DataEnc: enc,
		DocumentHash: s.documentIndex(h.OrganizationID, h.Document), Metadata: meta,
		Version: h.Version, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
	}
	if h.ExternalID != nil {
		r.ExternalID = sql.NullString{String: *h.ExternalID, Valid: true}
	}
	if h.DeletedAt != nil {
		r.DeletedAt = sql.NullTime{Time: *h.DeletedAt, Valid: true}
	}
	return r, nil
}

// toHolder maps a row to a holder, decoding only the parts in parts (see
// crm.ReadScope): reads pass their context's scope, write paths crm.AllParts.
func (s *HolderService) toHolder(r *holderRow, parts crm.Parts) (*crm.Holder, error) {
	id, org := uuid.UUID(r.ID), uuid.UUID(r.OrganizationID)
	h := &crm.Holder{
		ID: id, OrganizationID: org, Type: crm.HolderType(r.Type),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if parts&crm.PersonalData != 0 {
		var d holderData
		if err := openBlob(s.enc, r.DataEnc, holderAAD(org, id), &d); err != nil {
			return nil, fmt.Errorf("holder %s: %w", id, err)
		}
		h.Name, h.Document, h.Addresses, h.Contact = d.Name, d.Document, d.Addresses, d.Contact
		h.NaturalPerson, h.LegalPerson = d.NaturalPerson, d.LegalPerson
	}
	if parts&crm.MetadataPart != 0 {
		meta, err := unmarshalMetadata(r.Metadata)
		if err != nil {
			return nil, fmt.Errorf("decode holder %s metadata: %w", id, err)
		}
		h.Metadata = meta
	}
	if r.ExternalID.Valid {
		h.ExternalID = &r.ExternalID.String
	}
	if r.DeletedAt.Valid {
		t := r.DeletedAt.Time.UTC()
		h.DeletedAt = &t
	}
	return h, nil
}

func (s *HolderService) toHolders(rows []holderRow, parts crm.Parts) ([]*crm.Holder, error) {
	out := make([]*crm.Holder, len(rows))
	for i := range rows {
		h, err := s.toHolder(&rows[i], parts)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// insertHolderSQL takes insertArgs. It is prepared once (createHolder is a hot path
// of its own: onboarding batches), so PostgreSQL neither parses nor plans it per call.
const insertHolderSQL = `INSERT INTO holders (` + holderColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// insertArgs lists r's fields in holderColumns order.
func (r *holderRow) insertArgs() []any {
	return []any{r.ID, r.OrganizationID, r.Type, r.ExternalID, r.DataEnc, r.DocumentHash, r.Metadata, r.Version,
		r.CreatedAt, r.UpdatedAt, r.DeletedAt}
}

// CreateHolder implements crm.HolderService.
func (s *HolderService) CreateHolder(ctx context.Context, h *crm.Holder) error {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return err
	}
	n, err := newHolder(h, org, time.Time{}, false) // a new id: created at its time
	if err != nil {
		return err
	}
	row, err := s.toRow(n)
	if err != nil {
		return err
	}
	if err := s.stmts.exec(ctx, insertHolderSQL, row.insertArgs()...); err != nil && !landed(ctx, s.db, "holders", org, n.ID, err) {
		return err
	}
	*h = *n
	return nil
}

// landed reports whether a new record's insert that failed with err (an error without a
// business code) stored the record after all. When the connection breaks after the
// server has committed but before its answer arrives, pgx reports the broken connection,
// and lib/pq reports a bad connection, on which database/sql runs the statement again on
// another connection, where it collides with the first on the primary key. The record's
// id is the caller's own new UUIDv7, so a row with it in the organization can only be
// that insert's: then the write is acknowledged, not answered INTERNAL_SERVER_ERROR
// (which a client would retry into DOCUMENT_ALREADY_EXISTS).
func landed(ctx context.Context, db *sqlx.DB, table string, org, id uuid.UUID, err error) bool {
	if crm.ErrorCode(err) != crm.EINTERNAL {
		return false
	}
	var one int
	return db.GetContext(ctx, &one, `SELECT 1 FROM `+table+` WHERE organization_id = $1 AND id = $2`, org, id) == nil
}

// newHolder validates h and returns the record to store: a copy with the organization,
// version 1 and the creation time, a new UUIDv7 id (or, with keepID, the one h has, if
// any: BulkLoad presets ids to link alias accounts), no empty nested objects
// (crm.Holder.DropEmptyObjects), and empty rather than absent metadata. A record with a
// new id is created at its id's time (creationTime); t is the creation time of one whose
// id is kept.
func newHolder(h *crm.Holder, org uuid.UUID, t time.Time, keepID bool) (*crm.Holder, error) {
	n := *h
	n.DropEmptyObjects() // before Validate: an empty naturalPerson on a legal person is absent, as on update
	if err := n.Validate(); err != nil {
		return nil, err
	}
	fresh, err := assignID(&n.ID, keepID)
	if err != nil {
		return nil, err
	}
	if fresh {
		t = creationTime(n.ID)
	}
	n.OrganizationID, n.Version, n.CreatedAt, n.UpdatedAt, n.DeletedAt = org, 1, t, t, nil
	if n.Metadata == nil {
		n.Metadata = crm.Metadata{}
	}
	return &n, nil
}

// assignID gives a new record a UUIDv7, unless keep is set and it already has an id,
// and reports whether it did.
func assignID(id *uuid.UUID, keep bool) (bool, error) {
	if keep && *id != uuid.Nil {
		return false, nil
	}
	v, err := uuid.NewV7()
	if err != nil {
		return false, fmt.Errorf("new id: %w", err)
	}
	*id = v
	return true, nil
}

// creationTime is the time a UUIDv7 carries: the creation time of the record it is the
// new id of. Lists in creation order are ordered by id; with the time taken from the id,
// createdAt never runs against that order, however creations interleave, in one server
// or several. (A clock read apart from the id could: two concurrent creations may read
// the clock in one order and draw their ids in the other.)
//
// The id holds the Unix time in milliseconds (its first 48 bits) and, in its next 12
// (rand_a after the version), google/uuid's finer clock: the rest of the millisecond in
// steps of 256 ns (RFC 9562's "increased clock precision"). Both read in id order, so
// the time they make is in id order too; the fraction is capped below the next
// millisecond, which it could pass only when more ids than that are drawn in one
// millisecond, and stored to the microsecond, as PostgreSQL keeps it.
func creationTime(id uuid.UUID) time.Time {
	ms := int64(binary.BigEndian.Uint64(id[:8]) >> 16)
	frac := min(time.Duration(binary.BigEndian.Uint16(id[6:8])&0x0fff)<<8, time.Millisecond-time.Nanosecond)
	return time.UnixMilli(ms).Add(frac).UTC().Truncate(time.Microsecond)
}

var findHolderByIDSQL = newScopedSQL(func(p crm.Parts) string {
	return `SELECT ` + holderSelect("", p) + ` FROM holders WHERE organization_id = $1 AND id = $2 AND ($3 OR deleted_at IS NULL)`
})

// FindHolderByID implements crm.HolderService.
func (s *HolderService) FindHolderByID(ctx context.Context, id uuid.UUID, includeDeleted bool) (*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	parts := crm.ReadScopeFromContext(ctx).Holder
	var r holderRow
	if err := getOne(ctx, s.stmts, &r, findHolderByIDSQL[parts], org, id, includeDeleted); err != nil {
		return nil, holderNotFound(err)
	}
	return s.toHolder(&r, parts)
}

// holderNotFound maps a single-row holder read's error (notFoundAs).
func holderNotFound(err error) error { return notFoundAs(err, "Holder not found.") }

var findHolderByDocumentSQL = newScopedSQL(func(p crm.Parts) string {
	return `SELECT ` + holderSelect("", p) + ` FROM holders WHERE organization_id = $1 AND document_hash = $2 AND deleted_at IS NULL`
})

// FindHolderByDocument implements crm.HolderService.
func (s *HolderService) FindHolderByDocument(ctx context.Context, document string) (*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if crm.NormalizeDocument(document) == "" {
		return nil, crm.InvalidField("document", "must contain at least one letter or digit")
	}
	parts := crm.ReadScopeFromContext(ctx).Holder
	var r holderRow
	if err := getOne(ctx, s.stmts, &r, findHolderByDocumentSQL[parts], org, s.documentIndex(org, document)); err != nil {
		return nil, holderNotFound(err)
	}
	return s.toHolder(&r, parts)
}

var findHoldersByIDsSQL = newScopedSQL(func(p crm.Parts) string {
	return `SELECT ` + holderSelect("", p) + ` FROM holders WHERE organization_id = $1 AND id = ANY($2) AND deleted_at IS NULL`
})

// FindHoldersByIDs implements crm.HolderService.
func (s *HolderService) FindHoldersByIDs(ctx context.Context, ids []uuid.UUID) ([]*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	parts := crm.ReadScopeFromContext(ctx).Holder
	rows, err := selectAll[holderRow](ctx, s.stmts, findHoldersByIDsSQL[parts], org, pq.Array(ids))
	if err != nil {
		return nil, formatError(err)
	}
	return s.toHolders(rows, parts)
}

// FindHolders implements crm.HolderService.
func (s *HolderService) FindHolders(ctx context.Context, f crm.HolderFilter) (*crm.HolderPage, error) {
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
	if f.Type != nil {
		w.add("type = ?", string(*f.Type))
	}
	if f.ExternalID != nil {
		w.add("external_id = ?", *f.ExternalID)
	}
	if f.Document != nil {
		w.add("document_hash = ?", s.documentIndex(org, *f.Document))
	}
	if len(f.Metadata) > 0 {
		meta, err := marshalMetadata(f.Metadata)
		if err != nil {
			return nil, err
		}
		w.add("metadata @> ?::jsonb", meta)
	}
	if f.CreatedAfter != nil {
		w.add("created_at >= ?", *f.CreatedAfter)
	}
	if f.CreatedBefore != nil {
		w.add("created_at < ?", *f.CreatedBefore)
	}
	parts := crm.ReadScopeFromContext(ctx).Holder
	var rows []holderRow
	total, more, err := pageQuery(ctx, s.db, "holders", holderSelect("", parts), w, f.Page, &rows)
	if err != nil {
		return nil, err
	}
	hs, err := s.toHolders(rows, parts)
	if err != nil {
		return nil, err
	}
	return &crm.HolderPage{Holders: hs, HasNextPage: more, TotalCount: total}, nil
}

// where builds a conjunction of SQL conditions with positional parameters.
// Conditions use "?" for each argument; build renumbers them as $1, $2, …
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// pageQuery selects one keyset page (ordered by id, which is time-ordered) of table
// into dest (a *[]row). It fetches one row more than asked to learn whether a next page
// exists. The filter's total count costs a second statement, run only when asked for.
// Returns (total or -1, hasNextPage, err).
func pageQuery[R any, P readRow[R]](ctx context.Context, db sqlx.QueryerContext, table, columns string, w where, p crm.Page, dest *[]R) (int, bool, error) {
	filter := w.sql()
	after, _ := p.AfterID() // validated by the caller
	dir, cmp := "ASC", ">"
	if p.Order == crm.CreatedAtDesc {
		dir, cmp = "DESC", "<"
	}
	page := where{conds: append([]string(nil), w.conds...), args: append([]any(nil), w.args...)}
	if after != uuid.Nil {
		page.add("id "+cmp+" ?", after)
	}
	q := "SELECT " + columns + " FROM " + table + " WHERE " + page.sql() + " ORDER BY id " + dir + " LIMIT " + strconv.Itoa(p.First+1)
	res, err := db.QueryContext(ctx, q, page.args...)
	if err != nil {
		return 0, false, formatError(err)
	}
	rows, err := scanRows[R, P](res)
	if err != nil {
		return 0, false, formatError(err)
	}
	more := len(rows) > p.First
	if more {
		rows = rows[:p.First]
	}
	total := -1
	if p.WithTotal {
		if err := sqlx.GetContext(ctx, db, &total, "SELECT count(*) FROM "+table+" WHERE "+filter, w.args...); err != nil {
			return 0, false, formatError(err)
		}
	}
	*dest = rows
	return total, more, nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func marshalMetadata(m crm.Metadata) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

func unmarshalMetadata(s string) (crm.Metadata, error) {
	m := crm.Metadata{}
	if s == "" || s == "{}" {
		return m, nil
	}
	if err := decodeJSON([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

var findHoldersOfAliasAccountsSQL = newScopedSQL(func(p crm.Parts) string {
	return `SELECT ` + holderSelect("", p) + ` FROM holders WHERE organization_id = $1 AND id = ANY($2)`
})

// FindHoldersOfAliasAccounts implements crm.HolderService.
func (s *HolderService) FindHoldersOfAliasAccounts(ctx context.Context, ids []uuid.UUID) ([]*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := selectAll[holderRow](ctx, s.stmts, findHoldersOfAliasAccountsSQL[crm.ReadScopeFromContext(ctx).Holder], org, pq.Array(ids))
	if err != nil {
		return nil, formatError(err)
	}
	return s.toHolders(rows, crm.ReadScopeFromContext(ctx).Holder)
}

var lockHolderSQL = `SELECT ` + holderSelect("", crm.AllParts) + ` FROM holders
WHERE organization_id = $1 AND id = $2 AND ($3 OR deleted_at IS NULL) FOR UPDATE`

// lockHolder reads a holder and locks its row until the transaction ends, so
// concurrent writers of the same holder run one after the other.
func (s *HolderService) lockHolder(ctx context.Context, tx *sqlx.Tx, org, id uuid.UUID, includeDeleted bool) (*crm.Holder, error) {
	var r holderRow
	if err := tx.QueryRowContext(ctx, lockHolderSQL, org, id, includeDeleted).Scan(r.readDest()...); err != nil {
		return nil, holderNotFound(err)
	}
	return s.toHolder(&r, crm.AllParts)
}

const updateHolderSQL = `UPDATE holders SET external_id = :external_id, data_enc = :data_enc,
metadata = :metadata, version = :version, updated_at = :updated_at, deleted_at = :deleted_at
WHERE organization_id = :organization_id AND id = :id`

// writeHolder stores the mutable columns of h (already validated).
func (s *HolderService) writeHolder(ctx context.Context, tx *sqlx.Tx, h *crm.Holder) error {
	row, err := s.toRow(h)
	if err != nil {
		return err
	}
	if _, err := sqlx.NamedExecContext(ctx, tx, updateHolderSQL, row); err != nil {
		return formatError(err)
	}
	return nil
}

// UpdateHolder implements crm.HolderService.
func (s *HolderService) UpdateHolder(ctx context.Context, id uuid.UUID, u crm.HolderUpdate) (*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cur, err := s.lockHolder(ctx, tx, org, id, false)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(u.ExpectedVersion, cur.Version); err != nil {
		return nil, err
	}
	next := cur.Apply(u)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if holdersEqual(cur, next) {
		return cur, nil // nothing changed: no new version
	}
	next.Version, next.UpdatedAt = cur.Version+1, now()
	if err := s.writeHolder(ctx, tx, next); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return next, nil
}

// holdersEqual compares what an update can change, through the stored form.
func holdersEqual(a, b *crm.Holder) bool {
	ja, errA := json.Marshal(holderData{a.Name, a.Document, a.Addresses, a.Contact, a.NaturalPerson, a.LegalPerson})
	jb, errB := json.Marshal(holderData{b.Name, b.Document, b.Addresses, b.Contact, b.NaturalPerson, b.LegalPerson})
	ma, _ := marshalMetadata(a.Metadata)
	mb, _ := marshalMetadata(b.Metadata)
	return errA == nil && errB == nil && string(ja) == string(jb) && ma == mb &&
		ptrEqual(a.ExternalID, b.ExternalID)
}

func ptrEqual[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// checkVersion refuses an update whose expected version is not the stored one.
func checkVersion(expected *int, stored int) error {
	if expected != nil && *expected != stored {
		return crm.Errorf(crm.EVERSIONCONFLICT, "The record has changed (version %d, expected %d): read it again and retry.", stored, *expected)
	}
	return nil
}

const (
	countActiveAliasesSQL = `SELECT count(*) FROM alias_accounts
WHERE organization_id = $1 AND holder_id = $2 AND deleted_at IS NULL`
	softDeleteAliasesOfHolderSQL = `UPDATE alias_accounts SET deleted_at = $3, updated_at = $3, version = version + 1
WHERE organization_id = $1 AND holder_id = $2 AND deleted_at IS NULL`
	hardDeleteAliasesOfHolderSQL = `DELETE FROM alias_accounts WHERE organization_id = $1 AND holder_id = $2`
	hardDeleteHolderSQL          = `DELETE FROM holders WHERE organization_id = $1 AND id = $2`
)

// DeleteHolder implements crm.HolderService.
func (s *HolderService) DeleteHolder(ctx context.Context, id uuid.UUID, hard, cascade bool) (*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// The row lock also makes a concurrent createAliasAccount (which locks the holder
	// FOR SHARE) wait, so no alias account can slip in between the count and the delete.
	h, err := s.lockHolder(ctx, tx, org, id, hard)
	if err != nil {
		return nil, err
	}
	var active int
	if err := sqlx.GetContext(ctx, tx, &active, countActiveAliasesSQL, org, id); err != nil {
		return nil, formatError(err)
	}
	if active > 0 && !cascade {
		return nil, &crm.Error{Code: crm.EHASALIASES,
			Message:    fmt.Sprintf("The holder still has %d active alias account(s): delete them first, or pass cascade: true.", active),
			Extensions: map[string]any{"activeAliasAccounts": active}}
	}
	if hard {
		// Soft-deleted alias accounts reference the holder too: remove them all first.
		if _, err := tx.ExecContext(ctx, hardDeleteAliasesOfHolderSQL, org, id); err != nil {
			return nil, formatError(err)
		}
		if err := execOne(ctx, tx, hardDeleteHolderSQL, org, id); err != nil {
			return nil, err
		}
		return nil, formatError(tx.Commit())
	}
	t := now()
	if _, err := tx.ExecContext(ctx, softDeleteAliasesOfHolderSQL, org, id, t); err != nil {
		return nil, formatError(err)
	}
	h.DeletedAt, h.UpdatedAt, h.Version = &t, t, h.Version+1
	if err := s.writeHolder(ctx, tx, h); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return h, nil
}

// RestoreHolder implements crm.HolderService.
func (s *HolderService) RestoreHolder(ctx context.Context, id uuid.UUID) (*crm.Holder, error) {
	org, err := crm.OrganizationFromContext(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	h, err := s.lockHolder(ctx, tx, org, id, true)
	if err != nil {
		return nil, err
	}
	if h.DeletedAt == nil {
		return h, nil
	}
	h.DeletedAt, h.UpdatedAt, h.Version = nil, now(), h.Version+1
	if err := s.writeHolder(ctx, tx, h); err != nil {
		return nil, err // EDOCUMENTEXISTS through the partial unique index
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return h, nil
}

// execOne runs a statement that must affect exactly one row; none is ENOTFOUND.
func execOne(ctx context.Context, tx *sqlx.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return crm.Errorf(crm.ENOTFOUND, "Not found.")
	}
	return nil
}
