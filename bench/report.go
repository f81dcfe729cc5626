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
	page := apiRow(runPage, runPage, sel, runSelectRef)
	byDoc := apiRow(runByDoc, runByDoc, sel, runSelectRef)
	single := apiRow(runSingle, runSingle, nil, "")
	open := apiRow(runOpen, runOpen, nil, "")
	open.name = fmt.Sprintf("%s @ %.0f req/s", runOpen, open.rate)
	writeRow := refRow(runWriteRef, func(x rep) pgbenchResult { return x.writeRef })
	create := apiRow(runCreate, runCreate, wr, runWriteRef)
	r.rows = []row{selectRow, hot, page, byDoc, single, open, writeRow, create}

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
	for _, x := range r.rows {
		if x.failures > 0 && x.firstErr != "" {
			fmt.Fprintf(&b, "\n%s: first failure: %s\n", x.name, x.firstErr)
		}
	}
	return b.String()
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
	srvEnv := "none (defaults: DB_MAX_CONNS = 2 × cores, DB_DRIVER=pq, GOGC 400 and a 200 MiB soft memory limit set by the server)"
	if len(cfg.serverEnv) > 0 {
		srvEnv = "`" + strings.Join(cfg.serverEnv, " ") + "`"
	}
	fmt.Fprintf(&b, "- Server: LOG_LEVEL=warn, access control off, extra environment: %s.\n", srvEnv)
	fmt.Fprintf(&b, "- Client: closed loop in Go (net/http, one keep-alive connection per client); every response must be HTTP 200 without `errors` and hold the expected data. The open loop sends on a fixed schedule at half of the same repetition's 8-client hot-path rate, latency measured from the scheduled time. SQL/req = pg_stat_statements calls in database crm (BEGIN/COMMIT not counted) / requests.\n\n")

	fmt.Fprintf(&b, "Requests (random existing keys; createHolder with fresh documents and a holder-sized input):\n\n")
	for _, q := range []struct{ name, query string }{{runHot, hotPathQuery}, {runPage, pageQuery}, {runByDoc, byDocQuery}, {runCreate, createMutation}} {
		fmt.Fprintf(&b, "- %s: `%s`\n", q.name, q.query)
	}
	fmt.Fprintf(&b, "\n## Results\n\n| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(x.cells(), " | "))
	}
	fmt.Fprintf(&b, "\nServer peak RSS (VmHWM at the end): **%.1f MB**.\n\n", float64(r.m.rssKB)/1024)

	fmt.Fprintf(&b, "## Targets of issue 7\n\n| target | wanted | measured | |\n|---|---|---|---|\n")
	for _, t := range r.targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.what, t.want, t.got, verdict(t.met))
	}

	fmt.Fprintf(&b, "\n## Every run\n\n| rep | run | req/s | p50 | p99 | SQL/req | failed/total |\n|---|---|---|---|---|---|---|\n")
	for i, x := range r.m.reps {
		fmt.Fprintf(&b, "| %d | %s | %.0f | — | — | — | %d/%d |\n", i+1, runSelectRef, x.selectRef.tps, x.selectRef.failed, x.selectRef.processed)
		for _, name := range []string{runHot, runPage, runByDoc, runSingle, runOpen} {
			if res, ok := x.api[name]; ok {
				fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %.2f | %d/%d |\n", i+1, name, res.throughput(), fmtDur(res.percentile(0.5)), fmtDur(res.percentile(0.99)), res.stmtsPerRequest(), res.failures, res.requests)
			}
		}
		fmt.Fprintf(&b, "| %d | %s | %.0f | — | — | — | %d/%d |\n", i+1, runWriteRef, x.writeRef.tps, x.writeRef.failed, x.writeRef.processed)
		res := x.api[runCreate]
		fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %.2f | %d/%d |\n", i+1, runCreate, res.throughput(), fmtDur(res.percentile(0.5)), fmtDur(res.percentile(0.99)), res.stmtsPerRequest(), res.failures, res.requests)
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
