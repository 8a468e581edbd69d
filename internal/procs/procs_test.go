package procs

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	c := &Controller{Max: 8}
	c.defaults()
	const tick = 250 * time.Millisecond
	var low time.Duration
	steps := []struct {
		load float64
		want int
	}{
		{0.3, 1},  // an idle node keeps one P
		{0.69, 1}, // under Raise of it
		{0.9, 3},  // busy: enough Ps to bring it under Lower (0.9/0.4 -> 3)
		{0.9, 3},
		{2.5, 7}, // a storm: straight to what it needs
		{6.0, 8}, // never past Max
		{2.0, 8}, // fits in 5, but only after Hold
	}
	cur := 1
	for i, s := range steps {
		cur = c.decide(cur, s.load, &low, tick)
		if cur != s.want {
			t.Fatalf("step %d (load %.2f): %d Ps, want %d", i, s.load, cur, s.want)
		}
	}
	// Low load for Hold gives back one P, then one per further Hold.
	n := int(c.Hold / tick)
	for i := 2; i < n; i++ { // the step at load 2.0 was the first
		if cur = c.decide(cur, 0.1, &low, tick); cur != 8 {
			t.Fatalf("gave back a P after %v of low load, before Hold (%v)", time.Duration(i)*tick, c.Hold)
		}
	}
	if cur = c.decide(cur, 0.1, &low, tick); cur != 7 {
		t.Fatalf("after Hold of low load: %d Ps, want 7", cur)
	}
	// A busy interval resets the hold.
	for range n - 1 {
		cur = c.decide(cur, 0.1, &low, tick)
	}
	if cur = c.decide(cur, 2.6, &low, tick); cur != 7 {
		t.Fatalf("load 2.6 on 7 Ps: %d, want 7", cur)
	}
	if cur = c.decide(cur, 0.1, &low, tick); cur != 7 {
		t.Fatalf("one low interval after a busy one gave back a P")
	}
}

// TestRunFollowsTheLoad drives Run with a fake CPU clock: one P while idle,
// more when busy, back to one after the load falls, and Max when it stops.
func TestRunFollowsTheLoad(t *testing.T) {
	var (
		mu    sync.Mutex
		cpu   time.Duration
		rate  = 0.1 // cores
		last  = time.Now()
		procs []int
		seen  = make(chan int, 1000)
	)
	c := &Controller{
		Max:      4,
		Interval: 5 * time.Millisecond,
		Hold:     20 * time.Millisecond,
		CPU: func() (time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			cpu += time.Duration(float64(now.Sub(last)) * rate)
			last = now
			return cpu, nil
		},
		Set: func(n int) {
			mu.Lock()
			procs = append(procs, n)
			mu.Unlock()
			seen <- n
		},
	}
	setRate := func(r float64) {
		mu.Lock()
		rate = r
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor := func(want int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case n := <-seen:
				if n == want {
					return
				}
			case <-deadline:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("GOMAXPROCS never became %d; set %v", want, procs)
			}
		}
	}
	waitFor(1)
	setRate(1.5) // 1.5 cores: more than 0.7 of one P
	waitFor(4)   // ceil(1.5/0.4) = 4
	setRate(0.05)
	waitFor(3)
	waitFor(2)
	waitFor(1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(4) // Max on the way out
}

func TestProcessCPUAdvances(t *testing.T) {
	a, err := ProcessCPU()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := ProcessCPU()
		if err != nil {
			t.Fatal(err)
		}
		if b > a {
			return
		}
	}
	t.Fatal("process CPU time did not advance while spinning")
}

// TestRunSetsTheRuntime checks the default Set: Run really changes
// GOMAXPROCS and gives the runtime its maximum back when it ends.
func TestRunSetsTheRuntime(t *testing.T) {
	maxProcs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(maxProcs)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{Max: maxProcs + 1, Interval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.GOMAXPROCS(0) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS %d, want 1 at start", runtime.GOMAXPROCS(0))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != maxProcs+1 {
		t.Fatalf("GOMAXPROCS %d after Run, want Max %d", got, maxProcs+1)
	}
}

// TestBusyKeepsTwoPs: Busy raises an idle Controller to two Ps, between
// ticks too, and the second P goes back after BusyHold.
func TestBusyKeepsTwoPs(t *testing.T) {
	seen := make(chan int, 100)
	c := NewController()
	c.Max = 4
	c.Interval = 20 * time.Millisecond
	c.Hold = 40 * time.Millisecond
	c.BusyHold = 100 * time.Millisecond
	c.CPU = func() (time.Duration, error) { return 0, nil } // idle
	c.Set = func(n int) { seen <- n }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	next := func() int {
		t.Helper()
		select {
		case n := <-seen:
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("GOMAXPROCS not set")
			return 0
		}
	}
	if n := next(); n != 1 {
		t.Fatalf("start: %d Ps", n)
	}
	start := time.Now()
	c.Busy()
	if n := next(); n != 2 {
		t.Fatalf("after Busy: %d Ps, want 2", n)
	}
	if n := next(); n != 1 {
		t.Fatalf("after the burst: %d Ps, want 1", n)
	}
	if held := time.Since(start); held < c.BusyHold {
		t.Fatalf("the second P went back after %v, before BusyHold (%v)", held, c.BusyHold)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 4 {
		t.Fatalf("on the way out: %d Ps, want Max", n)
	}
	(&Controller{}).Busy() // made without NewController: no panic, no block

	// With no tick for an hour, only Busy's kick can raise it.
	c = NewController()
	c.Max, c.Interval = 4, time.Hour
	c.CPU = func() (time.Duration, error) { return 0, nil }
	c.Set = func(n int) { seen <- n }
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if n := next(); n != 1 {
		t.Fatalf("start: %d Ps", n)
	}
	c.Busy()
	if n := next(); n != 2 {
		t.Fatalf("Busy between ticks: %d Ps, want 2", n)
	}
}
