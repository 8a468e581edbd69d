package dialin

import (
	"sync"
	"time"
)

// LimitConfig sets how many wrong codes are tolerated.
type LimitConfig struct {
	// PerCaller wrong codes a caller may enter per PerCallerWindow
	// (defaults 5 per 15 minutes), and the global budget per minute
	// (default 30).
	PerCaller       int
	PerCallerWindow time.Duration
	GlobalPerMinute int
	// MaxCallers bounds the table of callers; beyond it, unknown callers
	// are treated as limited (an attacker cycling identities exhausts the
	// table, not the memory). Default 10000.
	MaxCallers int
}

func (c LimitConfig) withDefaults() LimitConfig {
	if c.PerCaller <= 0 {
		c.PerCaller = 5
	}
	if c.PerCallerWindow <= 0 {
		c.PerCallerWindow = 15 * time.Minute
	}
	if c.GlobalPerMinute <= 0 {
		c.GlobalPerMinute = 30
	}
	if c.MaxCallers <= 0 {
		c.MaxCallers = 10000
	}
	return c
}

// bucket is a token bucket: capacity tokens, refilled at rate per second.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) refill(now time.Time, capacity, rate float64) {
	if b.last.IsZero() {
		b.tokens, b.last = capacity, now
		return
	}
	b.tokens = min(capacity, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
}

// Limiter counts wrong codes per caller and globally. Safe for concurrent
// use.
type Limiter struct {
	cfg LimitConfig
	now func() time.Time

	mu      sync.Mutex
	global  bucket
	callers map[string]*bucket
}

// NewLimiter returns a limiter.
func NewLimiter(cfg LimitConfig, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg.withDefaults(), now: now, callers: map[string]*bucket{}}
}

func (l *Limiter) rates() (callerCap, callerRate, globalCap, globalRate float64) {
	callerCap = float64(l.cfg.PerCaller)
	callerRate = callerCap / l.cfg.PerCallerWindow.Seconds()
	globalCap = float64(l.cfg.GlobalPerMinute)
	globalRate = globalCap / 60
	return
}

// Allow reports whether caller may try a code now (both its own and the
// global budget have at least one wrong attempt left).
func (l *Limiter) Allow(caller string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cc, cr, gc, gr := l.rates()
	l.global.refill(now, gc, gr)
	if l.global.tokens < 1 {
		return false
	}
	b, ok := l.callers[caller]
	if !ok {
		return len(l.callers) < l.cfg.MaxCallers || l.pruneLocked(now, cc, cr)
	}
	b.refill(now, cc, cr)
	return b.tokens >= 1
}

// Fail records a wrong code by caller.
func (l *Limiter) Fail(caller string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cc, cr, gc, gr := l.rates()
	l.global.refill(now, gc, gr)
	l.global.tokens = max(0, l.global.tokens-1)
	b, ok := l.callers[caller]
	if !ok {
		if len(l.callers) >= l.cfg.MaxCallers && !l.pruneLocked(now, cc, cr) {
			return
		}
		b = &bucket{}
		l.callers[caller] = b
	}
	b.refill(now, cc, cr)
	b.tokens = max(0, b.tokens-1)
}

// pruneLocked drops callers whose bucket is full again; it reports whether
// there is room for a new one.
func (l *Limiter) pruneLocked(now time.Time, capacity, rate float64) bool {
	for k, b := range l.callers {
		b.refill(now, capacity, rate)
		if b.tokens >= capacity {
			delete(l.callers, k)
		}
	}
	return len(l.callers) < l.cfg.MaxCallers
}
