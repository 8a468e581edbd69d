package sfu

import "sync/atomic"

// Stats counts one engine's forwarding, for the node's metrics: packet and
// byte counts only, never payloads, SSRCs or identities. Every counter only
// grows. The receivers and down tracks of an engine share its Stats through
// ReceiverConfig.Stats; a nil *Stats counts nothing.
type Stats struct {
	packetsIn, bytesIn atomic.Uint64
	// lostIn counts RTP sequence numbers a publisher's stream skipped on
	// arrival (RFC 3550, Appendix A.3's expected minus received, counted
	// as gaps appear): packets lost between publisher and SFU. A late
	// packet that fills a gap is not subtracted.
	lostIn atomic.Uint64
	// The publishers' readers write the counters above, and every
	// subscriber's write the ones below: keep them on separate cache lines.
	_                    [64]byte
	packetsOut, bytesOut atomic.Uint64
	// dropped counts packets not forwarded because a subscriber's queue was
	// full (a slow subscriber).
	dropped atomic.Uint64
	// lostOut sums the growth of the cumulative packets-lost that
	// subscribers report in RTCP receiver reports (RFC 3550, Section
	// 6.4.1): packets lost between SFU and subscribers.
	lostOut atomic.Uint64
}

// StatsSnapshot is a reading of Stats.
type StatsSnapshot struct {
	PacketsIn, BytesIn, LostIn             uint64
	PacketsOut, BytesOut, Dropped, LostOut uint64
}

// Snapshot reads every counter.
func (s *Stats) Snapshot() StatsSnapshot {
	if s == nil {
		return StatsSnapshot{}
	}
	return StatsSnapshot{
		PacketsIn: s.packetsIn.Load(), BytesIn: s.bytesIn.Load(), LostIn: s.lostIn.Load(),
		PacketsOut: s.packetsOut.Load(), BytesOut: s.bytesOut.Load(), Dropped: s.dropped.Load(), LostOut: s.lostOut.Load(),
	}
}

func (s *Stats) received(n int) {
	if s != nil {
		s.packetsIn.Add(1)
		s.bytesIn.Add(uint64(n))
	}
}

func (s *Stats) lost(n uint64) {
	if s != nil && n > 0 {
		s.lostIn.Add(n)
	}
}

func (s *Stats) sent(n int) {
	if s != nil {
		s.packetsOut.Add(1)
		s.bytesOut.Add(uint64(n))
	}
}

func (s *Stats) drop() {
	if s != nil {
		s.dropped.Add(1)
	}
}

func (s *Stats) subscriberLost(n uint64) {
	if s != nil && n > 0 {
		s.lostOut.Add(n)
	}
}

// seqGap tracks one stream's highest sequence number and reports how many
// numbers a new packet skips (RFC 3550, Appendix A.1's wrap-around
// arithmetic: a jump forward of less than half the space is new, anything
// else is late, duplicated or a restart). Its owner is the stream's reader.
type seqGap struct {
	started bool
	max     uint16
}

// maxCountedGap bounds one gap counted as loss: a larger jump is a stream
// restart, not 3000 lost packets.
const maxCountedGap = 3000

func (g *seqGap) next(seq uint16) uint64 {
	if !g.started {
		g.started, g.max = true, seq
		return 0
	}
	d := seq - g.max
	if d == 0 || d >= 1<<15 {
		return 0 // duplicate or late
	}
	g.max = seq
	if d > maxCountedGap {
		return 0
	}
	return uint64(d - 1)
}

// Stats is the engine's forwarding counters, to give every receiver it
// serves (ReceiverConfig.Stats).
func (e *Engine) Stats() *Stats { return &e.stats }

// ForwardedPackets implements signaling/metrics.Forwarding: RTP packets
// sent to subscribers.
func (e *Engine) ForwardedPackets() uint64 { return e.stats.packetsOut.Load() }

// ForwardedBytes implements signaling/metrics.Forwarding: RTP bytes sent to
// subscribers.
func (e *Engine) ForwardedBytes() uint64 { return e.stats.bytesOut.Load() }
