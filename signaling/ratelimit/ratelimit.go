// Package ratelimit bounds how often one source may try something, with a
// token bucket per key (a client address or prefix) and a bounded table so
// that a flood of distinct sources cannot grow memory without limit.
//
// It is what makes guessing room IDs hopeless on top of their 128 bits: a
// source gets Burst attempts and then one every Interval.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter is a set of token buckets keyed by string. Safe for concurrent use.
type Limiter struct {
	burst    float64
	interval time.Duration
	maxKeys  int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter allowing burst attempts at once per key and one more
// every interval, tracking at most maxKeys keys.
func New(burst int, interval time.Duration, maxKeys int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{burst: float64(burst), interval: interval, maxKeys: maxKeys, buckets: make(map[string]*bucket)}
}

// Allow spends one token of key's bucket at now and reports whether one was
// available.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evictLocked(now)
		}
		if len(l.buckets) >= l.maxKeys {
			// The table is full of active sources: refuse newcomers rather
			// than forget someone's spent budget.
			return false
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refillLocked(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *Limiter) refillLocked(b *bucket, now time.Time) {
	if l.interval <= 0 {
		b.tokens = l.burst
		return
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens += float64(el) / float64(l.interval)
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.last = now
	}
}

// evictLocked forgets buckets that have refilled completely: they carry no
// information.
func (l *Limiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refillLocked(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// SourceKey maps a client address to the key it is limited under: the
// address itself for IPv4, its /64 prefix for IPv6 (one host usually owns a
// whole /64).
func SourceKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is6() {
		p, err := addr.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return addr.String()
}
