// Command crm-registry serves the CRM registry GraphQL API: the people and companies
// behind Midaz ledger accounts and the business context of each account.
//
// server.go is the composition root: it reads the configuration, opens the database
// (starting the embedded PostgreSQL when DATABASE_URL is unset), wires the services
// into the GraphQL handler and serves HTTP until SIGINT/SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/graph"
	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/config"
	"github.com/lerianstudio/crm-registry/internal/devdb"
	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
	"github.com/lerianstudio/crm-registry/internal/playground"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/telemetry"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck())
	}
	config.ApplyGCDefaults(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, runArgs{Getenv: os.Getenv, DotEnv: ".env", Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "crm-registry:", err)
		os.Exit(1)
	}
}

// runArgs are what run takes from its surroundings, so tests can run the real server.
type runArgs struct {
	Getenv config.Env
	// DotEnv is the .env file read after the environment (and written with development keys).
	DotEnv string
	Stdout io.Writer
	// OnListen, when not nil, is called with the listening address once requests are accepted.
	OnListen func(net.Addr)
}

// run starts the server and blocks until ctx is done, then shuts down gracefully:
// in-flight requests finish, the pool closes, the embedded database stops last.
func run(ctx context.Context, args runArgs) error {
	getenv, dotEnv, stdout, onListen := args.Getenv, args.DotEnv, args.Stdout, args.OnListen
	logger := slog.New(slog.NewJSONHandler(stdout, nil))

	env, err := config.WithDotEnv(getenv, dotEnv)
	if err != nil {
		return err
	}
	if created, err := config.EnsureDevKeys(env, dotEnv); err != nil {
		return fmt.Errorf("development keys: %w", err)
	} else if created {
		logger.Warn("generated development encryption keys into .env; never use them in production", "file", dotEnv)
		if env, err = config.WithDotEnv(getenv, dotEnv); err != nil {
			return err
		}
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	logger = telemetry.NewLogger(stdout, logLevel(cfg.LogLevel))

	var wrapConnector func(driver.Connector) driver.Connector
	if cfg.OTLPEndpoint != "" {
		shutdownTracing, err := telemetry.SetupTracing(ctx, cfg.OTLPEndpoint, cfg.Version)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdownTracing(sctx); err != nil {
				logger.Warn("flush traces", "err", err)
			}
		}()
		wrapConnector = func(c driver.Connector) driver.Connector {
			return postgres.ObserveStatements(c, telemetry.TraceStatement)
		}
		logger.Info("tracing enabled", "otlp_endpoint", withoutCredentials(cfg.OTLPEndpoint))
	}

	dsn := cfg.DatabaseURL
	if dsn == "" {
		cluster, err := startEmbeddedDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer func() { // stopped last, after the HTTP server and the pool
			if err := cluster.Stop(); err != nil {
				logger.Error("stop embedded PostgreSQL", "err", err)
			}
		}()
		dsn = cluster.URL("crm")
	}

	db, err := postgres.Open(ctx, dsn, postgres.Options{
		MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout, WrapConnector: wrapConnector, Driver: cfg.DBDriver,
	})
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.MigrateOnStart {
		if err := postgres.Migrate(ctx, db.DB); err != nil {
			return err
		}
	}

	enc, err := fieldcrypt.New(cfg.EncryptKey, cfg.HashKey, cfg.PreviousEncryptKeys...)
	if err != nil {
		return err
	}
	resolver := &graph.Resolver{
		HolderService:       postgres.NewHolderService(db, enc),
		AliasAccountService: postgres.NewAliasAccountService(db, enc),
	}
	metrics := telemetry.NewMetrics(db.DB)
	var authz auth.Authorizer = auth.Disabled{}
	if cfg.AuthEnabled {
		authz = auth.NewClient(auth.ClientOptions{
			Address: cfg.AuthAddress, ApplicationName: cfg.ApplicationName, Timeout: cfg.AuthTimeout,
			AllowTTL: cfg.AuthCacheAllowTTL, DenyTTL: cfg.AuthCacheDenyTTL, Observe: metrics,
		})
		logger.Info("access control enabled", "access_manager", withoutCredentials(cfg.AuthAddress), "application", cfg.ApplicationName)
	} else {
		logger.Warn("access control disabled (PLUGIN_AUTH_ENABLED=false): every caller may do everything")
	}
	gql := graph.NewHandler(resolver, graph.HandlerOptions{
		Introspection: cfg.EnableIntrospection, Logger: logger, Authorizer: authz, Production: cfg.Production(), Observer: metrics,
		MaxDepth: cfg.QueryDepthLimit, MaxFields: cfg.MaxFields, ComplexityLimit: cfg.ComplexityLimit,
		TokenLimit: cfg.TokenLimit, BodyLimit: cfg.BodyLimit, Tracing: cfg.OTLPEndpoint != "",
	})

	if cfg.DebugAddress != "" {
		stopDebug, err := serveDebug(cfg.DebugAddress, logger)
		if err != nil {
			return err
		}
		defer stopDebug() // after the API has drained, before the pool closes
	}

	srv := &http.Server{
		Handler:           newRouter(cfg, db, gql, metrics, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.ServerAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ServerAddress, err)
	}
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	logger.Info("CRM registry listening", "addr", ln.Addr().String(), "graphiql", cfg.EnablePlayground, "env", cfg.EnvName)
	if onListen != nil {
		onListen(ln.Addr())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// serveDebug starts the profiling listener of DEBUG_ADDR: net/http/pprof's handlers on
// a mux of their own, on their own address, never on the API router. The returned
// function closes it and waits for it; a profile still being taken is cut short, since
// nothing there needs draining.
func serveDebug(addr string, logger *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the index and the named profiles: heap, goroutine, allocs…
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: /debug/pprof/profile?seconds=N answers after N seconds.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("profiling listener stopped", "err", err)
		}
	}()
	logger.Info("profiling listener (net/http/pprof) enabled", "debug_addr", ln.Addr().String())
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// startEmbeddedDB starts (or reuses) the private PostgreSQL cluster under DataDir and
// makes sure the "crm" database exists.
func startEmbeddedDB(ctx context.Context, cfg config.Config, logger *slog.Logger) (*devdb.Cluster, error) {
	logf := func(format string, args ...any) { logger.Info("embedded PostgreSQL: " + fmt.Sprintf(format, args...)) }
	cluster, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(cfg.DataDir, "postgres"), Logf: logf})
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL (set DATABASE_URL to use your own): %w", err)
	}
	var pqErr *pq.Error
	if err := cluster.CreateDatabase(ctx, "crm", ""); err != nil && !(errors.As(err, &pqErr) && pqErr.Code == "42P04") {
		_ = cluster.Stop()
		return nil, fmt.Errorf("embedded PostgreSQL: create database: %w", err)
	}
	logger.Info("embedded PostgreSQL ready", "data_dir", cluster.DataDir(), "port", cluster.Port())
	return cluster, nil
}

