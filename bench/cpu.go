package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Per-process CPU accounting of the measured runs: where the machine's cores go.
// Around every measured window the harness reads the CPU time used so far by the
// server under test, PostgreSQL (the postmaster and its children), itself (the load
// client) and the whole machine (/proc/stat); pgbench's own CPU comes from its
// rusage once it has exited. The /proc readers are in proc_linux.go (proc_other.go:
// none elsewhere).

// procID identifies a process: its pid and start time (pids are reused).
type procID struct {
	pid   int
	start int64
}

// The processes a run's CPU is split between, in table order.
const (
	partServer   = iota // the HTTP server under test (GraphQL server or plain reference)
	partPostgres        // the postmaster and its children
	partPgbench         // pgbench (pgbench runs)
	partHarness         // this process: the load client and its bookkeeping
	nParts
)

var partNames = [nParts]string{"server", "PostgreSQL", "pgbench", "harness"}

// cpuUse is the CPU one measured run used.
type cpuUse struct {
	elapsed    time.Duration
	cpu        [nParts]time.Duration
	has        [nParts]bool
	busy       time.Duration // the machine's busy CPU time, all cores (steal included)
	steal      time.Duration // of busy: stolen by the hypervisor
	busyFrac   float64       // busy / (busy + idle + iowait)
	idle       time.Duration // the machine's idle + iowait time, all cores
	hasMachine bool
	units      int64 // requests answered, or pgbench transactions processed
	// PostgreSQL processes (children of the postmaster) that started or exited during
	// the window; their CPU is counted all the same (see procTreeCPU).
	pgStarted, pgExited int
	err                 error // the first reading that failed, if any
}

// cpuSnap is the CPU time used so far, at one end of a window.
type cpuSnap struct {
	at                time.Time
	server, postgres  int64 // clock ticks
	pgProcs           map[procID]struct{}
	self              time.Duration
	busy, steal, idle int64 // clock ticks, all cores
	ok                [nParts]bool
	machineOK         bool
	err               error
}

// snapCPU reads everything followed. The harness's own reading is taken next to the
// window's edge (last at its start, first at its end), so the /proc scans themselves
// fall outside the harness's figure.
func snapCPU(serverPID, postmasterPID int, postmasterErr error, end bool) cpuSnap {
	var s cpuSnap
	note := func(err error) {
		if err != nil && s.err == nil {
			s.err = err
		}
	}
	self := func() {
		d, err := selfCPU()
		note(err)
		s.self, s.ok[partHarness] = d, err == nil
	}
	others := func() {
		if serverPID > 0 {
			t, err := procCPUTicks(serverPID)
			note(err)
			s.server, s.ok[partServer] = t, err == nil
		}
		if postmasterPID > 0 {
			t, kids, err := procTreeCPU(postmasterPID)
			note(err)
			s.postgres, s.pgProcs, s.ok[partPostgres] = t, kids, err == nil
		} else {
			note(cmp.Or(postmasterErr, errNoPostmaster))
		}
		busy, steal, idle, err := machineCPU()
		note(err)
		s.busy, s.steal, s.idle, s.machineOK = busy, steal, idle, err == nil
	}
	if end {
		s.at = time.Now()
		self()
		others()
	} else {
		others()
		self()
		s.at = time.Now()
	}
	return s
}

// cpuWindow is a measured window being accounted.
type cpuWindow struct {
	serverPID, postmasterPID int
	postmasterErr            error
	start                    cpuSnap
}

// startCPU opens a window following srv (nil: no server under test, as for pgbench).
func (e *env) startCPU(srv *server) *cpuWindow {
	w := &cpuWindow{postmasterPID: e.postmasterPID, postmasterErr: e.postmasterErr}
	if srv != nil {
		w.serverPID = srv.pid
	}
	w.start = snapCPU(w.serverPID, w.postmasterPID, w.postmasterErr, false)
	return w
}

