package rtc

// The media plane's counters for the node's metrics (package
// signaling/metrics): packet and byte counts of the SFU engine, no
// identities or content.

// ForwardedPackets is the RTP packets the SFU sent to subscribers.
func (h *Handler) ForwardedPackets() uint64 { return h.engine.ForwardedPackets() }

// ForwardedBytes is the RTP bytes the SFU sent to subscribers.
func (h *Handler) ForwardedBytes() uint64 { return h.engine.ForwardedBytes() }

// PacketCounts returns the RTP packets received from publishers, those
// missing from publishers' streams on arrival, those subscribers report
// lost, and those dropped for slow subscribers (see sfu.Stats).
func (h *Handler) PacketCounts() (received, lostFromPublishers, lostToSubscribers, droppedSlow uint64) {
	s := h.engine.Stats().Snapshot()
	return s.PacketsIn, s.LostIn, s.LostOut, s.Dropped
}
