package graph_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// Concurrent writers through GraphQL: optimistic concurrency without lost updates, the
// race-proof one-alias-per-ledger-account rule, and deletes racing creates.

// outcome is "OK" or the error code of one GraphQL call.
func outcome(errs []gqlError) string {
	if len(errs) == 0 {
		return "OK"
	}
	if len(errs) > 1 {
		return fmt.Sprintf("%d errors: %+v", len(errs), errs)
	}
	return errs[0].Extensions.Code
}

// TestConcurrency: concurrent writers through GraphQL.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	runShared(t, []sharedTest{
		{"HolderUpdates", testConcurrentHolderUpdates},
		{"AliasAccountCreates", testConcurrentAliasAccountCreates},
		{"RelatedPartyAdds", testConcurrentRelatedPartyAdds},
		{"DeleteHolderAndCreateAlias", testConcurrentDeleteHolderAndCreateAlias},
		{"HardDeleteHolderAndRestoreAlias", testConcurrentHardDeleteHolderAndRestoreAlias},
	})
}

// testConcurrentHolderUpdates: 50 writers × 20 updateHolder calls with expectedVersion
// on one holder. Every failure is VERSION_CONFLICT, the final version is 1 + the number
// of successful updates, each success got its own version, and no writer's last
// successful write is lost.
func testConcurrentHolderUpdates(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))

	const writers, calls = 50, 20
	type result struct {
		successes int
		versions  []int
		bad       []string
	}
	results := make([]result, writers)
	readVersion := func() (int, error) {
		var out struct{ Holder struct{ Version int } }
		if errs := s.post(t, org, `query($id: ID!) { holder(id: $id) { version } }`, map[string]any{"id": h.ID}, &out); len(errs) > 0 {
			return 0, fmt.Errorf("read: %+v", errs)
		}
		return out.Holder.Version, nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			<-start
			v, err := readVersion()
			if err != nil {
				r.bad = append(r.bad, err.Error())
				return
			}
			for i := range calls {
				var out struct {
					UpdateHolder struct{ Holder struct{ Version int } }
				}
				// Every successful update changes something: the writer's own counter.
				errs := s.post(t, org, `mutation($input: UpdateHolderInput!) { updateHolder(input: $input) { holder { version } } }`, map[string]any{"input": map[string]any{"id": h.ID, "expectedVersion": v,
					"metadata": map[string]any{fmt.Sprintf("w%02d", w): r.successes + 1, "last": fmt.Sprintf("%d-%d", w, i)}}}, &out)
				switch code := outcome(errs); code {
				case "OK":
					r.successes++
					got := out.UpdateHolder.Holder.Version
					if got != v+1 {
						r.bad = append(r.bad, fmt.Sprintf("expected version %d answered version %d", v, got))
					}
					r.versions = append(r.versions, got)
					v = got
				case crm.EVERSIONCONFLICT:
					if v, err = readVersion(); err != nil {
						r.bad = append(r.bad, err.Error())
						return
					}
				default:
					r.bad = append(r.bad, code)
				}
			}
		}()
	}
	close(start)
	wg.Wait()

	successes := 0
	var versions []int
	for w, r := range results {
		if len(r.bad) > 0 {
			t.Fatalf("writer %d: unexpected outcomes %v", w, r.bad)
		}
		successes += r.successes
		versions = append(versions, r.versions...)
	}
	final := readHolder(t, s, org, h.ID, false)
	t.Logf("%d of %d updates succeeded, final version %d", successes, writers*calls, final.Version)
	if successes == 0 {
		t.Fatal("no update succeeded")
	}
	if final.Version != 1+successes {
		t.Fatalf("final version %d, want 1 + %d successful updates", final.Version, successes)
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+2 {
			t.Fatalf("successful updates answered versions %v…, want each of 2..%d exactly once", versions[:min(len(versions), i+3)], successes+1)
		}
	}
	for w, r := range results {
		key := fmt.Sprintf("w%02d", w)
		got, ok := final.Metadata[key]
		switch {
		case r.successes == 0 && ok:
			t.Fatalf("writer %d never succeeded but its key is %v", w, got)
		case r.successes > 0 && got != float64(r.successes):
			t.Fatalf("writer %d: metadata %s = %v, want %d (lost update)", w, key, got, r.successes)
		}
	}
	// The untouched fields survived a thousand concurrent merges.
	if final.Name != h.Name || final.Contact["primaryEmail"] != h.Contact["primaryEmail"] || final.Metadata["segment"] != "retail" {
		t.Fatalf("holder after the storm: %+v", final)
	}
}