// newRouter mounts the HTTP routes: the GraphQL endpoint, the playground and the probes.
func newRouter(cfg config.Config, db *sqlx.DB, gql http.Handler, metrics *telemetry.Metrics, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.RequestID)
	if cfg.OTLPEndpoint != "" {
		r.Use(telemetry.TraceHTTP) // before the access log, so its line carries the trace id
	}
	r.Use(telemetry.AccessLog(logger), metrics.Middleware, middleware.Recoverer)
	r.Method(http.MethodGet, "/metrics", metrics.Handler())

	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", readyHandler(db, readyTimeout))
	r.Get("/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": cfg.Version})
	})

	r.Group(func(r chi.Router) {
		r.Use(middleware.Timeout(cfg.RequestTimeout))
		r.Use(graph.OrganizationMiddleware)
		r.Handle("/graphql", gql)
	})
	if cfg.EnablePlayground {
		gi := playground.New(playground.Options{
			Endpoint: "/graphql", AssetsDir: cfg.PlaygroundAssetsDir, Logger: logger,
			Headers: map[string]string{graph.OrganizationHeader: "00000000-0000-0000-0000-000000000001"},
		})
		r.Handle("/graphiql", gi)
		r.Handle("/graphiql/*", gi)
		r.Get("/", http.RedirectHandler("/graphiql", http.StatusFound).ServeHTTP)
	}
	return r
}

// readyTimeout bounds /readyz's database ping.
const readyTimeout = 2 * time.Second

// readyHandler answers /readyz: 200 when a ping of db succeeds within timeout, else 503.
// The ping runs beside the answer: lib/pq does not stop a read at the context's deadline
// (the connection's own I/O deadline, the statement timeout and a margin, ends it), and
// a probe must be answered in its time, not the database's. A ping left behind ends at
// that deadline.
func readyHandler(db *sqlx.DB, timeout time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		pinged := make(chan error, 1)
		go func() { pinged <- db.PingContext(ctx) }()
		var err error
		select {
		case err = <-pinged:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// withoutCredentials is a configured address as the log may show it: a URL without its
// user information, query and fragment, where a deployment may have put a password or a
// token (?api_key=…). What does not parse as a URL is not shown at all.
func withoutCredentials(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "(not a URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// healthcheck probes /health of the server running in this container (distroless
// images have no curl): exit status 0 when it answers 200.
func healthcheck() int {
	env, err := config.WithDotEnv(os.Getenv, ".env")
	if err != nil {
		return 1
	}
	addr := env("SERVER_ADDRESS")
	if addr == "" {
		addr = ":4003"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 1
	}
	scheme, client := "http", &http.Client{Timeout: 3 * time.Second}
	if env("TLS_CERT_FILE") != "" {
		// The probe only checks liveness on loopback; the certificate names the public host.
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback liveness probe
	}
	resp, err := client.Get(scheme + "://127.0.0.1:" + port + "/health")
	if err != nil {
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
