package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/postgres"
)

const aliasesPerHolder = 3

// dataset describes what was loaded, so workloads can pick existing keys without
// keeping them: documents and account ids are functions of (seed, index).
type dataset struct {
	seed    uint64
	holders int
	// pageCursors are cursors of holders with at least 100 holders after them (random
	// pages), read back after loading since ids are assigned by the service.
	pageCursors []string
	// nextDocument numbers the fresh documents of createHolder runs.
	nextDocument atomic.Int64
}

// document is the tax id of holder i.
func document(i int) string { return fmt.Sprintf("%011d", i) }

// accountID is the Midaz account id of alias account j of holder i.
func accountID(seed uint64, i, j int) uuid.UUID {
	r := rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(i)*aliasesPerHolder+uint64(j))
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// ledgerIDs are the few ledgers the accounts live in.
var ledgerIDs = []uuid.UUID{
	uuid.MustParse("0190b2a0-0000-7000-8000-000000000001"),
	uuid.MustParse("0190b2a0-0000-7000-8000-000000000002"),
	uuid.MustParse("0190b2a0-0000-7000-8000-000000000003"),
	uuid.MustParse("0190b2a0-0000-7000-8000-000000000004"),
}

var (
	firstNames = []string{"Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
		"Karina", "Lucas", "Mariana", "Nicolas", "Olívia", "Pedro", "Rafaela", "Samuel", "Tatiana", "Vinícius"}
	lastNames = []string{"Silva", "Souza", "Oliveira", "Santos", "Pereira", "Lima", "Carvalho", "Ferreira", "Rodrigues", "Almeida",
		"Costa", "Gomes", "Martins", "Araújo", "Barbosa", "Ribeiro", "Alves", "Cardoso", "Rocha", "Dias"}
	cities    = []string{"São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Recife", "Salvador", "Fortaleza"}
	streets   = []string{"Rua Augusta", "Av. Paulista", "Rua Oscar Freire", "Av. Brasil", "Rua das Flores", "Av. Atlântica"}
	companies = []string{"Comércio", "Serviços", "Tecnologia", "Logística", "Alimentos", "Consultoria"}
)

func ptr[T any](v T) *T { return &v }

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// holder generates holder i: deterministic for (seed, i), about the size of a real
// record (addresses, contact, person details, metadata); one in ten is a company.
func holder(seed uint64, i int) *crm.Holder {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	first, last := pick(r, firstNames), pick(r, lastNames)
	city := pick(r, cities)
	h := &crm.Holder{
		Type:       crm.NaturalPersonType,
		Name:       first + " " + pick(r, lastNames) + " " + last,
		Document:   document(i),
		ExternalID: ptr(fmt.Sprintf("ext-%d", i)),
		Addresses: &crm.Addresses{Primary: &crm.Address{
			Line1: ptr(fmt.Sprintf("%s %d", pick(r, streets), 1+r.IntN(3000))), Line2: ptr(fmt.Sprintf("Apto %d", 1+r.IntN(200))),
			ZipCode: ptr(fmt.Sprintf("%05d-%03d", r.IntN(100000), r.IntN(1000))), City: ptr(city), State: ptr("SP"),
			Country: ptr("BR"), Description: ptr("home"),
		}},
		Contact: &crm.Contact{
			PrimaryEmail: ptr(fmt.Sprintf("%s.%s.%d@example.com", first, last, i)),
			MobilePhone:  ptr(fmt.Sprintf("+55 11 9%04d-%04d", r.IntN(10000), r.IntN(10000))),
		},
		Metadata: crm.Metadata{"segment": pick(r, []string{"retail", "private", "corporate"}), "score": float64(r.IntN(1000)) / 10},
	}
	if i%10 == 9 {
		h.Type = crm.LegalPersonType
		h.Name = last + " " + pick(r, companies) + " Ltda"
		h.LegalPerson = &crm.LegalPerson{
			TradeName: ptr(last + " " + pick(r, companies)), Activity: ptr("Retail"), Type: ptr("LTDA"),
			FoundingDate: ptr(crm.NewDate(1970+r.IntN(50), time.Month(1+r.IntN(12)), 1+r.IntN(28))), Size: ptr("small"), Status: ptr("active"),
			Representative: &crm.Representative{Name: ptr(first + " " + last), Document: ptr(fmt.Sprintf("%011d", r.IntN(1e9))),
				Email: ptr(fmt.Sprintf("%s@example.com", first)), Role: ptr("CEO")},
		}
	} else {
		h.NaturalPerson = &crm.NaturalPerson{
			FavoriteName: ptr(first), Gender: ptr(pick(r, []string{"female", "male"})),
			BirthDate: ptr(crm.NewDate(1940+r.IntN(65), time.Month(1+r.IntN(12)), 1+r.IntN(28))), CivilStatus: ptr("single"),
			Nationality: ptr("Brazilian"), MotherName: ptr(pick(r, firstNames) + " " + last), Status: ptr("active"),
		}
	}
	return h
}

// alias generates alias account j of holder h (holder i): banking details, a
// participant document and the holder as PRIMARY_HOLDER.
func alias(seed uint64, i, j int, h *crm.Holder) *crm.AliasAccount {
	r := rand.New(rand.NewPCG(seed^0x5bd1e995, uint64(i)*aliasesPerHolder+uint64(j)))
	opening := crm.NewDate(2000+r.IntN(24), time.Month(1+r.IntN(12)), 1+r.IntN(28))
	return &crm.AliasAccount{
		HolderID:  h.ID,
		LedgerID:  ledgerIDs[(i+j)%len(ledgerIDs)],
		AccountID: accountID(seed, i, j),
		BankingDetails: &crm.BankingDetails{
			Branch: ptr(fmt.Sprintf("%04d", r.IntN(10000))), Account: ptr(fmt.Sprintf("%08d-%d", r.IntN(1e8), r.IntN(10))),
			Type: ptr("CACC"), OpeningDate: &opening, CountryCode: ptr("BR"), BankID: ptr("341"),
		},
		RegulatoryFields: &crm.RegulatoryFields{ParticipantDocument: ptr(fmt.Sprintf("%014d", r.IntN(1e9)))},
		RelatedParties: []*crm.RelatedParty{{
			Document: h.Document, Name: h.Name, Role: crm.PrimaryHolder, StartDate: opening,
		}},
		Metadata: crm.Metadata{"product": pick(r, []string{"checking", "savings", "payments"})},
	}
}