// testConcurrentAliasAccountCreates: 50 concurrent createAliasAccount for one ledger
// account: exactly one succeeds, the rest are ACCOUNT_ALREADY_LINKED, one row exists.
func testConcurrentAliasAccountCreates(t *testing.T, s *testServer) {
	org := newOrg()
	holders := make([]holderJSON, 5)
	for i := range holders {
		holders[i] = createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": fmt.Sprintf("Racer %d", i), "document": fmt.Sprintf("RACE-%d", i)})
	}
	ledger, account := uuidString(), uuidString()

	const racers = 50
	codes := make([]string, racers)
	winners := make([]string, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var out struct {
				CreateAliasAccount struct{ AliasAccount aliasJSON }
			}
			codes[i] = outcome(s.post(t, org, createAliasMutation, map[string]any{"input": aliasInput(holders[i%len(holders)].ID, ledger, account)}, &out))
			winners[i] = out.CreateAliasAccount.AliasAccount.ID
		}()
	}
	close(start)
	wg.Wait()

	var winner string
	for i, c := range codes {
		switch c {
		case "OK":
			if winner != "" {
				t.Fatalf("two creates succeeded: %s and %s (%v)", winner, winners[i], codes)
			}
			winner = winners[i]
		case crm.EACCOUNTLINKED:
		default:
			t.Fatalf("unexpected outcome %q in %v", c, codes)
		}
	}
	if winner == "" {
		t.Fatalf("no create succeeded: %v", codes)
	}
	var rows int
	if err := s.db.Get(&rows, "SELECT count(*) FROM alias_accounts WHERE account_id = $1", account); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d rows for the ledger account, want 1", rows)
	}
	if got := aliasByLedgerAccount(t, s, org, account); got == nil || got.ID != winner {
		t.Fatalf("hot path = %+v, want %s", got, winner)
	}
}

// testConcurrentRelatedPartyAdds: related parties live in one encrypted value per
// account; 20 concurrent addRelatedParty calls without expectedVersion must all land.
func testConcurrentRelatedPartyAdds(t *testing.T, s *testServer) {
	org := newOrg()
	h := createHolder(t, s, org, naturalPersonInput("Ana Souza", "123.456.789-09"))
	a := createAlias(t, s, org, minimalAliasInput(h.ID, uuidString(), uuidString()))

	const adders = 20
	parallelDo(t, adders, adders, func(i int) error {
		errs := s.post(t, org, addPartyMutation, map[string]any{"input": map[string]any{"aliasAccountId": a.ID,
			"relatedParty": map[string]any{"document": fmt.Sprintf("PARTY-%02d", i), "name": fmt.Sprintf("Party %d", i), "role": "RESPONSIBLE_PARTY", "startDate": "2024-01-01"}}}, nil)
		if len(errs) > 0 {
			return fmt.Errorf("add %d: %+v", i, errs)
		}
		return nil
	})
	got := readAlias(t, s, org, a.ID, false)
	if got.Version != 1+adders || len(got.RelatedParties) != adders {
		t.Fatalf("after %d concurrent adds: version %d, %d parties (lost updates)", adders, got.Version, len(got.RelatedParties))
	}
	for i := range adders {
		if !aliasFoundBy(t, s, org, a.ID, map[string]any{"relatedPartyDocument": fmt.Sprintf("PARTY-%02d", i)}) {
			t.Fatalf("party %d not searchable", i)
		}
	}
}

