package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childAttr puts the server in a process group of its own (a terminal's Ctrl-C reaches
// this program, which then stops the server in order) and has the kernel kill it if
// this program dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// startChild starts cmd from a goroutine that keeps its OS thread until the child
// exits (Linux ties the parent-death signal to the thread that forked), then records
// the exit in *waitErr and closes done.
func startChild(cmd *exec.Cmd, done chan struct{}, waitErr *error) error {
	started := make(chan error, 1)
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		err := cmd.Start()
		started <- err
		if err == nil {
			*waitErr = cmd.Wait()
		}
	}()
	return <-started
}

// signalProcess sends SIGTERM, or SIGKILL when kill is set.
func signalProcess(pid int, kill bool) error {
	if kill {
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

// fsType names the file system holding dir (fsync on tmpfs is free, which would
// flatter every write figure).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (fsync is free: write figures are not durable ones)"
	case 0x794c7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("0x%x", uint64(st.Type))
}

// The CPU accounting of the measured runs (cpu.go) reads Linux's /proc.

// clockTicks returns the clock tick rate of /proc's CPU times (USER_HZ), from
// `getconf CLK_TCK` read once, or 100 when that fails, and says which.
var clockTicks = sync.OnceValues(func() (int64, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if err == nil {
		if hz, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); perr == nil && hz > 0 {
			return hz, fmt.Sprintf("%d per second (getconf CLK_TCK)", hz)
		}
		err = fmt.Errorf("unexpected output %q", out)
	}
	return 100, fmt.Sprintf("100 per second, assumed (getconf CLK_TCK: %v)", err)
})

// procStat is what the accounting reads of /proc/<pid>/stat.
type procStat struct {
	ppid     int
	cpu      int64 // utime + stime, clock ticks
	children int64 // cutime + cstime: children it has reaped, clock ticks
	start    int64 // starttime, clock ticks after boot (with the pid, a process's identity)
}

func readProcStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return st, err
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[k] is field k+3 of proc(5)
	if len(f) < 20 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var v [6]int64
	for k, idx := range []int{1, 11, 12, 13, 14, 19} { // ppid utime stime cutime cstime starttime
		if v[k], err = strconv.ParseInt(f[idx], 10, 64); err != nil {
			return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return procStat{ppid: int(v[0]), cpu: v[1] + v[2], children: v[3] + v[4], start: v[5]}, nil
}

// procCPUTicks returns the CPU time (utime + stime) of pid so far, in clock ticks.
func procCPUTicks(pid int) (int64, error) {
	st, err := readProcStat(pid)
	return st.cpu, err
}

// procTreeCPU returns the CPU time so far of root and its children (every process
// whose parent is root), plus what root's reaped children used (its cutime + cstime),
// in clock ticks, with the children it found. The difference of two such sums is
// exactly the CPU the family used in between, whatever children started or exited
// (an exited child's CPU moves to root's cutime/cstime once root reaps it), as long as
// no child is reaped during the scan: then root's cutime changes and it scans again.
func procTreeCPU(root int) (int64, map[procID]struct{}, error) {
	var lastErr error
	for range 5 {
		r0, err := readProcStat(root)
		if err != nil {
			return 0, nil, err
		}
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return 0, nil, err
		}
		var sum int64
		kids := map[procID]struct{}{}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == root {
				continue
			}
			st, err := readProcStat(pid)
			if err != nil || st.ppid != root { // gone meanwhile, or not a child
				continue
			}
			sum += st.cpu
			kids[procID{pid, st.start}] = struct{}{}
		}
		r1, err := readProcStat(root)
		if err != nil {
			return 0, nil, err
		}
		if r1.children == r0.children {
			return sum + r1.cpu + r1.children, kids, nil
		}
		lastErr = fmt.Errorf("pid %d kept reaping children during the scan", root)
	}
	return 0, nil, lastErr
}

// machineCPU returns the first "cpu" line of /proc/stat, all cores, in clock ticks:
// busy (user + nice + system + irq + softirq + steal; guest time is in user already),
// of which steal, and idle (idle + iowait).
func machineCPU() (busy, steal, idle int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[7], v[3] + v[4], nil
}

// selfCPU returns this process's CPU time so far (every thread, user + system), from
// getrusage(RUSAGE_SELF): exact to the microsecond, children not included.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
