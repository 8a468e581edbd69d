package bwe

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// historySize is the number of sent packets remembered for feedback: a
// power of two, over a second of a busy subscriber transport (feedback
// normally arrives within 100 ms). 64 KiB per subscriber.
const historySize = 1 << 12

// Usage is the delay-based detector's state (draft-ietf-rmcat-gcc-02,
// Section 5.4).
type Usage int

// Detector states.
const (
	Normal Usage = iota
	Underuse
	Overuse
)

func (u Usage) String() string {
	switch u {
	case Overuse:
		return "overuse"
	case Underuse:
		return "underuse"
	default:
		return "normal"
	}
}

// Config bounds the estimate.
type Config struct {
	Initial, Min, Max uint64 // bits per second
}

// Estimator numbers one transport's outgoing packets and estimates its
// available bandwidth from the feedback. It is safe for concurrent use:
// every publisher's reader may send to the same subscriber.
type Estimator struct {
	cfg Config

	mu sync.Mutex
	// next is the next transport-wide sequence number; unwrapped so that
	// feedback can be matched across wrap-around.
	next int64
	sent [historySize]sentPacket

	// Feedback state.
	refTime  int64 // last feedback's unwrapped reference time, µs
	haveRef  bool
	highest  int64 // highest unwrapped sequence number reported
	haveHigh bool

	group   packetGroup // the burst being accumulated
	prev    packetGroup // the last complete burst
	trend   trendline
	usage   Usage
	overAt  int64 // µs (arrival clock) when the trend first exceeded the threshold
	overCnt int

	lossWindow struct{ lost, total int }
	loss       float64 // fraction lost over the last window

	acked   rateWindow
	rate    uint64
	updated time.Time
}

type sentPacket struct {
	at   int64  // send time, µs since Unix epoch
	seq  uint32 // low bits of the unwrapped number: identifies the entry
	size int32  // bytes
}

// New returns an Estimator.
func New(cfg Config) *Estimator {
	if cfg.Max == 0 {
		cfg.Max = 20_000_000
	}
	if cfg.Min == 0 {
		cfg.Min = 100_000
	}
	if cfg.Initial == 0 {
		cfg.Initial = 2_500_000
	}
	e := &Estimator{cfg: cfg, rate: cfg.Initial}
	e.trend.reset()
	for i := range e.sent {
		e.sent[i].seq = ^uint32(i) // matches no number mapping to slot i
	}
	return e
}

// Sent assigns the transport-wide sequence number of a packet of size bytes
// being sent now and remembers it. Call it right before the packet is
// written, with the number going into its header extension.
func (e *Estimator) Sent(size int, now time.Time) uint16 {
	e.mu.Lock()
	s := e.next
	e.next++
	e.sent[s&(historySize-1)] = sentPacket{seq: uint32(s), at: now.UnixMicro(), size: int32(size)}
	e.mu.Unlock()
	return uint16(s)
}

// Estimate returns the estimated available bandwidth in bits per second,
// the delay-based detector's state and the fraction of packets lost over
// the last feedback window.
func (e *Estimator) Estimate() (rate uint64, usage Usage, loss float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rate, e.usage, e.loss
}

// Feedback processes one transport-wide feedback packet received at now.
func (e *Estimator) Feedback(fb *rtcp.TransportLayerCC, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Reference time: 24 bits in units of 64 ms, wrapping every ~12 days.
	ref := int64(fb.ReferenceTime&0xffffff) * 64_000
	if e.haveRef {
		const wrap = int64(1<<24) * 64_000
		for ref-e.refTime < -wrap/2 {
			ref += wrap
		}
		for ref-e.refTime > wrap/2 {
			ref -= wrap
		}
	}
	e.refTime, e.haveRef = ref, true

	f := feedbackWalk{e: e, seq: e.unwrapFeedbackSeq(fb.BaseSequenceNumber), arrival: ref,
		deltas: fb.RecvDeltas, left: int(fb.PacketStatusCount)}
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && f.ok(); i++ {
				f.status(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if !f.ok() {
					break
				}
				f.status(s)
			}
		}
	}
	e.updateRate(now)
}

// feedbackWalk visits the packet statuses of one feedback packet in order
// (draft-holmer-rmcat-transport-wide-cc-extensions-01, Section 3.1.1).
type feedbackWalk struct {
	e       *Estimator
	seq     int64
	arrival int64 // µs: reference time plus the deltas so far
	deltas  []*rtcp.RecvDelta
	left    int  // statuses still announced by the packet status count
	bad     bool // fewer deltas than received packets
}

