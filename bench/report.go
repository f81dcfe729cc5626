package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	serverconfig "github.com/lerianstudio/crm-registry/internal/config"
)

// row is one line of the results table: medians over the repetitions.
type row struct {
	name       string
	ref        bool // a pgbench reference
	throughput float64
	p50, p99   time.Duration
	avg        time.Duration // pgbench: average latency
	ratio      float64       // median of the per-repetition ratios to the reference; 0 = none
	ratioTo    string
	sqlPerReq  float64 // -1 = not measured
	requests   int64
	failures   int64
	firstErr   string
	rate       float64 // open loop: offered rate (median)
}

// summary is what another run (the 1M check) compares with; embedded in results.md.
type summary struct {
	Holders     int     `json:"holders"`
	Clients     int     `json:"clients"`
	HotRPS      float64 `json:"hotRps"`
	HotP50us    float64 `json:"hotP50us"`
	HotP99us    float64 `json:"hotP99us"`
	SingleP50us float64 `json:"singleP50us"`
	OpenP99us   float64 `json:"openP99us"`
}

const summaryTag = "<!-- bench-summary "

type target struct {
	what, want, got string
	met             *bool // nil: not judged by this run
}

type report struct {
	cfg     config
	env     *env
	m       *measurement
	rows    []row
	targets []target
	sum     summary
	when    time.Time
	// hotVsPlain is the median per-repetition ratio of hot path to plain reference
	// throughput.
	hotVsPlain float64
	// createVsPlain is the same for createHolder and the plain reference's createHolder.
	createVsPlain float64
}

