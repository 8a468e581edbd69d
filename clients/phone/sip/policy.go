package sip

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// AllowList is the set of trunk addresses (prefixes) allowed to call
// without digest authentication.
type AllowList []netip.Prefix

// ParseAllowList reads CIDR prefixes or single addresses.
func ParseAllowList(entries []string) (AllowList, error) {
	var l AllowList
	for _, e := range entries {
		if p, err := netip.ParsePrefix(e); err == nil {
			l = append(l, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("sip: trunk address %q: %w", e, err)
		}
		l = append(l, netip.PrefixFrom(a, a.BitLen()))
	}
	return l, nil
}

// Contains reports whether a is allowed.
func (l AllowList) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FloodLimit bounds new calls (INVITEs outside a dialog) per source
// address with a token bucket, and the table of sources. Requests inside
// existing dialogs are never limited, so a flood cannot end or starve
// calls in progress.
type FloodLimit struct {
	// Rate new calls per second per source, Burst at once (defaults 1
	// and 5); MaxSources bounds the table (default 4096).
	Rate       float64
	Burst      int
	MaxSources int
	Now        func() time.Time

	mu      sync.Mutex
	sources map[netip.Addr]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one token for src.
func (f *FloodLimit) Allow(src netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	rate, burst, maxSrc := f.Rate, float64(f.Burst), f.MaxSources
	if rate <= 0 {
		rate = 1
	}
	if burst <= 0 {
		burst = 5
	}
	if maxSrc <= 0 {
		maxSrc = 4096
	}
	if f.sources == nil {
		f.sources = map[netip.Addr]*tokenBucket{}
	}
	b, ok := f.sources[src]
	if !ok {
		if len(f.sources) >= maxSrc {
			for a, x := range f.sources {
				if x.tokens+now.Sub(x.last).Seconds()*rate >= burst {
					delete(f.sources, a)
				}
			}
			if len(f.sources) >= maxSrc {
				return false
			}
		}
		b = &tokenBucket{tokens: burst, last: now}
		f.sources[src] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
