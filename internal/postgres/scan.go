package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// dbID is a uuid column. lib/pq hands uuids over as 36 bytes of text; uuid.UUID.Scan
// converts them to a string first (one allocation per column per row), dbID parses the
// bytes in place. It matters on pages of hundreds of rows with five ids each.
type dbID uuid.UUID

// Scan implements sql.Scanner.
func (d *dbID) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		id, err := uuid.ParseBytes(v)
		if err != nil {
			return fmt.Errorf("scan uuid: %w", err)
		}
		*d = dbID(id)
		return nil
	case string:
		id, err := uuid.Parse(v)
		if err != nil {
			return fmt.Errorf("scan uuid: %w", err)
		}
		*d = dbID(id)
		return nil
	}
	return fmt.Errorf("scan uuid: unsupported type %T", src)
}

// Value implements driver.Valuer.
func (d dbID) Value() (driver.Value, error) { return uuid.UUID(d).String(), nil }

// stmtCache prepares the hot read statements once and reuses them: a prepared
// statement skips parsing and planning on every call (about 0.15 ms of a 0.5 ms lookup
// here), and with binary parameters its execution is a single round trip.
// database/sql prepares each one lazily on every pooled connection that runs it.
//
// A hit takes no lock, and a miss prepares outside any lock: a prepare waits on the
// database (a free connection, a round trip) bounded only by its own request's context,
// and must never hold up other requests' statements.
//
// Single-row statements (getOne, exec) run detached from their request's cancellation
// (see detach); turns is their admission, one per pooled connection (nil when the pool
// is unlimited, so no statement ever waits for a connection).
type stmtCache struct {
	db    *sqlx.DB
	m     sync.Map // query string → *sqlx.Stmt
	turns chan struct{}
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	c := &stmtCache{db: db}
	if n := db.Stats().MaxOpenConnections; n > 0 {
		c.turns = make(chan struct{}, n)
	}
	return c
}

// detach returns the context a single-row statement runs under, once it has its turn,
// which the caller gives back with release; or ctx's error, when ctx ends before the
// statement's turn (then there is nothing to give back).
//
// A cancellable context costs every statement up to two goroutines, the driver's cancel
// watcher (lib/pq's, or pgx's context watcher) and database/sql's for rows, with the
// wake-ups between threads they bring: 30–70 µs of server CPU per hot-path lookup with
// one client here, a tenth to a sixth of it; none measurable under full load, where the
// threads are awake anyway (bench/ANALYSIS.md). A single-row statement by key has no use
// for them: it takes a millisecond, and it is bounded anyway by the statement timeout and
// the connection's I/O deadline (Open). So it runs under context.WithoutCancel (values
// kept: tracing, request id), once it has its turn. The turn is what stays cancellable:
// a request that ends while waiting for one gives up at once, as it gave up waiting for a
// pooled connection before. With a turn per pooled connection in each cache (one per
// service), few detached statements can be waiting for a connection (only while other
// statements, such as transactions, hold them), so an overloaded server still sheds the
// requests nobody waits for.
func (c *stmtCache) detach(ctx context.Context) (context.Context, error) {
	if c.turns == nil {
		return context.WithoutCancel(ctx), nil
	}
	// A free turn is taken without touching ctx.Done(): on a context nobody has waited on
	// yet, that would make its channel, and the two-way select costs more than this one.
	select {
	case c.turns <- struct{}{}:
	default:
		select {
		case c.turns <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		c.release()
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// release gives back a turn taken by detach.
func (c *stmtCache) release() {
	if c.turns != nil {
		<-c.turns
	}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := c.m.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, formatError(err)
	}
	// Requests that missed together each prepared: the first stored is kept by all.
	if first, loaded := c.m.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return first.(*sqlx.Stmt), nil
	}
	return st, nil
}

// exec runs a prepared single-row statement that returns no rows, detached (detach).
func (c *stmtCache) exec(ctx context.Context, query string, args ...any) error {
	st, err := c.get(ctx, query)
	if err != nil {
		return err
	}
	dctx, err := c.detach(ctx)
	if err != nil {
		return err
	}
	defer c.release()
	if _, err := st.ExecContext(dctx, args...); err != nil {
		return formatError(err)
	}
	return nil
}

// Reads scan rows by hand rather than through sqlx's reflection: each row type lists
// pointers to its fields in the order of its read columns (readDest). That saves a
// reflect.New, a field-map walk and a slice of pointers per row, which adds up on pages
// of hundreds of rows. A column list and its readDest change together; the round-trip
// tests fail on any mismatch.

// The read column lists, in readDest order. data_enc and metadata are the costly
// columns: a read whose crm.ReadScope leaves them out selects constants in their place
// (selectList), so PostgreSQL does not format them, nor lib/pq parse them, for nothing.
var (
	holderReadColumns = []string{"id", "organization_id", "type", "external_id", "data_enc", "metadata", "version",
		"created_at", "updated_at", "deleted_at"}
	aliasReadColumns = []string{"id", "organization_id", "holder_id", "ledger_id", "account_id", "branch", "bank_type",
		"country_code", "bank_id", "opening_date", "closing_date", "data_enc", "metadata", "version", "created_at",
		"updated_at", "deleted_at"}
)

// selectList joins cols, each prefixed (a table alias and a dot, or nothing), reading
// NULL for data_enc unless parts has crm.PersonalData and an empty object for metadata
// unless it has crm.MetadataPart.
func selectList(prefix string, cols []string, parts crm.Parts) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case c == "data_enc" && parts&crm.PersonalData == 0:
			b.WriteString("NULL::bytea")
		case c == "metadata" && parts&crm.MetadataPart == 0:
			b.WriteString("'{}'::jsonb")
		default:
			b.WriteString(prefix + c)
		}
	}
	return b.String()
}

