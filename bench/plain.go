package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	serverconfig "github.com/lerianstudio/crm-registry/internal/config"
	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/postgres"
)

// servePlainFlag, as the first argument, runs this program as the plain reference
// server instead of the harness. It is not a flag of the flag package, so -help does
// not list it: only the harness starts it.
const servePlainFlag = "-serve-plain"

// servePlain is the "plain handler + storage" reference: what one HTTP lookup through
// the storage service costs on this machine without GraphQL. It reads the server's
// configuration from the environment the harness gives the real server (config.Load:
// DATABASE_URL, keys, DB_MAX_CONNS, DB_DRIVER, DB_STATEMENT_TIMEOUT, DEBUG_ADDR), opens
// the database as server.go does, with the server's GC settings, and serves
//
//	POST /lookup {"accountId": "…"} → {"id": "…", "holder": {"id": "…", "name": "…", "document": "…"}}
//
// through postgres.AliasAccountService.FindAliasAccountByLedgerAccount under the read
// scope the hot path's query gets (the holder's personal data, nothing of the alias
// account), and
//
//	POST /holders <createHolder's input> → {"id": "…"}
//
// through postgres.HolderService.CreateHolder (what the createHolder mutation's resolver
// calls), plus GET /readyz, until SIGTERM. It returns the exit status.
func servePlain() int {
	serverconfig.ApplyGCDefaults(os.Getenv) // as the server's main does
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := plainServe(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench -serve-plain:", err)
		return 1
	}
	return 0
}

// plainServe serves until ctx is done.
func plainServe(ctx context.Context) error {
	cfg, err := serverconfig.Load(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	// The options server.go passes (it adds WrapConnector only when tracing is on, and
	// the harness turns tracing off).
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{
		MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout, Driver: cfg.DBDriver,
	})
	if err != nil {
		return err
	}
	defer db.Close()
	enc, err := fieldcrypt.New(cfg.EncryptKey, cfg.HashKey, cfg.PreviousEncryptKeys...)
	if err != nil {
		return err
	}
	h := plainHandler{aliases: postgres.NewAliasAccountService(db, enc), holders: postgres.NewHolderService(db, enc)}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /lookup", h.lookup)
	mux.HandleFunc("POST /holders", h.createHolder)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := db.PingContext(r.Context()); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ln, err := net.Listen("tcp", cfg.ServerAddress)
	if err != nil {
		return err
	}
	if cfg.DebugAddress != "" { // as server.go: pprof on a listener of its own
		dln, err := net.Listen("tcp", cfg.DebugAddress)
		if err != nil {
			return err
		}
		dmux := http.NewServeMux()
		dmux.HandleFunc("/debug/pprof/", pprof.Index)
		dmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dsrv := &http.Server{Handler: dmux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = dsrv.Serve(dln) }()
		defer dsrv.Close()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// plainHandler answers the reference requests.
type plainHandler struct {
	aliases *postgres.AliasAccountService
	holders *postgres.HolderService
}

// plainScope is the read scope gqlgen's handler derives for the hot path's selection
// (graph/scope.go): holder name and document are personal data; id and holder of the
// alias account need none of its costly parts.
var plainScope = crm.ReadScope{Holder: crm.PersonalData}

type plainRequest struct {
	AccountID uuid.UUID `json:"accountId"`
}

type plainResponse struct {
	ID     uuid.UUID   `json:"id"`
	Holder plainHolder `json:"holder"`
}

type plainHolder struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	Document string    `json:"document"`
}

// readPlainRequest reads a reference request: the organization header, checked as
// graph.OrganizationMiddleware checks it, and the JSON body into v. It returns the
// request's context acting for that organization; on false it has answered 400 (with
// usage for a body it could not decode).
func readPlainRequest(w http.ResponseWriter, r *http.Request, v any, usage string) (context.Context, bool) {
	org, err := uuid.Parse(r.Header.Get("X-Organization-Id"))
	if err != nil || org == uuid.Nil {
		http.Error(w, "X-Organization-Id must be a UUID", http.StatusBadRequest)
		return nil, false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, usage, http.StatusBadRequest)
		return nil, false
	}
	return crm.NewContextWithOrganization(r.Context(), org), true
}

