package seqmap

import "time"

// history is the number of runs remembered for NACK lookups.
const history = 32

// run is a stretch of outgoing packets copied from one incoming stream with
// fixed offsets.
type run struct {
	layer     int
	outStart  uint16 // first outgoing sequence number of the run
	inStart   uint16 // its incoming sequence number
	seqOffset uint16 // out = in + seqOffset
	valid     bool
}

// Map rewrites one outgoing stream. It is not safe for concurrent use; the
// owner (one down track) serialises calls.
type Map struct {
	clockRate uint32

	started    bool
	cur        run
	tsOffset   uint32
	highestOut uint16
	lastOutTS  uint32
	lastTime   time.Time

	runs [history]run
	next int
}

// New returns a Map for a stream whose RTP clock runs at clockRate Hz.
func New(clockRate uint32) *Map {
	if clockRate == 0 {
		clockRate = 90000
	}
	return &Map{clockRate: clockRate}
}

// Started reports whether a run has begun.
func (m *Map) Started() bool { return m.started }

// Layer is the incoming stream of the current run, or -1 before the first.
func (m *Map) Layer() int {
	if !m.started {
		return -1
	}
	return m.cur.layer
}

// Start begins a new run from incoming stream layer at the packet (inSeq,
// inTS), received at now: the next outgoing packet continues the outgoing
// sequence without a gap, and its timestamp advances from the previous
// outgoing one by the wall-clock time elapsed (at least one tick), so that
// the receiver's jitter buffer sees plausible timing across a switch.
func (m *Map) Start(layer int, inSeq uint16, inTS uint32, now time.Time) {
	var outSeq uint16
	var outTS uint32
	if m.started {
		outSeq = m.highestOut + 1
		elapsed := now.Sub(m.lastTime)
		ticks := uint32(1)
		if elapsed > 0 {
			t := uint64(elapsed) * uint64(m.clockRate) / uint64(time.Second)
			if t > 1 && t < 1<<31 {
				ticks = uint32(t)
			}
		}
		outTS = m.lastOutTS + ticks
	} else {
		// The first run keeps the incoming numbering: nothing to continue.
		outSeq, outTS = inSeq, inTS
	}
	m.cur = run{layer: layer, outStart: outSeq, inStart: inSeq, seqOffset: outSeq - inSeq, valid: true}
	m.tsOffset = outTS - inTS
	m.runs[m.next] = m.cur
	m.next = (m.next + 1) % history
	if !m.started {
		m.highestOut = outSeq - 1
		m.lastOutTS = outTS
	}
	m.started = true
	m.lastTime = now
}

// Forward maps an incoming packet of the current run to its outgoing
// sequence number and timestamp. It refuses (ok false) a packet of another
// layer, and a packet older than the start of the current run, which would
// collide with sequence numbers already used by the previous run.
func (m *Map) Forward(layer int, inSeq uint16, inTS uint32, now time.Time) (outSeq uint16, outTS uint32, ok bool) {
	if !m.started || layer != m.cur.layer {
		return 0, 0, false
	}
	if int16(inSeq-m.cur.inStart) < 0 {
		return 0, 0, false
	}
	outSeq = inSeq + m.cur.seqOffset
	outTS = inTS + m.tsOffset
	if int16(outSeq-m.highestOut) > 0 {
		m.highestOut = outSeq
		m.lastOutTS = outTS
		m.lastTime = now
	}
	return outSeq, outTS, true
}

// Last returns the timestamp of the highest outgoing packet and when it was
// forwarded, for sender reports; ok is false before the first run.
func (m *Map) Last() (ts uint32, at time.Time, ok bool) {
	return m.lastOutTS, m.lastTime, m.started
}

// TimestampOffset is added to incoming timestamps of the current run.
func (m *Map) TimestampOffset() uint32 { return m.tsOffset }

// Lookup maps an outgoing sequence number back to the incoming stream and
// sequence number it was (or would have been) copied from, for answering a
// NACK. It returns false for numbers never sent or from a forgotten run.
func (m *Map) Lookup(outSeq uint16) (layer int, inSeq uint16, ok bool) {
	if !m.started || int16(outSeq-m.highestOut) > 0 {
		return 0, 0, false
	}
	// The run that contains outSeq is the most recent one starting at or
	// before it.
	best := -1
	var bestDist uint16
	for i := range m.runs {
		r := &m.runs[i]
		if !r.valid {
			continue
		}
		d := outSeq - r.outStart
		if int16(d) < 0 {
			continue
		}
		if best < 0 || d < bestDist {
			best, bestDist = i, d
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	r := m.runs[best]
	return r.layer, outSeq - r.seqOffset, true
}
