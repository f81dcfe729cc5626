package config

import "runtime/debug"

// The server's garbage-collector defaults (and the bench's plain reference's, so the two
// compare fairly). gqlgen allocates for every field it resolves while the live heap stays
// small, so the collector's pace, not the heap, decides its cost: GOGC 400 does about
// half the GC work of the default 100 (lists ran about 2× faster), and the soft memory
// limit keeps the process bounded anyway (peak RSS under `make bench` about 90 MB).
// GOGC 800 with a 120 MiB limit was measured too (bench/ANALYSIS.md): pages ran 30%
// faster, but RSS rose to 125 MB and the hot path's latency tail did not improve.
// Both yield to GOGC and GOMEMLIMIT.
const (
	DefaultGOGC        = 400
	DefaultMemoryLimit = 200 << 20 // bytes
)

// ApplyGCDefaults sets DefaultGOGC and DefaultMemoryLimit, each unless the environment
// sets its own (GOGC, GOMEMLIMIT).
func ApplyGCDefaults(getenv Env) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}