func (f *feedbackWalk) ok() bool { return f.left > 0 && !f.bad }

func (f *feedbackWalk) status(symbol uint16) {
	f.left--
	received := symbol != rtcp.TypeTCCPacketNotReceived
	if received {
		if len(f.deltas) == 0 {
			f.bad = true
			return
		}
		f.arrival += f.deltas[0].Delta
		f.deltas = f.deltas[1:]
	}
	f.e.packet(f.seq, received, f.arrival)
	f.seq++
}

// unwrapFeedbackSeq maps a 16-bit sequence number in feedback to the
// unwrapped number closest to what was sent.
func (e *Estimator) unwrapFeedbackSeq(s uint16) int64 {
	ref := e.next
	d := int64(int16(s - uint16(ref)))
	return ref + d
}

// packet accounts for one packet's status in feedback: arrival is in µs on
// the subscriber's clock.
func (e *Estimator) packet(seq int64, received bool, arrival int64) {
	if seq < 0 || seq >= e.next || e.next-seq > historySize {
		return
	}
	p := e.sent[seq&(historySize-1)]
	if p.seq != uint32(seq) {
		return
	}
	if !e.haveHigh || seq > e.highest {
		e.highest, e.haveHigh = seq, true
		e.lossWindow.total++
		if !received {
			e.lossWindow.lost++
		}
	}
	// A packet already reported (feedback repeated, or a late arrival
	// after being reported lost) counts for loss only the first time.
	if !received {
		return
	}
	e.acked.add(arrival, int64(p.size))
	e.arrived(p.at, arrival)
}

// burst is the inter-departure time within which packets form one group
// (draft-ietf-rmcat-gcc-02, Section 5.2).
const burst = 5_000 // µs

type packetGroup struct {
	firstSend, lastSend, lastArrival int64
	valid                            bool
}

// arrived feeds one received packet into the delay-based detector
// (draft-ietf-rmcat-gcc-02, Sections 5.2-5.4).
func (e *Estimator) arrived(send, arrival int64) {
	g := &e.group
	if !g.valid {
		*g = packetGroup{firstSend: send, lastSend: send, lastArrival: arrival, valid: true}
		return
	}
	if send-g.firstSend <= burst && send >= g.firstSend {
		if send > g.lastSend {
			g.lastSend = send
		}
		if arrival > g.lastArrival {
			g.lastArrival = arrival
		}
		return
	}
	if send < g.firstSend {
		return // reordered across groups: ignored
	}
	// The group is complete: compare it with the previous one.
	if e.prev.valid {
		sendDelta := g.lastSend - e.prev.lastSend
		arrivalDelta := g.lastArrival - e.prev.lastArrival
		e.detect(float64(arrivalDelta-sendDelta)/1000, g.lastArrival)
	}
	e.prev = *g
	*g = packetGroup{firstSend: send, lastSend: send, lastArrival: arrival, valid: true}
}

// Delay-based detector parameters (draft-ietf-rmcat-gcc-02, Section 5.4,
// with the trendline filter libwebrtc uses in place of the Kalman filter).
const (
	trendWindow    = 20
	trendSmoothing = 0.9
	trendGain      = 4.0
	overuseTime    = 10_000 // µs the trend must stay above the threshold
	thresholdInit  = 12.5
	thresholdMin   = 6
	thresholdMax   = 600
	kUp            = 0.0087
	kDown          = 0.039
)

type trendline struct {
	accumulated, smoothed float64
	firstArrival          float64
	n                     int
	xs, ys                [trendWindow]float64
	count                 int // samples in the window
	threshold             float64
	lastUpdate            float64 // ms
	prevTrend             float64
}

func (t *trendline) reset() {
	*t = trendline{threshold: thresholdInit, firstArrival: -1}
}