// loadDataset loads cfg.holders holders with 3 alias accounts each, encrypted exactly
// as the server encrypts them: with -load bulk (the default) through postgres.BulkLoad,
// which validates and maps every record with the services' own toRow and stores chunks
// of 500 holders with COPY; with -load services through CreateHolder and
// CreateAliasAccount, one row and one commit at a time (about 8× slower). Either way
// from cfg.loadWorkers goroutines, on connections that commit with
// synchronous_commit=off, a per-session setting that only skips waiting for the WAL
// flush: the cluster stays durable for the measurements.
func loadDataset(ctx context.Context, dbURL string, enc *fieldcrypt.AEAD, cfg config) (*dataset, time.Duration, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, 0, err
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String(), postgres.Options{MaxConns: cfg.loadWorkers})
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	var syncCommit string
	if err := db.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&syncCommit); err != nil {
		return nil, 0, err
	}
	holders := postgres.NewHolderService(db, enc)
	aliases := postgres.NewAliasAccountService(db, enc)
	octx := crm.NewContextWithOrganization(ctx, benchOrg)

	log.Printf("loading %d holders × (1 + %d alias accounts): %s, %d workers, synchronous_commit=%s", cfg.holders, aliasesPerHolder,
		cfg.loadMode, cfg.loadWorkers, syncCommit)
	began := time.Now()
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	lctx, cancel := context.WithCancel(octx)
	defer cancel()
	// loadChunk stores holders lo..hi-1 with their alias accounts.
	loadChunk := func(lo, hi int) error {
		if cfg.loadMode == "bulk" {
			hs := make([]*crm.Holder, 0, hi-lo)
			as := make([]*crm.AliasAccount, 0, (hi-lo)*aliasesPerHolder)
			for i := lo; i < hi; i++ {
				h := holder(cfg.seed, i)
				h.ID = uuid.Must(uuid.NewV7())
				hs = append(hs, h)
				for j := range aliasesPerHolder {
					as = append(as, alias(cfg.seed, i, j, h))
				}
			}
			if err := postgres.BulkLoad(lctx, db, enc, hs, as); err != nil {
				return fmt.Errorf("holders %d..%d: %w", lo, hi-1, err)
			}
			return nil
		}
		for i := lo; i < hi; i++ {
			h := holder(cfg.seed, i)
			if err := holders.CreateHolder(lctx, h); err != nil {
				return fmt.Errorf("holder %d: %w", i, err)
			}
			for j := range aliasesPerHolder {
				if err := aliases.CreateAliasAccount(lctx, alias(cfg.seed, i, j, h)); err != nil {
					return fmt.Errorf("alias account %d/%d: %w", i, j, err)
				}
			}
		}
		return nil
	}
	chunk := 1
	if cfg.loadMode == "bulk" {
		chunk = 500
	}
	// loadUpTo loads holders next..hi-1 from cfg.loadWorkers goroutines, chunk by chunk.
	loadUpTo := func(hi int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range cfg.loadWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for lctx.Err() == nil {
					mu.Lock()
					lo := int(next.Load())
					end := min(lo+chunk, hi)
					next.Store(int64(max(lo, end)))
					mu.Unlock()
					if lo >= end {
						return
					}
					if err := loadChunk(lo, end); err != nil {
						errOnce.Do(func() { firstErr = err; cancel() })
						return
					}
					done.Add(int64(end - lo))
				}
			}()
		}
		wg.Wait()
	}
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				n := done.Load()
				el := time.Since(began)
				log.Printf("  loaded %d/%d holders (%.0f holders/s)", n, cfg.holders, float64(n)/el.Seconds())
			}
		}
	}()
	// Statistics early: on a table never analyzed, the planner answers createAliasAccount's
	// "SELECT … FROM holders WHERE organization_id = $1 AND id = $2 … FOR SHARE" through
	// the partial unique index on (organization_id, document_hash), i.e. by scanning
	// every holder of the organization, and loading slows down as the table grows.
	loadUpTo(min(cfg.holders, 1000))
	if firstErr == nil && ctx.Err() == nil {
		for _, q := range []string{"ANALYZE holders", "ANALYZE alias_accounts"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return nil, 0, fmt.Errorf("%s: %w", q, err)
			}
		}
		loadUpTo(cfg.holders)
	}
	close(stopProgress)
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	took := time.Since(began)
	log.Printf("loaded %d holders and %d alias accounts in %v (%.0f holders/s)", cfg.holders, cfg.holders*aliasesPerHolder,
		took.Round(time.Millisecond), float64(cfg.holders)/took.Seconds())
	d := &dataset{seed: cfg.seed, holders: cfg.holders}
	d.nextDocument.Store(int64(cfg.holders))
	return d, took, nil
}

// pageCursors returns the cursors of the holders that have at least 100 holders after
// them, in id order (ids are UUIDv7, so a sample of every 7th one is plenty).
func pageCursors(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM holders WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY id", benchOrg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for k := 0; k+100 < len(ids); k += 7 {
		out = append(out, crm.Cursor(ids[k]))
	}
	return out, nil
}
