package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoProcess is returned when the server's /proc entry cannot be read.
var ErrNoProcess = errors.New("loadtest: cannot read the server process")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (the kernel exports a
// fixed USER_HZ to user space whatever its internal HZ).
const clockTicks = 100

// procSample is a process's cumulative CPU time and current resident set.
type procSample struct {
	at   time.Time
	cpu  time.Duration // user + system
	user time.Duration // user only: the server's own code, not the kernel's work for it
	rss  uint64        // bytes
}

// readProc samples /proc/PID/stat and /proc/PID/status (proc(5)).
func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, fmt.Errorf("%w %d: %w", ErrNoProcess, pid, err)
	}
	s.user, s.cpu, err = parseStatCPU(stat)
	if err != nil {
		return s, fmt.Errorf("%w %d: %w", ErrNoProcess, pid, err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, fmt.Errorf("%w %d: %w", ErrNoProcess, pid, err)
	}
	if s.rss, err = parseStatusRSS(status); err != nil {
		return s, fmt.Errorf("%w %d: %w", ErrNoProcess, pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime and utime + stime (fields 14 and 15 of
// proc(5)) from the contents of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat []byte) (user, total time.Duration, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, errors.New("short stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("stat cpu fields: %w", err)
	}
	tick := func(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(ut), tick(ut + st), nil
}

// parseStatusRSS returns VmRSS from /proc/PID/status, in bytes.
func parseStatusRSS(status []byte) (uint64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, errors.New("malformed VmRSS")
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmRSS")
}

// selfCPU is this process's CPU time (the load generator's cost).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage returns the one-minute load average of the machine, to flag
// runs made while other work competed for the CPU (0 if unreadable).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return v
}
