package config

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestApplyGCDefaults: the defaults apply unless GOGC / GOMEMLIMIT are set.
func TestApplyGCDefaults(t *testing.T) {
	prevPercent, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	ApplyGCDefaults(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != DefaultGOGC {
		t.Errorf("GOGC = %d, want %d", got, DefaultGOGC)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != DefaultMemoryLimit {
		t.Errorf("memory limit = %d, want %d", got, DefaultMemoryLimit)
	}

	// Set in the environment: the runtime read them at start; the defaults stay away.
	ApplyGCDefaults(func(k string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC = %d after ApplyGCDefaults with GOGC set, want it untouched (100)", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("memory limit = %d after ApplyGCDefaults with GOMEMLIMIT set, want it untouched", got)
	}
}
