// Command bench is the performance harness of issue 7 (`make bench`).
//
// It starts a throw-away PostgreSQL cluster with durable settings (fsync,
// synchronous_commit and full_page_writes on, pg_stat_statements loaded), builds the
// server and runs it as a subprocess on that cluster, loads a deterministic dataset
// through the real storage services (so rows are encrypted exactly as the server
// does), then measures, interleaved and repeated:
//
//  1. pgbench -S -M prepared (select by primary key) — the read reference;
//  2. the hot path aliasAccountByLedgerAccount(accountId) { id holder { id name document } };
//  3. the same lookups, same keys, through a "plain handler + storage" reference server:
//     this program re-executed as `bench -serve-plain` (plain.go), net/http with a
//     JSON handler calling postgres.AliasAccountService directly, no GraphQL — what one
//     HTTP lookup through our storage costs on this machine;
//  4. a page of 100 holders with their alias accounts;
//  5. holderByDocument;
//  6. a single-client run of the hot path and of the reference, and an open-loop run
//     (at half the measured maximum) of the hot path and then of the reference, and
//     one of the reference at half its own maximum (the target's definition applied to
//     a server without GraphQL);
//  7. pgbench -N -M prepared — the write reference — createHolder, and the same
//     holders' creation through the plain reference's second handler
//     (postgres.HolderService.CreateHolder, no GraphQL).
//
// Every API run uses the same closed-loop Go HTTP client at the same concurrency as
// pgbench: by default (-client raw) the harness's own lean HTTP/1.1 client
// (rawclient.go: one persistent connection per worker, one write per request, a
// minimal response parser), since the client shares the machine's cores with the
// server and PostgreSQL while pgbench is a lean C client; -client nethttp runs
// net/http's Client instead. Every measured run's CPU is accounted by process from Linux's /proc
// (cpu.go): the server under test, PostgreSQL (postmaster and children), pgbench, the
// harness itself and the whole machine, as cores and CPU µs per request or
// transaction. Both servers run with DEBUG_ADDR (net/http/pprof) on a free loopback
// port; with -profile (the default) the hot path, page and createHolder runs of the last
// repetition, and the plain references of the hot path and createHolder, are
// CPU-profiled by the server under load, saved to
// bench/profiles/<run>.pprof with a `go tool pprof -top -cum` summary in <run>.txt, and
// broken down by layer in the results. It prints a table and writes bench/results.md
// (bench/results-N.md and bench/profiles/<run>-N.* for other dataset sizes) with the
// medians and the targets of issue 7.
//
//	go run ./bench -holders 100000 -duration 20s -reps 3 -clients 8
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type config struct {
	holders     int
	duration    time.Duration
	warmup      time.Duration
	reps        int
	clients     int
	seed        uint64
	loadWorkers int
	loadMode    string
	client      string // clientRaw or clientNetHTTP
	scale       int
	out         string
	loadOnly    bool
	profile     bool
	// profileDir and profileSuffix place the profiles: <dir>/<run><suffix>.pprof.
	profileDir    string
	profileSuffix string
	serverEnv     []string
	pgSettings    map[string]string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == servePlainFlag {
		os.Exit(servePlain())
	}
	var cfg config
	cfg.pgSettings = map[string]string{}
	flag.IntVar(&cfg.holders, "holders", 100000, "holders in the dataset (each with 3 alias accounts)")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "length of each measured run (whole seconds for pgbench)")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each API run")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of the whole interleaved sequence; medians are reported")
	flag.IntVar(&cfg.clients, "clients", 8, "concurrent clients (pgbench -c/-j and HTTP clients)")
	flag.Uint64Var(&cfg.seed, "seed", 7, "seed of the deterministic dataset")
	flag.IntVar(&cfg.loadWorkers, "load-workers", 4, "goroutines loading the dataset")
	flag.StringVar(&cfg.loadMode, "load", "bulk", "how to load the dataset: bulk (postgres.BulkLoad, COPY) or services (CreateHolder/CreateAliasAccount per row)")
	flag.StringVar(&cfg.client, "client", clientRaw, "load client of the API runs: raw (the harness's lean HTTP/1.1 client, one connection per worker) or nethttp (net/http's Client)")
	flag.IntVar(&cfg.scale, "pgbench-scale", 10, "pgbench -i scale factor")
	flag.StringVar(&cfg.out, "out", "", "results file (default bench/results.md for 100000 holders, bench/results-N.md otherwise; \"-\" for none)")
	flag.BoolVar(&cfg.loadOnly, "load-only", false, "start everything and load the dataset, report the load time, then stop")
	flag.BoolVar(&cfg.profile, "profile", true, "CPU-profile the servers during the hot path, page and createHolder runs of the last repetition and their plain references (bench/profiles/)")
	flag.Func("server-env", "extra KEY=VALUE for the server process (repeatable), e.g. -server-env GOGC=400", func(s string) error {
		if !strings.Contains(s, "=") {
			return errors.New("want KEY=VALUE")
		}
		cfg.serverEnv = append(cfg.serverEnv, s)
		return nil
	})
	flag.Func("pg", "extra PostgreSQL setting name=value (repeatable), e.g. -pg shared_buffers=512MB", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return errors.New("want name=value")
		}
		cfg.pgSettings[k] = v
		return nil
	})
	flag.Parse()
	if cfg.loadMode != "bulk" && cfg.loadMode != "services" {
		fmt.Fprintln(os.Stderr, "bench: -load must be bulk or services")
		os.Exit(2)
	}
	if cfg.client != clientRaw && cfg.client != clientNetHTTP {
		fmt.Fprintln(os.Stderr, "bench: -client must be raw or nethttp")
		os.Exit(2)
	}
	if cfg.holders < 1 || cfg.clients < 1 || cfg.reps < 1 || cfg.duration < time.Second {
		fmt.Fprintln(os.Stderr, "bench: -holders, -clients and -reps must be ≥ 1 and -duration ≥ 1s")
		os.Exit(2)
	}
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if interrupted {
			log.Print("interrupted; everything started was stopped")
			os.Exit(130)
		}
		log.Print(err)
		os.Exit(1)
	}
}