// scopedSQL is a read statement in one variant per crm.Parts value, indexed by it.
type scopedSQL [crm.AllParts + 1]string

// newScopedSQL builds every variant of a read statement.
func newScopedSQL(build func(parts crm.Parts) string) scopedSQL {
	var q scopedSQL
	for p := range q {
		q[p] = build(crm.Parts(p))
	}
	return q
}

// readRow is a row type whose fields readDest lists, P being its pointer type.
type readRow[R any] interface {
	*R
	readDest() []any
}

// readDest lists r's fields in holderReadColumns order.
func (r *holderRow) readDest() []any {
	return []any{&r.ID, &r.OrganizationID, &r.Type, &r.ExternalID, &r.DataEnc, &r.Metadata, &r.Version,
		&r.CreatedAt, &r.UpdatedAt, &r.DeletedAt}
}

// readDest lists r's fields in aliasReadColumns order.
func (r *aliasRow) readDest() []any {
	return []any{&r.ID, &r.OrganizationID, &r.HolderID, &r.LedgerID, &r.AccountID, &r.Branch, &r.BankType,
		&r.CountryCode, &r.BankID, &r.OpeningDate, &r.ClosingDate, &r.DataEnc, &r.Metadata, &r.Version,
		&r.CreatedAt, &r.UpdatedAt, &r.DeletedAt}
}

// readDest lists the alias account's columns, then the holder's.
func (r *aliasWithHolderRow) readDest() []any {
	return append(r.aliasRow.readDest(), r.H.readDest()...)
}

// scanRows reads every row of rows and closes it.
func scanRows[R any, P readRow[R]](rows *sql.Rows) ([]R, error) {
	defer rows.Close()
	var out []R
	var r R
	dest := P(&r).readDest()
	for rows.Next() {
		// Each Scan assigns every field afresh (bytes are copied out of the driver's
		// buffer), so r can be copied into out and reused.
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// getOne runs a prepared single-row query into r, detached (detach). It returns
// sql.ErrNoRows when nothing matched.
func getOne[R any, P readRow[R]](ctx context.Context, c *stmtCache, r P, query string, args ...any) error {
	st, err := c.get(ctx, query)
	if err != nil {
		return err
	}
	dctx, err := c.detach(ctx)
	if err != nil {
		return err
	}
	defer c.release()
	return st.Stmt.QueryRowContext(dctx, args...).Scan(r.readDest()...)
}

// selectAll runs a prepared query and reads every row.
func selectAll[R any, P readRow[R]](ctx context.Context, c *stmtCache, query string, args ...any) ([]R, error) {
	st, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.Stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return scanRows[R, P](rows)
}
