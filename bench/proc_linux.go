package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
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