// stop closes the window; the caller sets units (and pgbench's CPU).
func (w *cpuWindow) stop() cpuUse {
	end := snapCPU(w.serverPID, w.postmasterPID, w.postmasterErr, true)
	a := w.start
	hz, _ := clockTicks()
	ticks := func(t int64) time.Duration { return time.Duration(t) * time.Second / time.Duration(hz) }
	u := cpuUse{elapsed: end.at.Sub(a.at), err: a.err}
	if u.err == nil {
		u.err = end.err
	}
	if a.ok[partServer] && end.ok[partServer] {
		u.cpu[partServer], u.has[partServer] = ticks(end.server-a.server), true
	}
	if a.ok[partPostgres] && end.ok[partPostgres] {
		u.cpu[partPostgres], u.has[partPostgres] = ticks(end.postgres-a.postgres), true
		for id := range end.pgProcs {
			if _, ok := a.pgProcs[id]; !ok {
				u.pgStarted++
			}
		}
		for id := range a.pgProcs {
			if _, ok := end.pgProcs[id]; !ok {
				u.pgExited++
			}
		}
	}
	if a.ok[partHarness] && end.ok[partHarness] {
		u.cpu[partHarness], u.has[partHarness] = end.self-a.self, true
	}
	if a.machineOK && end.machineOK {
		busy, idle := end.busy-a.busy, end.idle-a.idle
		u.busy, u.steal, u.idle, u.hasMachine = ticks(busy), ticks(end.steal-a.steal), ticks(idle), true
		if busy+idle > 0 {
			u.busyFrac = float64(busy) / float64(busy+idle)
		}
	}
	return u
}

// cores is d spread over the window, in cores.
func (u cpuUse) cores(d time.Duration) float64 {
	if u.elapsed <= 0 {
		return 0
	}
	return d.Seconds() / u.elapsed.Seconds()
}

// perUnit is d per request (or transaction), in µs.
func (u cpuUse) perUnit(d time.Duration) float64 {
	if u.units <= 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(u.units)
}

// rest is the machine's busy time not used by the processes followed: kernel threads,
// the idle server, anything else running, steal, and tick rounding.
func (u cpuUse) rest() time.Duration {
	r := u.busy
	for p := range nParts {
		r -= u.cpu[p]
	}
	return r
}

// brief is the run's CPU for the progress log.
func (u cpuUse) brief() string {
	if !u.hasMachine {
		if u.err != nil {
			return "  cpu: " + u.err.Error()
		}
		return ""
	}
	s := fmt.Sprintf("  cpu: machine %.2f =", u.cores(u.busy))
	for p := range nParts {
		if u.has[p] {
			s += fmt.Sprintf(" %s %.2f +", partNames[p], u.cores(u.cpu[p]))
		}
	}
	return s + fmt.Sprintf(" rest %.2f", noNegZero(u.cores(u.rest()), 0.005))
}

// readPostmasterPID reads the first line of the data directory's postmaster.pid.
func readPostmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("postmaster.pid: bad first line %q", line)
	}
	return pid, nil
}

// cpuRow is one run's CPU: medians over the repetitions, each figure on its own.
type cpuRow struct {
	name, unit     string // unit: "req" or "tx"
	reps           int    // repetitions with a machine reading
	rate           float64
	cores, perUnit [nParts]float64
	has            [nParts]bool
	busyCores      float64
	busyFrac       float64
	stealFrac      float64 // steal / all CPU time of the machine
	busyPer        float64
	restCores      float64
	restPer        float64
	// coverage is (busy + idle) / (cores × elapsed): how much of the window /proc/stat
	// accounted for; notIdleCores = cores − idle cores, busy's upper bound.
	coverage, notIdleCores float64
	started                int // PostgreSQL processes started during the windows, all repetitions
	exited                 int
	err                    string
}

// cpuRuns lists every run with its CPU use per repetition, in table order.
func cpuRuns(m *measurement) []cpuRow {
	type run struct {
		name, unit string
		get        func(rep) (cpuUse, bool)
	}
	api := func(name string) run {
		return run{name, "req", func(x rep) (cpuUse, bool) { r, ok := x.api[name]; return r.cpu, ok }}
	}
	runs := []run{{runSelectRef, "tx", func(x rep) (cpuUse, bool) { return x.selectRef.cpu, true }}}
	for _, name := range readRuns {
		runs = append(runs, api(name))
	}
	runs = append(runs, run{runWriteRef, "tx", func(x rep) (cpuUse, bool) { return x.writeRef.cpu, true }})
	for _, name := range writeRuns {
		runs = append(runs, api(name))
	}
	var rows []cpuRow
	for _, r := range runs {
		row := cpuRow{name: r.name, unit: r.unit}
		var rate, busyCores, busyFrac, steal, busyPer, restCores, restPer, coverage, notIdle []float64
		var cores, per [nParts][]float64
		for _, x := range m.reps {
			u, ok := r.get(x)
			if !ok {
				continue
			}
			if u.err != nil && row.err == "" {
				row.err = u.err.Error()
			}
			if !u.hasMachine || u.elapsed <= 0 {
				continue
			}
			row.reps++
			rate = append(rate, float64(u.units)/u.elapsed.Seconds())
			busyCores, busyFrac, busyPer = append(busyCores, u.cores(u.busy)), append(busyFrac, u.busyFrac), append(busyPer, u.perUnit(u.busy))
			if u.busy > 0 && u.busyFrac > 0 {
				steal = append(steal, u.steal.Seconds()/(u.busy.Seconds()/u.busyFrac))
			}
			restCores, restPer = append(restCores, u.cores(u.rest())), append(restPer, u.perUnit(u.rest()))
			ncpu := float64(runtime.NumCPU())
			coverage, notIdle = append(coverage, u.cores(u.busy+u.idle)/ncpu), append(notIdle, ncpu-u.cores(u.idle))
			for p := range nParts {
				if u.has[p] {
					cores[p], per[p] = append(cores[p], u.cores(u.cpu[p])), append(per[p], u.perUnit(u.cpu[p]))
				}
			}
			row.started += u.pgStarted
			row.exited += u.pgExited
		}
		row.rate, row.busyCores, row.busyFrac, row.stealFrac, row.busyPer = median(rate), median(busyCores), median(busyFrac), median(steal), median(busyPer)
		row.restCores, row.restPer = median(restCores), median(restPer)
		row.coverage, row.notIdleCores = median(coverage), median(notIdle)
		for p := range nParts {
			row.has[p] = len(cores[p]) > 0
			row.cores[p], row.perUnit[p] = median(cores[p]), median(per[p])
		}
		rows = append(rows, row)
	}
	return rows
}

