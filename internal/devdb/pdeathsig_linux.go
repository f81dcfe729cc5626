package devdb

import "syscall"

// setPdeathsig makes Linux kill the server when the thread that started it
// exits; spawn keeps that thread alive for as long as the server runs, so
// this only fires when the whole process dies (e.g. a test panicked).
func setPdeathsig(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
