//go:build !linux

package main

import (
	"os/exec"
	"syscall"
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
