package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// profileSeconds is the length of the CPU profile taken during a measured run of d:
// d − 2 s in whole seconds, at least 3 s (so with runs shorter than 5 s it also covers
// some of what follows the run).
func profileSeconds(d time.Duration) int { return max(3, int(d/time.Second)-2) }

// pendingProfile is a CPU profile being taken from a server's debug listener.
type pendingProfile struct {
	done chan struct{}
	data []byte
	err  error
}

// startProfile asks the debug listener at addr for a CPU profile of
// profileSeconds(d), starting so that its window is centred in a run of d beginning now.
func startProfile(ctx context.Context, addr string, d time.Duration) *pendingProfile {
	secs := profileSeconds(d)
	delay := max(0, (d-time.Duration(secs)*time.Second)/2)
	p := &pendingProfile{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			p.err = ctx.Err()
			return
		}
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			p.err = err
			return
		}
		hc := &http.Client{Timeout: time.Duration(secs)*time.Second + time.Minute}
		resp, err := hc.Do(req)
		if err != nil {
			p.err = err
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			p.err = err
		case resp.StatusCode != http.StatusOK:
			p.err = fmt.Errorf("GET %s: HTTP %d: %.200s", url, resp.StatusCode, body)
		default:
			p.data = body
		}
	}()
	return p
}

func (p *pendingProfile) wait() ([]byte, error) {
	<-p.done
	return p.data, p.err
}

// profileRun is the CPU profile of one measured run and what the harness makes of it.
type profileRun struct {
	run     string  // run name (runHot, runPlain, runPage, …)
	file    string  // the .pprof file
	text    string  // the `go tool pprof -top -cum` summary next to it
	bin     string  // the profiled executable
	rps     float64 // the run's throughput, for CPU per request
	err     error   // no profile, or no analysis
	profile *cpuBreakdown
}

// profileSlug names a run's profile files.
func profileSlug(run string) string {
	switch run {
	case runHot:
		return "hot-path"
	case runPlain:
		return "plain-reference"
	case runPage:
		return "page-of-100"
	case runPlainCreate:
		return "plain-reference-createHolder"
	}
	return strings.ReplaceAll(run, " ", "-")
}

// saveProfile writes the profile of a run to dir/<slug><suffix>.pprof.
func saveProfile(dir, suffix, run string, s *server, res runResult) profileRun {
	pr := profileRun{run: run, bin: s.bin, rps: res.throughput(), err: res.profileErr}
	if pr.err != nil {
		log.Printf("  %s: no CPU profile: %v", run, pr.err)
		return pr
	}
	if pr.err = os.MkdirAll(dir, 0o755); pr.err != nil {
		return pr
	}
	pr.file = filepath.Join(dir, profileSlug(run)+suffix+".pprof")
	pr.err = os.WriteFile(pr.file, res.profile, 0o644)
	return pr
}

// analyseProfiles writes each profile's `go tool pprof -top -cum -nodecount 60` text
// next to it and computes its breakdown. It runs after every measurement, so pprof's
// own CPU use disturbs none.
func analyseProfiles(ctx context.Context, runs []profileRun) {
	for i := range runs {
		pr := &runs[i]
		if pr.err != nil || pr.file == "" {
			continue
		}
		pr.text = strings.TrimSuffix(pr.file, ".pprof") + ".txt"
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := exec.CommandContext(cctx, goTool(), "tool", "pprof", "-top", "-cum", "-nodecount", "60", pr.bin, pr.file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			pr.err = fmt.Errorf("go tool pprof: %w\n%s", err, stderr.String())
			pr.text = ""
			continue
		}
		if err := os.WriteFile(pr.text, out, 0o644); err != nil {
			pr.err = err
			continue
		}
		f, err := os.Open(pr.file)
		if err != nil {
			pr.err = err
			continue
		}
		p, err := profile.Parse(f)
		f.Close()
		if err != nil {
			pr.err = fmt.Errorf("parse %s: %w", pr.file, err)
			continue
		}
		if pr.profile, err = breakDown(p); err != nil {
			pr.err = fmt.Errorf("%s: %w", pr.file, err)
		}
	}
}

const appPrefix = "github.com/lerianstudio/crm-registry/"

// cpuGroup is a set of functions, named by prefix.
type cpuGroup struct {
	name     string
	prefixes []string
	// underStorage: a frame belongs to the group only when internal/postgres is among
	// its callers (so JSON and crypto elsewhere, e.g. in the HTTP layer, do not count).
	underStorage bool
}