// cpuTableText is the compact stdout version: cores/µs per request or transaction.
func cpuTableText(m *measurement) string {
	var b strings.Builder
	_, tick := clockTicks()
	fmt.Fprintf(&b, "\nwhere the CPU goes, per run (cores / CPU µs per request, per transaction for pgbench; medians; clock ticks %s):\n", tick)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head := []string{"run", "req|tx/s", "machine busy"}
	for p := range nParts {
		head = append(head, partNames[p])
	}
	fmt.Fprintln(tw, "  "+strings.Join(append(head, "rest"), "\t"))
	var errs []string
	for _, r := range cpuRuns(m) {
		if r.reps == 0 {
			errs = append(errs, fmt.Sprintf("%s: not measured: %s", r.name, r.err))
			continue
		}
		c := []string{r.name, fmt.Sprintf("%.0f", r.rate), fmt.Sprintf("%.2f (%.0f%%) / %.0f", r.busyCores, 100*r.busyFrac, r.busyPer)}
		for p := range nParts {
			c = append(c, compactCell(r.has[p], r.cores[p], r.perUnit[p]))
		}
		c = append(c, compactCell(true, r.restCores, r.restPer))
		fmt.Fprintln(tw, "  "+strings.Join(c, "\t"))
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

func compactCell(has bool, cores, per float64) string {
	if !has {
		return "—"
	}
	return fmt.Sprintf("%.2f / %.0f", noNegZero(cores, 0.005), noNegZero(per, 0.5))
}

// noNegZero is x, or 0 when x would print as -0 (|x| < half the last digit).
func noNegZero(x, half float64) float64 {
	if x < 0 && x > -half {
		return 0
	}
	return x
}

// cpuMarkdown writes the section on where the machine's CPU goes.
func cpuMarkdown(b *strings.Builder, m *measurement) {
	_, tick := clockTicks()
	fmt.Fprintf(b, "\n## Where the CPU goes (per run, medians over repetitions)\n\n")
	fmt.Fprintf(b, "Every process that shares the machine's %d cores, accounted over each measured window (all repetitions, profiled or not). Method: at the start and the end of the window (the closed or open loop proper, after the warm-up; for pgbench, from its start to its exit) the harness reads the CPU time used so far (user + system) by\n\n", runtime.NumCPU())
	fmt.Fprintf(b, "- *server*: the HTTP server under test, `/proc/<pid>/stat` (utime + stime) — the GraphQL server, or the plain reference server for its two runs; none for pgbench;\n")
	fmt.Fprintf(b, "- *PostgreSQL*: the postmaster (first line of `postmaster.pid`) and every process whose parent it is (found by scanning `/proc/*/stat`: backends, checkpointer, WAL writer, …), summed, plus the postmaster's cutime + cstime (the CPU of the children it has reaped). So the difference is exact even when backends start or exit during the window (pgbench opens and closes its own connections; the servers' pooled connections are long-lived): an exited child's CPU moves to the postmaster's cutime when it is reaped, and a scan during which a child is reaped is redone;\n")
	fmt.Fprintf(b, "- *pgbench*: the pgbench process's own rusage (user + system) once it has exited — exact, all of its `-j` threads, connection set-up included;\n")
	fmt.Fprintf(b, "- *harness*: this process, `getrusage(RUSAGE_SELF)`: the load client (the HTTP client of `-client`, request building, response checks, latency recording) plus the harness's bookkeeping during the window (the CPU profile's download in the profiled runs); idle during pgbench runs;\n")
	fmt.Fprintf(b, "- *machine busy*: `/proc/stat`'s first `cpu` line, user + nice + system + irq + softirq + steal, against idle + iowait: the busy cores, and in parentheses the busy fraction of all cores (and the share stolen by the hypervisor, when any);\n")
	fmt.Fprintf(b, "- *rest*: machine busy − the processes above: interrupts and wake-ups handled on otherwise idle CPUs, kernel threads (the file system journal and block I/O of the write runs), the idle server, anything else running on the machine, steal, and rounding. Network processing of the loopback traffic (softirq) mostly runs in the context of the sending process and counts for it.\n\n")
	fmt.Fprintf(b, "`/proc` CPU times are in clock ticks: %s. Cell: cores used (CPU seconds / elapsed seconds of the window) · CPU µs per request (per transaction for pgbench: pgbench's processed transactions; pgbench -N's transaction is an update, a select and an insert between BEGIN and END). Each figure is the median of its per-repetition values on its own, so a row's figures need not add up exactly. The first column is the window's rate (requests answered, or transactions, per second of the window), close to the results table's.\n\n", tick)
	head := []string{"run", "req/s or tx/s", "machine busy"}
	for p := range nParts {
		head = append(head, partNames[p])
	}
	head = append(head, "rest")
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	var notes, gaps, errs []string
	for _, r := range cpuRuns(m) {
		if r.reps == 0 {
			fmt.Fprintf(b, "| %s | not measured: %s |%s\n", r.name, strings.ReplaceAll(r.err, "|", "/"), strings.Repeat(" |", len(head)-2))
			continue
		}
		busy := fmt.Sprintf("%.2f cores (%.0f%%", r.busyCores, 100*r.busyFrac)
		if r.stealFrac >= 0.005 {
			busy += fmt.Sprintf(", steal %.0f%%", 100*r.stealFrac)
		}
		busy += fmt.Sprintf(") · %.0f µs", r.busyPer)
		c := []string{r.name, fmt.Sprintf("%.0f", r.rate), busy}
		for p := range nParts {
			c = append(c, mdCell(r.has[p], r.cores[p], r.perUnit[p]))
		}
		c = append(c, mdCell(true, r.restCores, r.restPer))
		fmt.Fprintf(b, "| %s |\n", strings.Join(c, " | "))
		if r.coverage < 0.98 {
			gaps = append(gaps, fmt.Sprintf("%s %.0f%% (busy %.2f cores by its busy time, %.2f by %d − idle)", r.name, 100*r.coverage, r.busyCores, r.notIdleCores, runtime.NumCPU()))
		}
		if r.started > 0 || r.exited > 0 {
			notes = append(notes, fmt.Sprintf("%s %d new, %d gone", r.name, r.started, r.exited))
		}
		if r.err != "" {
			errs = append(errs, fmt.Sprintf("%s: a reading failed: `%s`", r.name, strings.ReplaceAll(r.err, "`", "'")))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(b, "\nChildren of the postmaster present at the end of a window but not at its start (*new*), and the reverse (*gone*), all repetitions: %s. Processes that started and exited within a window are in neither count; the CPU of all of them is counted, as above.\n", strings.Join(notes, "; "))
	}
	if len(gaps) > 0 {
		fmt.Fprintf(b, "\n`/proc/stat`'s busy + idle covered less than 98%% of the window's core-seconds (cores × elapsed) in: %s. "+
			"The machine's time counters are sampled at the clock tick, and with CPUs entering and leaving idle thousands of times a second (the runs that leave the machine partly idle) some time goes uncounted; "+
			"the per-process figures are the scheduler's exact run times (reported in ticks), so there *machine busy* may be low by up to the gap and *rest* may come out slightly negative.\n", strings.Join(gaps, "; "))
	}
	for _, e := range errs {
		fmt.Fprintf(b, "\n%s\n", e)
	}
}

func mdCell(has bool, cores, per float64) string {
	if !has {
		return "—"
	}
	return fmt.Sprintf("%.2f cores · %.0f µs", noNegZero(cores, 0.005), noNegZero(per, 0.5))
}

// errNoPostmaster is why PostgreSQL's CPU is not accounted when postmaster.pid
// could not be read.
var errNoPostmaster = errors.New("postmaster pid unknown")
