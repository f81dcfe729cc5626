//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startChild(cmd *exec.Cmd, done chan struct{}, waitErr *error) error {
	if err := cmd.Start(); err != nil {
		close(done)
		return err
	}
	go func() {
		defer close(done)
		*waitErr = cmd.Wait()
	}()
	return nil
}

func signalProcess(pid int, kill bool) error {
	if kill {
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

func fsType(string) string { return "unknown" }

// The CPU accounting of the measured runs reads Linux's /proc: elsewhere it reports
// errNoProc and the results say so.

var errNoProc = errors.New("per-process CPU accounting needs Linux's /proc")

func clockTicks() (int64, string) { return 100, "n/a (not Linux)" }

func procCPUTicks(int) (int64, error) { return 0, errNoProc }

func procTreeCPU(int) (int64, map[procID]struct{}, error) { return 0, nil, errNoProc }

func machineCPU() (busy, steal, idle int64, err error) { return 0, 0, 0, errNoProc }

func selfCPU() (time.Duration, error) { return 0, errNoProc }
