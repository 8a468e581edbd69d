// Package procs sizes the Go scheduler (GOMAXPROCS) to the process's load.
//
// An SFU idles between packets. Each packet crosses several goroutines inside
// pion (UDP mux, ICE candidate, DTLS/SRTP mux, SRTP session, then the track's
// reader), and whenever a goroutine becomes runnable while another P is idle,
// the runtime wakes a second thread to run or steal it; the thread finds
// little to do and sleeps again. On a node that uses less than a core this
// ping-pong is a large share of the CPU: with GOMAXPROCS=1 the same webinar
// load cost 22% less CPU and had a lower p99 latency on a 2-core machine
// (docs/benchmarks.md). A fixed GOMAXPROCS=1 would cap a busy node at one
// core, so a Controller keeps as many Ps as the load needs: it reads the
// process's CPU time every Interval, adds Ps at once when they are more than
// Raise busy, and gives them back only after Hold of low load.
//
// Average load misses bursts. A participant's arrival queues tens of
// goroutines of control work at once (handshakes, each subscriber's
// renegotiation, new receivers, a GC cycle); on one P the runtime looks for
// network readiness only when its run queue is empty, so the media socket's
// reader waited up to 8 ms behind it (an execution trace of the churn
// scenario). Busy tells the Controller such a burst is coming: it keeps a
// second P for BusyHold, on which the reader runs while the burst lasts.
package procs

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for a Controller's zero fields.
const (
	DefaultInterval = 250 * time.Millisecond
	DefaultRaise    = 0.7
	DefaultLower    = 0.4
	DefaultHold     = 4 * time.Second
	DefaultBusyHold = 2 * time.Second
)

// Controller adapts GOMAXPROCS between 1 and Max.
type Controller struct {
	// Max is the most Ps it will set; 0 means runtime.GOMAXPROCS(0) when
	// Run starts (the runtime's default: the CPUs this process may use).
	Max int
	// Interval between CPU readings.
	Interval time.Duration
	// Raise: when the process used more than Raise of its current Ps'
	// capacity over one interval, it gets at once as many Ps as bring its
	// use under Lower of them (at least one more).
	Raise float64
	// Lower: when the load would keep fewer Ps below Lower of their
	// capacity for Hold, Ps are given back.
	Lower float64
	Hold  time.Duration
	// BusyHold is how long after a Busy call at least two Ps are kept.
	BusyHold time.Duration
	// CPU returns the process's CPU time so far (user and system); nil
	// reads getrusage(2).
	CPU func() (time.Duration, error)
	// Set applies a new GOMAXPROCS; nil is runtime.GOMAXPROCS.
	Set    func(n int)
	Logger *slog.Logger

	busyUntil atomic.Int64 // unix nanos
	kick      chan struct{}
}

// NewController returns a Controller with the defaults, whose Busy takes
// effect at once (on a Controller made otherwise, at the next Interval); set
// its fields before Run.
func NewController() *Controller {
	return &Controller{kick: make(chan struct{}, 1)}
}

// Busy announces a burst of control work: until BusyHold from now, at least
// two Ps (if Max allows). A running Controller applies it at once. It is
// safe to call from any goroutine, and cheap.
func (c *Controller) Busy() {
	c.busyUntil.Store(time.Now().Add(c.busyHold()).UnixNano())
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) busyHold() time.Duration {
	if c.BusyHold > 0 {
		return c.BusyHold
	}
	return DefaultBusyHold
}

// floor is the fewest Ps allowed at now: two while busy, else one.
func (c *Controller) floor(now time.Time) int {
	if now.UnixNano() < c.busyUntil.Load() {
		return min(2, c.Max)
	}
	return 1
}

// ProcessCPU is the CPU time (user and system) this process has used.
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("procs: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Run adapts GOMAXPROCS until ctx ends, starting at one P, and leaves it at
// Max when it returns.
func (c *Controller) Run(ctx context.Context) error {
	c.defaults()
	cur := 1
	c.Set(cur)
	defer c.Set(c.Max)
	c.Logger.Debug("procs: adaptive", "max", c.Max, "interval", c.Interval)
	last, err := c.CPU()
	if err != nil {
		return err
	}
	lastAt := time.Now()
	var low time.Duration // how long the load has fit in fewer Ps
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
			if f := c.floor(time.Now()); cur < f {
				c.Logger.Debug("procs: gomaxprocs", "from", cur, "to", f, "reason", "busy")
				cur = f
				c.Set(cur)
			}
		case now := <-t.C:
			cpu, err := c.CPU()
			if err != nil {
				return err
			}
			wall := now.Sub(lastAt)
			if wall <= 0 {
				continue
			}
			load := float64(cpu-last) / float64(wall) // cores used
			last, lastAt = cpu, now
			next := c.decide(cur, load, &low, wall)
			if f := c.floor(now); next < f {
				next, low = f, 0
			}
			if next != cur {
				c.Logger.Debug("procs: gomaxprocs", "from", cur, "to", next, "cores_used", math.Round(load*100)/100)
				cur = next
				c.Set(cur)
			}
		}
	}
}

func (c *Controller) defaults() {
	if c.Max <= 0 {
		c.Max = runtime.GOMAXPROCS(0)
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Raise <= 0 {
		c.Raise = DefaultRaise
	}
	if c.Lower <= 0 {
		c.Lower = DefaultLower
	}
	if c.Hold <= 0 {
		c.Hold = DefaultHold
	}
	if c.CPU == nil {
		c.CPU = ProcessCPU
	}
	if c.Set == nil {
		c.Set = func(n int) { runtime.GOMAXPROCS(n) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// decide returns the Ps for the next interval, given cur Ps and the cores
// load used over the last one (of length wall). low accumulates how long
// fewer Ps would have sufficed.
func (c *Controller) decide(cur int, load float64, low *time.Duration, wall time.Duration) int {
	// fit: the Ps that keep the load under Lower of them.
	fit := max(1, int(math.Ceil(load/c.Lower)))
	if load > c.Raise*float64(cur) {
		*low = 0
		return min(max(cur+1, fit), c.Max)
	}
	if fit >= cur {
		*low = 0
		return cur
	}
	*low += wall
	if *low < c.Hold {
		return cur
	}
	*low = 0
	// Give back one P at a time: the next interval measures the smaller set.
	return cur - 1
}