// perRep returns f of every repetition, leaving out zeros.
func perRep(m *measurement, f func(rep) float64) []float64 {
	var out []float64
	for _, x := range m.reps {
		if v := f(x); v > 0 {
			out = append(out, v)
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianDur(xs []time.Duration) time.Duration {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return time.Duration(median(f))
}

func buildReport(cfg config, e *env, m *measurement) *report {
	r := &report{cfg: cfg, env: e, m: m, when: time.Now().UTC()}
	refRow := func(name string, get func(rep) pgbenchResult) row {
		var tps []float64
		var avg []time.Duration
		out := row{name: name + " (reference)", ref: true, sqlPerReq: -1}
		for _, x := range m.reps {
			p := get(x)
			tps, avg = append(tps, p.tps), append(avg, p.latencyAvg)
			out.failures += p.failed
			out.requests += p.processed
		}
		out.throughput, out.avg = median(tps), medianDur(avg)
		return out
	}
	apiRow := func(name, label string, ref func(rep) float64, refName string) row {
		var rps, ratios []float64
		var p50, p99 []time.Duration
		var stmts int64
		out := row{name: label, ratioTo: refName}
		var rates []float64
		for _, x := range m.reps {
			res, ok := x.api[name]
			if !ok {
				continue
			}
			rps = append(rps, res.throughput())
			p50, p99 = append(p50, res.percentile(0.50)), append(p99, res.percentile(0.99))
			if ref != nil && ref(x) > 0 {
				ratios = append(ratios, res.throughput()/ref(x))
			}
			stmts += res.stmts
			out.requests += res.requests
			out.failures += res.failures
			if out.firstErr == "" {
				out.firstErr = res.firstErr
			}
			rates = append(rates, res.rate)
		}
		out.throughput, out.p50, out.p99, out.ratio, out.rate = median(rps), medianDur(p50), medianDur(p99), median(ratios), median(rates)
		out.sqlPerReq = -1
		if out.requests > 0 {
			out.sqlPerReq = float64(stmts) / float64(out.requests)
		}
		return out
	}
	sel := func(x rep) float64 { return x.selectRef.tps }
	wr := func(x rep) float64 { return x.writeRef.tps }
	selectRow := refRow(runSelectRef, func(x rep) pgbenchResult { return x.selectRef })
	hot := apiRow(runHot, runHot, sel, runSelectRef)
	plain := apiRow(runPlain, runPlain+" (reference)", sel, runSelectRef)
	page := apiRow(runPage, runPage, sel, runSelectRef)
	byDoc := apiRow(runByDoc, runByDoc, sel, runSelectRef)
	single := apiRow(runSingle, runSingle, nil, "")
	plainSingle := apiRow(runPlainSingle, runPlainSingle+" (reference)", nil, "")
	open := apiRow(runOpen, runOpen, nil, "")
	open.name = fmt.Sprintf("%s @ %.0f req/s", runOpen, open.rate)
	plainOpen := apiRow(runPlainOpen, runPlainOpen, nil, "")
	plainOpen.name = fmt.Sprintf("%s @ %.0f req/s (reference)", runPlainOpen, plainOpen.rate)
	plainOpenHalf := apiRow(runPlainOpenHalf, runPlainOpenHalf, nil, "")
	plainOpenHalf.name = fmt.Sprintf("%s @ %.0f req/s (reference)", runPlainOpenHalf, plainOpenHalf.rate)
	writeRow := refRow(runWriteRef, func(x rep) pgbenchResult { return x.writeRef })
	create := apiRow(runCreate, runCreate, wr, runWriteRef)
	plainCreate := apiRow(runPlainCreate, runPlainCreate+" (reference)", wr, runWriteRef)
	r.rows = []row{selectRow, hot, plain, page, byDoc, single, plainSingle, open, plainOpen, plainOpenHalf, writeRow, create, plainCreate}
	vsPlain := func(api, plain string) float64 {
		return median(perRep(m, func(x rep) float64 {
			if p := x.api[plain].throughput(); p > 0 {
				return x.api[api].throughput() / p
			}
			return 0
		}))
	}
	r.hotVsPlain, r.createVsPlain = vsPlain(runHot, runPlain), vsPlain(runCreate, runPlainCreate)

	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	r.sum = summary{Holders: cfg.holders, Clients: cfg.clients, HotRPS: hot.throughput, HotP50us: us(hot.p50), HotP99us: us(hot.p99),
		SingleP50us: us(single.p50), OpenP99us: us(open.p99)}

	judge := func(ok bool) *bool { return &ok }
	noFail := func(x row) bool { return x.failures == 0 && x.requests > 0 }
	r.targets = []target{
		{"Hot path throughput", "≥ 0.45× pgbench -S", fmt.Sprintf("%.3f×", hot.ratio), judge(hot.ratio >= 0.45 && noFail(hot))},
		{"Hot path, single client p50", "≤ 0.5 ms", fmtDur(single.p50), judge(single.p50 <= 500*time.Microsecond && noFail(single))},
		{"Hot path p99, open loop at half the max rate", "≤ 5 ms", fmt.Sprintf("%s @ %.0f req/s", fmtDur(open.p99), open.rate),
			judge(open.p99 <= 5*time.Millisecond && noFail(open))},
		{"Page of 100 with alias accounts: SQL statements", "exactly 2", fmt.Sprintf("%.3f", page.sqlPerReq), judge(page.sqlPerReq == 2)},
		{"Page of 100 with alias accounts: throughput", "≥ 0.08× pgbench -S", fmt.Sprintf("%.3f×", page.ratio), judge(page.ratio >= 0.08 && noFail(page))},
		{"createHolder throughput", "≥ 0.7× pgbench -N", fmt.Sprintf("%.3f×", create.ratio), judge(create.ratio >= 0.7 && noFail(create))},
		r.millionTarget(),
		{"Peak RSS of the server under load", "≤ 150 MB", fmt.Sprintf("%.1f MB", float64(m.rssKB)/1024), judge(m.rssKB > 0 && m.rssKB <= 150*1024)},
	}
	return r
}

// millionTarget compares the hot path's latency at 1M holders with the 100k run, using
// the summary embedded in the other size's results file when it exists.
func (r *report) millionTarget() target {
	t := target{what: "Hot path latency with 1M holders", want: "≤ 1.2× the 100k figure (single-client p50)"}
	dir := filepath.Dir(r.cfg.out)
	var base, big summary
	switch r.cfg.holders {
	case 100000:
		other, err := readSummary(filepath.Join(dir, "results-1000000.md"))
		if err != nil {
			t.got = "no 1M run yet (go run ./bench -holders 1000000)"
			return t
		}
		base, big = r.sum, other
	case 1000000:
		other, err := readSummary(filepath.Join(dir, "results.md"))
		if err != nil || other.Holders != 100000 {
			t.got = "no 100k run to compare with (bench/results.md)"
			return t
		}
		base, big = other, r.sum
	default:
		t.got = "n/a for this dataset size"
		return t
	}
	if base.SingleP50us <= 0 {
		t.got = "no 100k figure"
		return t
	}
	x := big.SingleP50us / base.SingleP50us
	t.got = fmt.Sprintf("%.2f× (p50 %.0f µs vs %.0f µs; 8-client p50 %.0f vs %.0f µs)", x, big.SingleP50us, base.SingleP50us, big.HotP50us, base.HotP50us)
	ok := x <= 1.2
	t.met = &ok
	return t
}

func readSummary(path string) (summary, error) {
	var s summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	_, rest, ok := strings.Cut(string(b), summaryTag)
	if !ok {
		return s, fmt.Errorf("%s: no summary", path)
	}
	js, _, _ := strings.Cut(rest, " -->")
	return s, json.Unmarshal([]byte(js), &s)
}

func fmtDur(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

func (x row) cells() []string {
	c := []string{x.name, fmt.Sprintf("%.0f", x.throughput)}
	if x.ref {
		c = append(c, "—", "—", fmtDur(x.avg), "1", "—")
	} else {
		ratio := "—"
		if x.ratioTo != "" {
			ratio = fmt.Sprintf("%.3f× %s", x.ratio, x.ratioTo)
		}
		sql := "—"
		if x.sqlPerReq >= 0 {
			sql = fmt.Sprintf("%.2f", x.sqlPerReq)
		}
		c = append(c, fmtDur(x.p50), fmtDur(x.p99), "—", ratio, sql)
	}
	return append(c, fmt.Sprintf("%d/%d", x.failures, x.requests))
}

var header = []string{"workload", "req/s (median)", "p50", "p99", "avg", "ratio", "SQL/req", "failed/total"}

func (r *report) table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, x := range r.rows {
		fmt.Fprintln(tw, strings.Join(x.cells(), "\t"))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nserver peak RSS (VmHWM): %.1f MB\n\ntargets (issue 7):\n", float64(r.m.rssKB)/1024)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, t := range r.targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.what, t.want, t.got, verdict(t.met))
	}
	tw.Flush()
	b.WriteString(cpuTableText(r.m))
	if head, rows := r.profileTable(); len(rows) > 0 {
		fmt.Fprintf(&b, "\nserver CPU by layer, last repetition (flat: each sample once, first group from the leaf; cumulative in parentheses):\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(head, "\t"))
		for _, c := range rows {
			fmt.Fprintln(tw, "  "+strings.Join(c, "\t"))
		}
		tw.Flush()
	}
	for _, pr := range r.m.profiles {
		if pr.err != nil {
			fmt.Fprintf(&b, "\n%s: profile: %v\n", pr.run, pr.err)
		} else if pr.text != "" {
			fmt.Fprintf(&b, "profile of %s: %s (summary %s)\n", pr.run, pr.file, pr.text)
		}
	}
	for _, x := range r.rows {
		if x.failures > 0 && x.firstErr != "" {
			fmt.Fprintf(&b, "\n%s: first failure: %s\n", x.name, x.firstErr)
		}
	}
	return b.String()
}

// profileTable is the CPU breakdown of the profiled runs: a header, then one row per
// group, "other", and the totals. No rows when no profile was analysed.
func (r *report) profileTable() ([]string, [][]string) {
	var runs []profileRun
	for _, pr := range r.m.profiles {
		if pr.err == nil && pr.profile != nil {
			runs = append(runs, pr)
		}
	}
	if len(runs) == 0 {
		return nil, nil
	}
	head := []string{"group (flat, cumulative)"}
	for _, pr := range runs {
		head = append(head, pr.run)
	}
	var rows [][]string
	pct := func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
	for g, grp := range cpuGroups {
		c := []string{grp.name}
		for _, pr := range runs {
			c = append(c, fmt.Sprintf("%s (%s)", pct(pr.profile.flat[g]), pct(pr.profile.cum[g])))
		}
		rows = append(rows, c)
	}
	other := []string{"other"}
	sys := []string{"of all samples: in system calls (cumulative)"}
	cores := []string{"server CPU during the profile"}
	perReq := []string{"server CPU per request (at the run's req/s)"}
	samples := []string{"samples"}
	for _, pr := range runs {
		b := pr.profile
		other = append(other, pct(b.flat[len(cpuGroups)]))
		sys = append(sys, pct(b.syscall))
		cores = append(cores, fmt.Sprintf("%.2f cores (%.1f s in %.1f s)", b.cores(), b.cpu.Seconds(), b.wall.Seconds()))
		perReq = append(perReq, fmt.Sprintf("%.0f µs at %.0f req/s", float64(b.perRequest(pr.rps))/float64(time.Microsecond), pr.rps))
		samples = append(samples, fmt.Sprintf("%d", b.samples))
	}
	return head, append(rows, other, sys, cores, perReq, samples)
}

// relPath is path relative to the directory of the results file, when it can be.
func (r *report) relPath(path string) string {
	if rel, err := filepath.Rel(filepath.Dir(r.cfg.out), path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// profileMarkdown writes the section on where the server's CPU goes.
func (r *report) profileMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## Where the server's CPU goes\n\n")
	if !r.cfg.profile {
		fmt.Fprintf(b, "Not profiled (`-profile=false`).\n")
		return
	}
	fmt.Fprintf(b, "CPU profiles taken by each server process (`/debug/pprof/profile?seconds=%d` on its `DEBUG_ADDR`) while under load, in the measured runs of the last repetition, the window centred in the run:",
		profileSeconds(r.cfg.duration))
	for _, pr := range r.m.profiles {
		switch {
		case pr.err != nil:
			fmt.Fprintf(b, " %s: **no profile**: `%s`;", pr.run, strings.ReplaceAll(strings.TrimSpace(pr.err.Error()), "`", "'"))
		case pr.text != "":
			fmt.Fprintf(b, " %s: `%s`, summary [`%s`](%s);", pr.run, r.relPath(pr.file), filepath.Base(pr.text), r.relPath(pr.text))
		}
	}
	fmt.Fprintf(b, " the summaries are `go tool pprof -top -cum -nodecount 60 <binary> <profile>`, the `.pprof` files are git-ignored. A profile covers one process: PostgreSQL, pgbench and the load client share the machine's %d cores with it, and are not in it (their CPU is in the previous section).\n\n", runtime.NumCPU())
	fmt.Fprintf(b, "Method: each sample is counted once (*flat*), for the first group met walking its stack from the leaf (the function on the CPU) towards the root; samples in none are *other*, and the flat shares of a column sum to 100%%. "+
		"So allocation and GC count for *GC + runtime* whoever allocated, a layer's own code counts for that layer, and a system call counts for the layer that made it (a socket read under lib/pq for the driver, a response write for HTTP). "+
		"In parentheses, *cumulative*: the share of samples with a function of the group anywhere on the stack; cumulative shares overlap and do not add up (every request runs under net/http, every driver call under `internal/postgres`, so *decryption + blob decoding*'s cumulative share includes the driver's). "+
		"CPU per request = the profile's CPU time / (the run's req/s × the profile's duration).\n\n")
	head, rows := r.profileTable()
	if len(rows) == 0 {
		fmt.Fprintf(b, "No profile could be analysed.\n")
		return
	}
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, c := range rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(c, " | "))
	}
	fmt.Fprintf(b, "\nGroups (functions by name prefix):\n\n")
	for g, grp := range cpuGroups {
		fmt.Fprintf(b, "- *%s*: %s.\n", grp.name, cpuGroupDocs[g])
	}
	fmt.Fprintf(b, "- *in system calls*: samples with `syscall.`, `internal/runtime/syscall`, `runtime.futex`, `runtime.usleep` or `runtime.osyield` on the stack: kernel time (socket reads and writes, epoll, futex wake-ups), spread over the groups above.\n")
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return "not judged"
	case *met:
		return "met"
	default:
		return "NOT met"
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	e, cfg := r.env, r.cfg
	fmt.Fprintf(&b, "# Benchmark results (issue 7)\n\n")
	fmt.Fprintf(&b, "Written by `go run ./bench %s` on %s.\n\n", strings.Join(os.Args[1:], " "), r.when.Format(time.RFC3339))
	fmt.Fprintf(&b, "## Setup\n\n")
	fmt.Fprintf(&b, "- Machine: %d CPU cores (runtime.NumCPU), %s/%s; the harness, the server, PostgreSQL and pgbench share them.\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- Go: %s (server built with `go build`); PostgreSQL %s (%s).\n", runtime.Version(), e.pgVersion, e.pgbench)
	loader := "postgres.BulkLoad (COPY; the services' own validation, mapping and encryption)"
	if cfg.loadMode == "services" {
		loader = "CreateHolder/CreateAliasAccount"
	}
	fmt.Fprintf(&b, "- Dataset: %d holders with %d alias accounts each (%d alias accounts), one organization, seed %d, loaded through %s in %v; %s.\n",
		cfg.holders, aliasesPerHolder, cfg.holders*aliasesPerHolder, cfg.seed, loader, e.loadTime.Round(time.Second), e.sizes)
	fmt.Fprintf(&b, "- pgbench: scale %d (database \"pgbench\" on the same cluster), `-M prepared -c %d -j %d -T %d`.\n",
		cfg.scale, cfg.clients, cfg.clients, int((cfg.duration+time.Second-1)/time.Second))
	fmt.Fprintf(&b, "- Runs: %d repetitions of %v each (API runs after %v of unmeasured warm-up), %d concurrent clients, references interleaved; medians reported. Ratios are medians of per-repetition ratios to the reference run of the same repetition.\n",
		cfg.reps, cfg.duration, cfg.warmup, cfg.clients)
	fmt.Fprintf(&b, "- PostgreSQL settings: ")
	var s []string
	for _, k := range []string{"fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections", "wal_level", "max_wal_size", "checkpoint_timeout", "shared_preload_libraries"} {
		s = append(s, fmt.Sprintf("%s=%s", k, e.settings[k]))
	}
	fmt.Fprintf(&b, "%s; data directory on %s.\n", strings.Join(s, ", "), e.dataDirFS)
	srvEnv := fmt.Sprintf("none (defaults: DB_MAX_CONNS = 2 × cores, DB_DRIVER=pq, GOGC %d and a %d MiB soft memory limit set by the server)", serverconfig.DefaultGOGC, serverconfig.DefaultMemoryLimit>>20)
	if len(cfg.serverEnv) > 0 {
		srvEnv = "`" + strings.Join(cfg.serverEnv, " ") + "`"
	}
	fmt.Fprintf(&b, "- Server: LOG_LEVEL=warn, access control off, extra environment: %s.\n", srvEnv)
	client := "the harness's own raw HTTP/1.1 client (the default, `-client raw`; bench/rawclient.go): per client one persistent TCP connection, each request one write from a reused buffer (request line, Host, Content-Type, X-Organization-Id, Content-Length, body), the response parsed minimally (status line, Content-Length, chunked encoding, Connection: close) into a reused buffer. " +
		"The load client shares the machine's cores with the server and PostgreSQL, while pgbench, the reference, is a lean C client, so a costly client would depress every ratio; `-client nethttp` runs the previous client, net/http's Client (one keep-alive connection per client), instead"
	if cfg.client == clientNetHTTP {
		client = "net/http's Client, one keep-alive connection per client (`-client nethttp`). " +
			"The default, `-client raw`, is the harness's own lean HTTP/1.1 client (bench/rawclient.go: one persistent connection per client, one write per request, a minimal response parser): the load client shares the machine's cores with the server and PostgreSQL, while pgbench, the reference, is a lean C client"
	}
	fmt.Fprintf(&b, "- Client: closed loop in Go, %s. The same bodies, headers (net/http adds only its `User-Agent`) and checks with either: every response must be HTTP 200 without `errors` and hold the expected data; its CPU is the *harness* column of [Where the CPU goes](#where-the-cpu-goes-per-run-medians-over-repetitions).\n", client)
	fmt.Fprintf(&b, "- Open loop and SQL: the open loop sends on a fixed schedule at half of the same repetition's %d-client hot-path rate (%d workers taking the scheduled requests in order, each with its own connection), latency measured from the scheduled time; the plain reference then gets the same open loop (rate, keys, workers), showing the latency tail one lookup meets on this machine at that load without GraphQL; last, the plain reference gets the target's own definition, an open loop at half of its own %d-client rate in the same repetition, showing whether the machine allows the target to a server as light as it. SQL/req = pg_stat_statements calls in database crm (BEGIN/COMMIT not counted) / requests.\n", cfg.clients, openLoopWorkers(cfg.clients), cfg.clients)
	fmt.Fprintf(&b, "- Plain handler + storage (reference): the harness itself re-executed as `bench -serve-plain`, a net/http server whose handler `POST /lookup {\"accountId\": …}` checks `X-Organization-Id`, calls `postgres.AliasAccountService.FindAliasAccountByLedgerAccount` under the read scope the hot path's query gets (the holder's personal data, nothing of the alias account) and writes `{\"id\", \"holder\": {\"id\", \"name\", \"document\"}}` with encoding/json. "+
		"It reads the server's environment through `config.Load` (same DATABASE_URL, keys, pool size, driver and statement timeout; the same `-server-env`), opens the database with `postgres.Open` as server.go does, and sets the server's GC defaults (`config.ApplyGCDefaults`). "+
		"It runs right after the hot path with the same client, concurrency and keys (the hot path's seed: the same accounts in the same order), and its single-client run right after the hot path's. Its second handler, `POST /holders`, takes createHolder's input as the whole body (the same holders, with documents of their own), decodes it with encoding/json into the domain's holder, calls `postgres.HolderService.CreateHolder` (what the createHolder resolver calls: validation, encryption, blind index, the prepared INSERT) and writes `{\"id\"}`; it runs right after createHolder with the same client and concurrency. No GraphQL, no chi, no middleware (access log, metrics, request id, timeout): what one HTTP lookup, or one holder's creation, through our storage costs on this machine.\n")
	fmt.Fprintf(&b, "- CPU accounting: every measured run's CPU time by process (server, PostgreSQL, pgbench, harness) and of the whole machine, from `/proc`; see [Where the CPU goes](#where-the-cpu-goes-per-run-medians-over-repetitions).\n")
	if cfg.profile {
		fmt.Fprintf(&b, "- Profiles: both servers run with `DEBUG_ADDR` (net/http/pprof) on a loopback port; in the last repetition the hot path, page and createHolder runs and the plain references of the hot path and createHolder are CPU-profiled at Go's default 100 Hz (a small overhead those runs carry; the medians of several repetitions dilute it). See [Where the server's CPU goes](#where-the-servers-cpu-goes).\n")
	} else {
		fmt.Fprintf(&b, "- Profiles: off (`-profile=false`).\n")
	}
	fmt.Fprintf(&b, "\n")

	fmt.Fprintf(&b, "Requests (random existing keys; createHolder with fresh documents and a holder-sized input):\n\n")
	for _, q := range []struct{ name, query string }{{runHot, hotPathQuery}, {runPage, pageQuery}, {runByDoc, byDocQuery}, {runCreate, createMutation}} {
		fmt.Fprintf(&b, "- %s: `%s`\n", q.name, q.query)
	}
	fmt.Fprintf(&b, "\n## Results\n\n| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(x.cells(), " | "))
	}
	fmt.Fprintf(&b, "\nServer peak RSS (VmHWM at the end): **%.1f MB**.\n\n", float64(r.m.rssKB)/1024)
	for _, x := range r.rows {
		if x.name == runPlain+" (reference)" && x.throughput > 0 {
			fmt.Fprintf(&b, "The plain handler + storage reference reaches %.3f× pgbench -S; the hot path reaches %.3f× the reference (medians of per-repetition ratios).\n\n", x.ratio, r.hotVsPlain)
		}
		if x.name == runPlainCreate+" (reference)" && x.throughput > 0 {
			fmt.Fprintf(&b, "The plain handler + storage reference's createHolder reaches %.3f× pgbench -N; createHolder reaches %.3f× it (medians of per-repetition ratios).\n\n", x.ratio, r.createVsPlain)
		}
	}

	fmt.Fprintf(&b, "## Targets of issue 7\n\n| target | wanted | measured | |\n|---|---|---|---|\n")
	for _, t := range r.targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.what, t.want, t.got, verdict(t.met))
	}
	fmt.Fprintf(&b, "\nWhy the targets not met are out of reach on this machine and stack, from the figures below: [ANALYSIS.md](ANALYSIS.md) (written by hand, for the run of 2026-11-29).\n")

	cpuMarkdown(&b, r.m)
	r.profileMarkdown(&b)

	fmt.Fprintf(&b, "\n## Every run\n\n| rep | run | req/s | p50 | p99 | SQL/req | failed/total |\n|---|---|---|---|---|---|---|\n")
	for i, x := range r.m.reps {
		fmt.Fprintf(&b, "| %d | %s | %.0f | — | — | — | %d/%d |\n", i+1, runSelectRef, x.selectRef.tps, x.selectRef.failed, x.selectRef.processed)
		apiRuns := func(names []string) {
			for _, name := range names {
				if res, ok := x.api[name]; ok {
					fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %.2f | %d/%d |\n", i+1, name, res.throughput(), fmtDur(res.percentile(0.5)), fmtDur(res.percentile(0.99)), res.stmtsPerRequest(), res.failures, res.requests)
				}
			}
		}
		apiRuns(readRuns)
		fmt.Fprintf(&b, "| %d | %s | %.0f | — | — | — | %d/%d |\n", i+1, runWriteRef, x.writeRef.tps, x.writeRef.failed, x.writeRef.processed)
		apiRuns(writeRuns)
	}
	for _, x := range r.rows {
		if x.failures > 0 && x.firstErr != "" {
			fmt.Fprintf(&b, "\n%s, first failure: `%s`\n", x.name, strings.ReplaceAll(x.firstErr, "`", "'"))
		}
	}
	js, _ := json.Marshal(r.sum)
	fmt.Fprintf(&b, "\n%s%s -->\n", summaryTag, js)
	return b.String()
}