// raceHolderDelete runs rounds in which a delete of a holder races another call on it
// (setup makes each round's records and returns both calls, each answering its outcome),
// and fails unless every round ends as one of the two orders would: the delete wins (OK,
// the other call NOT_FOUND) or the other call wins (it is OK and the delete
// HOLDER_HAS_ALIAS_ACCOUNTS); and unless no active alias account is ever left under a
// deleted holder.
func raceHolderDelete(t *testing.T, s *testServer, rounds int, setup func(round int) (del, other func() string)) {
	t.Helper()
	seen := map[string]int{}
	for round := range rounds {
		del, other := setup(round)
		var deleteCode, otherCode string
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			deleteCode = del()
		}()
		go func() {
			defer wg.Done()
			<-start
			otherCode = other()
		}()
		close(start)
		wg.Wait()
		switch pair := deleteCode + "/" + otherCode; pair {
		case "OK/" + crm.ENOTFOUND, crm.EHASALIASES + "/OK":
			seen[pair]++
		default:
			t.Fatalf("round %d: the holder's delete %s, the other call %s", round, deleteCode, otherCode)
		}
		var orphans int
		if err := s.db.Get(&orphans, `SELECT count(*) FROM alias_accounts a JOIN holders h ON h.id = a.holder_id
			WHERE a.deleted_at IS NULL AND h.deleted_at IS NOT NULL`); err != nil {
			t.Fatal(err)
		}
		if orphans != 0 {
			t.Fatalf("round %d: %d active alias accounts under a deleted holder", round, orphans)
		}
	}
	t.Logf("outcomes (delete/other): %v", seen)
}

// testConcurrentDeleteHolderAndCreateAlias: a holder's soft delete racing the creation of
// its first alias account never leaves an active alias account under a deleted holder:
// either the delete wins (the create is NOT_FOUND) or the create wins (the delete is
// HOLDER_HAS_ALIAS_ACCOUNTS).
func testConcurrentDeleteHolderAndCreateAlias(t *testing.T, s *testServer) {
	org := newOrg()
	raceHolderDelete(t, s, 20, func(round int) (del, create func() string) {
		h := createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": "Racer", "document": fmt.Sprintf("DEL-%d", round)})
		return func() string { return outcome(s.post(t, org, softDeleteHolderMutation, idInput(h.ID), nil)) },
			func() string {
				return outcome(s.post(t, org, createAliasMutation, map[string]any{"input": minimalAliasInput(h.ID, uuidString(), uuidString())}, nil))
			}
	})
}

// testConcurrentHardDeleteHolderAndRestoreAlias: a holder's hard delete racing the restore
// of its soft-deleted alias account. The two lock the holder and the account; taken in
// opposite orders they deadlocked, and PostgreSQL answered one of them with an error
// (INTERNAL_SERVER_ERROR). Now either the restore wins (the delete is
// HOLDER_HAS_ALIAS_ACCOUNTS: the account is active again) or the delete wins (the restore
// is NOT_FOUND), and no active alias account is left under a deleted holder.
func testConcurrentHardDeleteHolderAndRestoreAlias(t *testing.T, s *testServer) {
	org := newOrg()
	raceHolderDelete(t, s, 60, func(round int) (del, restore func() string) {
		h := createHolder(t, s, org, map[string]any{"type": "NATURAL_PERSON", "name": "Racer", "document": fmt.Sprintf("RESTORE-%d", round)})
		a := createAlias(t, s, org, minimalAliasInput(h.ID, uuidString(), uuidString()))
		softDeleteAlias(t, s, org, a.ID)
		return func() string { return outcome(s.post(t, org, hardDeleteHolderMutation, idInput(h.ID), nil)) },
			func() string { return outcome(s.post(t, org, restoreAliasMutation, idInput(a.ID), nil)) }
	})
}
