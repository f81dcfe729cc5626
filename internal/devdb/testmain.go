package devdb

import (
	"context"
	"fmt"
	"os"
)

// shared is the cluster started by RunTests.
var shared *Cluster

// RunTests starts a temporary cluster, calls setup (may be nil) and m.Run,
// stops the cluster, and returns the exit code. Use from TestMain:
// os.Exit(devdb.RunTests(m, nil)). If the cluster cannot be started it prints
// the error to stderr and returns 1: tests needing PostgreSQL fail, never skip.
func RunTests(m interface{ Run() int }, setup func(*Cluster) error) (code int) {
	c, err := StartTemp(context.Background(), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared = c
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}()
	if setup != nil {
		if err := setup(c); err != nil {
			fmt.Fprintf(os.Stderr, "devdb: test setup: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// Shared returns the cluster started by RunTests in this test binary; it
// panics if there is none.
func Shared() *Cluster {
	if shared == nil {
		panic("devdb: Shared called without RunTests (call os.Exit(devdb.RunTests(m, nil)) from TestMain)")
	}
	return shared
}
