package postgres_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// TestCreationOrder: records created concurrently list in creation order with their
// createdAt never decreasing (increasing, for the descending order), holders and alias
// accounts alike. The list order is the ids'; createdAt comes from the id, so the two
// cannot disagree, where a clock read beside the id did under concurrency.
func TestCreationOrder(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpenDB(t)
	enc := pgtest.Encrypter(t)
	holders, aliases := postgres.NewHolderService(db, enc), postgres.NewAliasAccountService(db, enc)
	ctx, _ := orgContext()
	owner := simpleHolder("ORDER-OWNER")
	if err := holders.CreateHolder(ctx, owner); err != nil {
		t.Fatal(err)
	}

	const writers, each = 16, 25
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := holders.CreateHolder(ctx, simpleHolder(fmt.Sprintf("ORDER-%02d-%02d", w, i))); err != nil {
					errs <- err
					return
				}
				if err := aliases.CreateAliasAccount(ctx, &crm.AliasAccount{HolderID: owner.ID, LedgerID: uuid.New(), AccountID: uuid.New()}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, order := range []crm.SortOrder{crm.CreatedAtAsc, crm.CreatedAtDesc} {
		var hs []*crm.Holder
		for after := ""; ; {
			p, err := holders.FindHolders(ctx, crm.HolderFilter{Page: crm.Page{First: 100, After: after, Order: order}})
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, p.Holders...)
			if !p.HasNextPage {
				break
			}
			after = crm.Cursor(hs[len(hs)-1].ID)
		}
		var as []*crm.AliasAccount
		for after := ""; ; {
			p, err := aliases.FindAliasAccounts(ctx, crm.AliasAccountFilter{Page: crm.Page{First: 100, After: after, Order: order}})
			if err != nil {
				t.Fatal(err)
			}
			as = append(as, p.AliasAccounts...)
			if !p.HasNextPage {
				break
			}
			after = crm.Cursor(as[len(as)-1].ID)
		}
		if len(hs) != 1+writers*each || len(as) != writers*each {
			t.Fatalf("%s: %d holders and %d alias accounts listed, want %d and %d", order, len(hs), len(as), 1+writers*each, writers*each)
		}
		for i := 1; i < len(hs); i++ {
			if prev, cur := hs[i-1].CreatedAt, hs[i].CreatedAt; (order == crm.CreatedAtAsc && cur.Before(prev)) || (order == crm.CreatedAtDesc && cur.After(prev)) {
				t.Fatalf("%s: holder %d created at %s listed after one created at %s", order, i, cur, prev)
			}
		}
		for i := 1; i < len(as); i++ {
			if prev, cur := as[i-1].CreatedAt, as[i].CreatedAt; (order == crm.CreatedAtAsc && cur.Before(prev)) || (order == crm.CreatedAtDesc && cur.After(prev)) {
				t.Fatalf("%s: alias account %d created at %s listed after one created at %s", order, i, cur, prev)
			}
		}
	}
}
