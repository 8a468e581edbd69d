package bot

import "slices"

// ResetLatency forgets the end-to-end latency samples measured so far on
// every received track, so that a load test can measure a steady-state
// window that excludes joining. Counters (frames, loss, failures) are left
// alone: callers measure a window by subtracting two Reports.
func (b *Bot) ResetLatency() {
	b.mu.Lock()
	remote := slices.Clone(b.remote)
	b.mu.Unlock()
	for _, rt := range remote {
		rt.mu.Lock()
		rt.latency = histogram{}
		rt.mu.Unlock()
	}
}