func (g cpuGroup) has(fn string) bool {
	for _, p := range g.prefixes {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// cpuGroups are the layers the breakdown reports, in table order. "other" (every
// sample in none of them) is added after them.
var cpuGroups = []cpuGroup{
	{name: "database/sql + driver", prefixes: []string{"database/sql.", "github.com/lib/pq.", "github.com/jackc/", "github.com/jmoiron/sqlx."}},
	{name: "decryption + blob decoding", prefixes: []string{appPrefix + "internal/postgres.", appPrefix + "internal/fieldcrypt.",
		"crypto/", "encoding/json.", "github.com/goccy/go-json"}, underStorage: true},
	{name: "gqlgen execution", prefixes: []string{"github.com/99designs/gqlgen/", "github.com/vektah/gqlparser/", appPrefix + "graph."}},
	{name: "plain handler", prefixes: []string{"main.plainHandler."}},
	{name: "HTTP + middleware", prefixes: []string{"net/http.", "github.com/go-chi/"}},
	{name: "GC + runtime", prefixes: []string{"runtime.", "internal/runtime/"}},
}

// cpuGroupDocs describe the groups in results.md, in cpuGroups order.
var cpuGroupDocs = []string{
	"`database/sql.`, `github.com/lib/pq.`, `github.com/jackc/`, `github.com/jmoiron/sqlx.`: the driver, the pool, row scanning, and the socket I/O they do",
	"`internal/postgres` itself, `internal/fieldcrypt`, and `crypto/`, `encoding/json.`, `github.com/goccy/go-json` when called from `internal/postgres`: mapping rows to records, AES-GCM decryption, JSON blobs",
	"`github.com/99designs/gqlgen/`, `github.com/vektah/gqlparser/`, and the `graph` package (generated executor, resolvers, loaders, read scope)",
	"the reference server's handler (`main.plainHandler.`: its request decoding and response encoding); nothing in the GraphQL server (its other `main.` frames, such as chi middleware inlined into server.go's closures, pass the sample on to the group above them)",
	"`net/http.`, `github.com/go-chi/`: connection handling, request parsing, response writing, and the middleware chi calls (access log, metrics, request id)",
	"`runtime.`, `internal/runtime/` (not `internal/runtime/syscall`, and not the goroutine roots `runtime.goexit`/`runtime.main`): allocation, GC, the scheduler with its futex and epoll system calls, maps, memmove",
}

// syscallPrefixes are the frames of system calls: kernel time (socket reads and
// writes, epoll, futex wake-ups) is charged to them.
var syscallPrefixes = []string{"syscall.", "internal/runtime/syscall", "runtime.futex", "runtime.usleep", "runtime.osyield"}

// cpuBreakdown is where a CPU profile's samples go.
type cpuBreakdown struct {
	samples   int64
	cpu, wall time.Duration
	flat      []float64 // per group, then "other": shares summing to 1
	cum       []float64 // per group: share of samples with the group anywhere on the stack
	syscall   float64   // share of samples in a system call
}

// breakDown attributes every sample flat, to the first group met walking its stack
// from the leaf (the function running) towards the root: a query's socket read counts
// for the driver, malloc counts for the runtime whoever called it, and a layer's own
// work counts for that layer. It also reports cumulative shares.
func breakDown(p *profile.Profile) (*cpuBreakdown, error) {
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, fmt.Errorf("not a CPU profile (sample types %v)", p.SampleType)
	}
	b := &cpuBreakdown{wall: time.Duration(p.DurationNanos), flat: make([]float64, len(cpuGroups)+1), cum: make([]float64, len(cpuGroups))}
	var total, sys float64
	var frames []string
	for _, s := range p.Sample {
		v := float64(s.Value[vi])
		total += v
		b.samples++
		frames = frames[:0] // leaf first; inlined functions before the function they are inlined into
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil {
					frames = append(frames, l.Function.Name)
				}
			}
		}
		storageAbove := -1 // the root-most frame of internal/postgres
		for i, fn := range frames {
			if strings.HasPrefix(fn, appPrefix+"internal/postgres.") {
				storageAbove = i
			}
		}
		flat := len(cpuGroups) // "other"
		inGroup := make([]bool, len(cpuGroups))
		inSyscall := false
		for i, fn := range frames {
			for _, p := range syscallPrefixes {
				inSyscall = inSyscall || strings.HasPrefix(fn, p)
			}
			for g, grp := range cpuGroups {
				if !memberOf(grp, fn, i, storageAbove) {
					continue
				}
				inGroup[g] = true
				if flat == len(cpuGroups) {
					flat = g
				}
			}
		}
		b.flat[flat] += v
		for g, in := range inGroup {
			if in {
				b.cum[g] += v
			}
		}
		if inSyscall {
			sys += v
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("no samples (was the server busy?)")
	}
	for i := range b.flat {
		b.flat[i] /= total
	}
	for i := range b.cum {
		b.cum[i] /= total
	}
	b.syscall = sys / total
	b.cpu = time.Duration(total)
	return b, nil
}

// memberOf reports whether frame i, function fn, belongs to grp; storageAbove is the
// index of the root-most internal/postgres frame of the stack (−1: none).
func memberOf(grp cpuGroup, fn string, i, storageAbove int) bool {
	if !grp.has(fn) {
		return false
	}
	switch {
	case fn == "runtime.goexit" || fn == "runtime.main" || strings.HasPrefix(fn, "internal/runtime/syscall"):
		return false
	case grp.underStorage && !strings.HasPrefix(fn, appPrefix+"internal/"):
		return storageAbove > i
	}
	return true
}

// cores is the server's average CPU use during the profile, in cores.
func (b *cpuBreakdown) cores() float64 {
	if b.wall <= 0 {
		return 0
	}
	return b.cpu.Seconds() / b.wall.Seconds()
}

// perRequest is the server's CPU time per request at the run's throughput rps.
func (b *cpuBreakdown) perRequest(rps float64) time.Duration {
	if rps <= 0 || b.wall <= 0 {
		return 0
	}
	return time.Duration(float64(b.cpu) / (rps * b.wall.Seconds()))
}
