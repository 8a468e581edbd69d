//go:build unix

package mls

import (
	"syscall"
	"time"
)

// ProcessCPUTime returns the CPU time (user and system, all threads) the
// test process has used. Benchmarks report it per operation beside the wall
// time, which on a shared machine measures the load as much as the code.
func ProcessCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