// detect takes one inter-group delay variation (ms) and the arrival time of
// the group (µs).
func (e *Estimator) detect(variation float64, arrival int64) {
	t := &e.trend
	now := float64(arrival) / 1000
	if t.firstArrival < 0 {
		t.firstArrival = now
	}
	t.n++
	t.accumulated += variation
	t.smoothed = trendSmoothing*t.smoothed + (1-trendSmoothing)*t.accumulated
	i := t.count % trendWindow
	if t.count >= trendWindow {
		// Shift: keep the window in arrival order.
		copy(t.xs[:], t.xs[1:])
		copy(t.ys[:], t.ys[1:])
		i = trendWindow - 1
	} else {
		t.count++
	}
	t.xs[i] = now - t.firstArrival
	t.ys[i] = t.smoothed
	if t.count < trendWindow {
		return
	}
	slope := linearSlope(t.xs[:t.count], t.ys[:t.count])
	samples := t.n
	if samples > 60 {
		samples = 60
	}
	modified := float64(samples) * slope * trendGain

	switch {
	case modified > t.threshold:
		if e.overAt == 0 {
			e.overAt = arrival
		}
		e.overCnt++
		if arrival-e.overAt >= overuseTime && e.overCnt > 1 && slope >= t.prevTrend {
			e.usage = Overuse
		}
	case modified < -t.threshold:
		e.overAt, e.overCnt = 0, 0
		e.usage = Underuse
	default:
		e.overAt, e.overCnt = 0, 0
		e.usage = Normal
	}
	t.prevTrend = slope
	t.adapt(modified, now)
}

// adapt moves the threshold towards the trend (draft-ietf-rmcat-gcc-02,
// Section 5.4): slowly up, faster down, so that it follows the noise level
// and is not fooled by a competing flow.
func (t *trendline) adapt(modified, now float64) {
	if t.lastUpdate == 0 {
		t.lastUpdate = now
	}
	abs := modified
	if abs < 0 {
		abs = -abs
	}
	if abs > t.threshold+15 {
		t.lastUpdate = now
		return
	}
	k := kDown
	if abs > t.threshold {
		k = kUp
	}
	dt := now - t.lastUpdate
	if dt > 100 {
		dt = 100
	}
	t.threshold += k * (abs - t.threshold) * dt
	if t.threshold < thresholdMin {
		t.threshold = thresholdMin
	}
	if t.threshold > thresholdMax {
		t.threshold = thresholdMax
	}
	t.lastUpdate = now
}

// linearSlope is the least-squares slope of ys over xs.
func linearSlope(xs, ys []float64) float64 {
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	n := float64(len(xs))
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// rateWindow measures the received rate over half-second windows of the
// subscriber's arrival clock.
type rateWindow struct {
	start int64 // µs
	bytes int64
	rate  uint64 // bits per second of the last complete window
	valid bool
}

const rateWindowLen = 500_000 // µs

func (w *rateWindow) add(arrival, size int64) {
	if !w.valid || arrival < w.start {
		*w = rateWindow{start: arrival, valid: true, rate: w.rate}
	}
	if arrival-w.start >= rateWindowLen {
		w.rate = uint64(w.bytes * 8 * 1_000_000 / (arrival - w.start))
		w.start, w.bytes = arrival, 0
	}
	w.bytes += size
}

// Rate control (draft-ietf-rmcat-gcc-02, Sections 5.5 and 6).
const (
	decreaseFactor = 0.85 // of the received rate, on overuse
	increasePerSec = 0.08 // multiplicative increase while normal
	lossHigh       = 0.10
	lossLow        = 0.02
)

// updateRate applies the detectors to the estimate, once per feedback.
func (e *Estimator) updateRate(now time.Time) {
	dt := now.Sub(e.updated)
	if e.updated.IsZero() || dt < 0 {
		dt = 0
	}
	if dt > time.Second {
		dt = time.Second
	}
	e.updated = now
	if e.lossWindow.total >= 20 {
		e.loss = float64(e.lossWindow.lost) / float64(e.lossWindow.total)
		e.lossWindow.lost, e.lossWindow.total = 0, 0
	}
	rate := float64(e.rate)
	switch {
	case e.usage == Overuse:
		if e.acked.rate > 0 {
			rate = decreaseFactor * float64(e.acked.rate)
		} else {
			rate *= decreaseFactor
		}
	case e.loss > lossHigh:
		rate *= 1 - 0.5*e.loss
	case e.usage == Normal && e.loss < lossLow:
		rate *= 1 + increasePerSec*dt.Seconds()
		// Not far above what is actually getting through, once known
		// (Section 5.5): an idle subscriber must not build up an estimate
		// that its path has never carried.
		if e.acked.rate > 0 {
			if ceiling := 1.5*float64(e.acked.rate) + 1_000_000; rate > ceiling {
				rate = max(ceiling, float64(e.rate))
			}
		}
	}
	if rate < float64(e.cfg.Min) {
		rate = float64(e.cfg.Min)
	}
	if rate > float64(e.cfg.Max) {
		rate = float64(e.cfg.Max)
	}
	e.rate = uint64(rate)
}
