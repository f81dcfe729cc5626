package postgres_test

import (
	"os"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m)) }