// run does everything; every process and directory it creates is removed before it
// returns, whatever happens.
func run(ctx context.Context, cfg config) (err error) {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(root, "bench", "results.md")
		if cfg.holders != 100000 {
			cfg.out = filepath.Join(root, "bench", fmt.Sprintf("results-%d.md", cfg.holders))
		}
	}
	cfg.profileDir = filepath.Join(root, "bench", "profiles")
	if cfg.holders != 100000 {
		cfg.profileSuffix = fmt.Sprintf("-%d", cfg.holders)
	}
	tmp, err := os.MkdirTemp("", "crm-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	env, err := startEnv(ctx, cfg, root, tmp)
	if env != nil {
		defer env.close()
	}
	if err != nil {
		return err
	}
	if cfg.loadOnly {
		return nil
	}

	res, err := measure(ctx, cfg, env)
	if err != nil {
		return err
	}
	res.rssKB, err = peakRSS(env.server.pid)
	if err != nil {
		log.Printf("peak RSS: %v", err)
	}
	// Before the servers stop and their binaries go: pprof reads their symbols.
	analyseProfiles(ctx, res.profiles)
	rep := buildReport(cfg, env, res)
	fmt.Println()
	fmt.Print(rep.table())
	if cfg.out != "-" {
		if err := os.WriteFile(cfg.out, []byte(rep.markdown()), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s", cfg.out)
	}
	return nil
}

// moduleRoot finds the directory of this module's go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/lerianstudio/crm-registry") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run bench from inside the crm-registry module (go run ./bench)")
		}
		dir = parent
	}
}