// plainFailed answers a storage error by its code only: a message may quote input.
func plainFailed(w http.ResponseWriter, err error) {
	http.Error(w, "failed: "+crm.ErrorCode(err), http.StatusInternalServerError)
}

func (h plainHandler) lookup(w http.ResponseWriter, r *http.Request) {
	var in plainRequest
	ctx, ok := readPlainRequest(w, r, &in, `body must be {"accountId": "<uuid>"}`)
	if !ok {
		return
	}
	a, err := h.aliases.FindAliasAccountByLedgerAccount(crm.NewContextWithReadScope(ctx, plainScope), in.AccountID)
	switch {
	case crm.ErrorCode(err) == crm.ENOTFOUND:
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		plainFailed(w, err)
		return
	case a.Holder == nil:
		http.Error(w, "the alias account came without its holder", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(plainResponse{
		ID:     a.ID,
		Holder: plainHolder{ID: a.Holder.ID, Name: a.Holder.Name, Document: a.Holder.Document},
	})
}

// plainWorkload is the hot path's lookup as a request to the plain reference server:
// the same random choices as hotPathWorkload, so the same seed gives the same keys.
func plainWorkload(d *dataset) workload {
	marker := []byte(`"holder":{"id":"`)
	return workload{
		name: runPlain,
		body: func(r *rand.Rand, buf []byte) []byte {
			id := accountID(d.seed, r.IntN(d.holders), r.IntN(aliasesPerHolder))
			buf = append(buf, `{"accountId":"`...)
			buf = append(buf, id.String()...)
			return append(buf, `"}`...)
		},
		ok: func(b []byte) bool { return bytes.Contains(b, marker) },
	}
}

// plainCreateInput is createHolder's input as JSON, with the GraphQL input's field
// names (the nested types are the domain's, whose JSON names are the same).
type plainCreateInput struct {
	Type          crm.HolderType     `json:"type"`
	Name          string             `json:"name"`
	Document      string             `json:"document"`
	ExternalID    *string            `json:"externalId"`
	Addresses     *crm.Addresses     `json:"addresses"`
	Contact       *crm.Contact       `json:"contact"`
	NaturalPerson *crm.NaturalPerson `json:"naturalPerson"`
	LegalPerson   *crm.LegalPerson   `json:"legalPerson"`
	Metadata      crm.Metadata       `json:"metadata"`
}

// createHolder creates the holder the body describes through the storage service, as
// the createHolder resolver does, and answers its id.
func (h plainHandler) createHolder(w http.ResponseWriter, r *http.Request) {
	var in plainCreateInput
	ctx, ok := readPlainRequest(w, r, &in, "body must be createHolder's input as JSON")
	if !ok {
		return
	}
	holder := &crm.Holder{
		Type: in.Type, Name: in.Name, Document: in.Document, ExternalID: in.ExternalID, Addresses: in.Addresses,
		Contact: in.Contact, NaturalPerson: in.NaturalPerson, LegalPerson: in.LegalPerson, Metadata: in.Metadata,
	}
	if err := h.holders.CreateHolder(ctx, holder); err != nil {
		plainFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		ID uuid.UUID `json:"id"`
	}{holder.ID})
}

// plainCreateWorkload is createHolder's input posted to the plain reference server:
// the same holders as createWorkload's (with documents of their own).
func plainCreateWorkload(d *dataset) workload {
	marker := []byte(`{"id":"`)
	return workload{
		name: runPlainCreate,
		body: func(r *rand.Rand, buf []byte) []byte { return appendCreateInput(buf, r, d) },
		ok:   func(b []byte) bool { return bytes.HasPrefix(b, marker) },
	}
}
