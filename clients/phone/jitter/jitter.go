package jitter

import (
	"time"
)

// Status says what Pop returned.
type Status uint8

// Pop results.
const (
	// Buffering: nothing to play yet (the stream has not started, or it
	// stalled and is refilling); play silence.
	Buffering Status = iota
	// Packet: the payload of the next packet.
	Packet
	// Lost: the next packet is missing; conceal one frame.
	Lost
)

// Config sets the buffer's limits, in frames (packets).
type Config struct {
	// FrameDuration is the audio in one packet (20 ms by default).
	FrameDuration time.Duration
	// MinDelay and MaxDelay bound the adaptive target delay (defaults:
	// 1 and 10 frames).
	MinDelay, MaxDelay int
	// ClockRate is the RTP clock rate, for the jitter estimate.
	ClockRate int
}

// capacity bounds the packets held; a packet further ahead than this
// resets the stream (a new talk spurt after a long gap, or an attack).
const capacity = 64

// maxPayload bounds a stored payload; longer ones are dropped.
const maxPayload = 1500

// maxLostRun: after this many consecutive missing frames with nothing
// buffered, the stream is considered stalled and refills to the target.
const maxLostRun = 5

type slot struct {
	seq     uint16
	ts      uint32
	payload []byte
	used    bool
}

// Buffer is a playout buffer for one stream; not safe for concurrent use.
type Buffer struct {
	cfg     Config
	slots   [capacity]slot
	started bool   // playout running
	next    uint16 // seq of the next frame to play
	count   int    // packets held
	lostRun int
	// lastPlayed is the seq of the last frame played or concealed, kept
	// across a refill so that stale packets do not restart the stream.
	lastPlayed uint16
	havePlayed bool

	// RFC 3550, Appendix A.8: transit and jitter in RTP clock units.
	haveTransit bool
	transit     int64
	jitter      float64
	epoch       time.Time

	// Stats since creation.
	Received, Late, Concealed, Dropped int
}

// New returns an empty buffer.
func New(cfg Config) *Buffer {
	if cfg.FrameDuration <= 0 {
		cfg.FrameDuration = 20 * time.Millisecond
	}
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = 1
	}
	if cfg.MaxDelay < cfg.MinDelay {
		cfg.MaxDelay = max(10, cfg.MinDelay)
	}
	if cfg.ClockRate <= 0 {
		cfg.ClockRate = 8000
	}
	return &Buffer{cfg: cfg}
}

// Jitter returns the current interarrival jitter estimate.
func (b *Buffer) Jitter() time.Duration {
	return time.Duration(b.jitter / float64(b.cfg.ClockRate) * float64(time.Second))
}

// Target returns the delay the buffer aims for, in frames: enough for
// twice the jitter plus one frame, within the configured bounds.
func (b *Buffer) Target() int {
	t := int(2*b.Jitter()/b.cfg.FrameDuration) + 1
	return min(max(t, b.cfg.MinDelay), b.cfg.MaxDelay)
}

// Reset forgets the stream entirely (a new SSRC).
func (b *Buffer) Reset() {
	b.reset()
	b.havePlayed = false
	b.haveTransit = false
}

// Len returns the packets held.
func (b *Buffer) Len() int { return b.count }

// Push stores a packet that arrived at time now. The payload is copied.
func (b *Buffer) Push(seq uint16, ts uint32, payload []byte, now time.Time) {
	if len(payload) > maxPayload {
		b.Dropped++
		return
	}
	b.Received++
	b.updateJitter(ts, now)
	if b.started {
		d := int16(seq - b.next)
		if d < 0 {
			b.Late++ // already played or concealed
			return
		}
		if int(d) >= capacity {
			b.reset()
		}
	} else if b.havePlayed {
		// Refilling: a packet at or just behind what was last played is
		// stale, not the start of a new run (further behind is a new
		// sequence, e.g. a restarted sender).
		if d := int16(seq - b.lastPlayed); d <= 0 && d > -capacity {
			b.Late++
			return
		}
	}
	s := &b.slots[seq%capacity]
	if s.used && s.seq == seq {
		return // duplicate
	}
	if s.used {
		b.count--
		b.Dropped++
	}
	*s = slot{seq: seq, ts: ts, payload: append(s.payload[:0], payload...), used: true}
	b.count++
	if !b.started && b.count == 1 {
		b.next = seq
	} else if !b.started && int16(seq-b.next) < 0 {
		b.next = seq // an earlier packet arrived while filling
	}
}

func (b *Buffer) reset() {
	for i := range b.slots {
		b.slots[i].used = false
	}
	b.count = 0
	b.started = false
	b.lostRun = 0
}

// updateJitter is RFC 3550, Appendix A.8.
func (b *Buffer) updateJitter(ts uint32, now time.Time) {
	if b.epoch.IsZero() {
		b.epoch = now
	}
	arrival := int64(now.Sub(b.epoch)) * int64(b.cfg.ClockRate) / int64(time.Second)
	transit := arrival - int64(ts)
	if b.haveTransit {
		d := transit - b.transit
		if d < 0 {
			d = -d
		}
		// Clamp absurd jumps (a timestamp reset) out of the estimate.
		if d < int64(b.cfg.ClockRate) {
			b.jitter += (float64(d) - b.jitter) / 16
		}
	}
	b.transit, b.haveTransit = transit, true
}

// Pop returns the next frame to play, one call per frame duration. The
// returned payload is valid until the next Push.
func (b *Buffer) Pop() (Status, []byte) {
	if !b.started {
		if b.count == 0 || b.count < b.Target() {
			return Buffering, nil
		}
		b.started = true
		b.lostRun = 0
	}
	// Drift control: too much delay held, skip the oldest frame.
	if b.count > b.Target()+3 {
		b.take()
		b.Dropped++
	}
	if p, ok := b.take(); ok {
		b.lostRun = 0
		return Packet, p
	}
	b.lostRun++
	if b.count == 0 && b.lostRun > maxLostRun {
		b.started = false
		return Buffering, nil
	}
	b.Concealed++
	return Lost, nil
}

// take removes and returns the frame of b.next, advancing it.
func (b *Buffer) take() ([]byte, bool) {
	s := &b.slots[b.next%capacity]
	b.lastPlayed, b.havePlayed = b.next, true
	b.next++
	if !s.used || s.seq != b.next-1 {
		return nil, false
	}
	s.used = false
	b.count--
	return s.payload, true
}
