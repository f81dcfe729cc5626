package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// TestFormatError_SQLState: server errors map to domain codes by SQLSTATE and constraint,
// the same with either driver; anything else stays an internal error.
func TestFormatError_SQLState(t *testing.T) {
	for _, tc := range []struct {
		code, constraint, want string
	}{
		{"23505", "holders_document_hash_active_key", crm.EDOCUMENTEXISTS},
		{"23505", "alias_accounts_account_id_active_key", crm.EACCOUNTLINKED},
		{"22021", "", crm.EINVALID},
		{"22P05", "", crm.EINVALID},
		{"22003", "", crm.EINVALID},
		{"57014", "", crm.ETIMEOUT},
		{"40P01", "", crm.EVERSIONCONFLICT},
		{"40001", "", crm.EVERSIONCONFLICT},
		{"23505", "holders_pkey", crm.EINTERNAL},
		{"XX000", "", crm.EINTERNAL},
	} {
		for _, err := range []error{
			&pq.Error{Code: pq.ErrorCode(tc.code), Constraint: tc.constraint},
			&pgconn.PgError{Code: tc.code, ConstraintName: tc.constraint},
		} {
			t.Run(fmt.Sprintf("%s %s %T", tc.code, tc.constraint, err), func(t *testing.T) {
				if got := crm.ErrorCode(formatError(fmt.Errorf("exec: %w", err))); got != tc.want {
					t.Fatalf("code %s, want %s", got, tc.want)
				}
			})
		}
	}
}
