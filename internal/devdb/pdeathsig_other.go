//go:build !linux

package devdb

import "syscall"

// setPdeathsig does nothing: parent-death signals are Linux-only.
func setPdeathsig(*syscall.SysProcAttr) {}
