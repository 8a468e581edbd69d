package bwe

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// feedback builds the transport-wide feedback a receiver would send for
// packets base, base+1, ...: arrivals[i] is the arrival time of packet
// base+i in µs (reference-time clock), or -1 if it was lost. It is
// marshalled and parsed again, as it would arrive.
func feedback(t testing.TB, base uint16, fbCount uint8, arrivals []int64) *rtcp.TransportLayerCC {
	t.Helper()
	var ref int64 = -1
	for _, a := range arrivals {
		if a >= 0 {
			ref = a / 64_000
			break
		}
	}
	if ref < 0 {
		ref = 0
	}
	fb := &rtcp.TransportLayerCC{
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: base,
		PacketStatusCount: uint16(len(arrivals)), ReferenceTime: uint32(ref), FbPktCount: fbCount,
	}
	prev := ref * 64_000
	for _, a := range arrivals {
		if a < 0 {
			fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 1})
			continue
		}
		d := (a - prev) / 250 * 250
		prev += d
		typ := rtcp.TypeTCCPacketReceivedSmallDelta
		if d < 0 || d > 255*250 {
			typ = rtcp.TypeTCCPacketReceivedLargeDelta
		}
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: typ, RunLength: 1})
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: typ, Delta: d})
	}
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback}
	fb.Header.Length = fb.Len()/4 - 1
	if fb.Len() != uint16(fb.MarshalSize()) || fb.MarshalSize()%4 != 0 {
		fb.Header.Padding = true
	}
	raw, err := fb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var out rtcp.TransportLayerCC
	if err := out.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return &out
}

// path simulates a subscriber's path: it sends packets of size bytes every
// interval, each delayed by base plus queue(i) and lost if lost(i), and
// feeds back every 20 packets. It returns the estimator.
type path struct {
	e        *Estimator
	clock    time.Time
	seq      int
	pending  []int64
	base     uint16
	fbCount  uint8
	interval time.Duration
	size     int
	queue    func(i int) time.Duration
	lost     func(i int) bool
}

func newPath(interval time.Duration, size int) *path {
	return &path{
		e:     New(Config{Initial: 1_000_000, Min: 50_000, Max: 10_000_000}),
		clock: time.Unix(1_700_000_000, 0), interval: interval, size: size,
		queue: func(int) time.Duration { return 0 },
		lost:  func(int) bool { return false },
	}
}

func (p *path) run(t testing.TB, n int) {
	for i := 0; i < n; i++ {
		s := p.e.Sent(p.size, p.clock)
		if want := uint16(p.seq); s != want {
			t.Fatalf("packet %d numbered %d", want, s)
		}
		arrival := int64(-1)
		if !p.lost(p.seq) {
			// The subscriber's clock is offset from ours: only
			// differences matter.
			arrival = p.clock.Add(30*time.Millisecond+p.queue(p.seq)).UnixMicro() - 1_699_000_000_000_000
		}
		p.pending = append(p.pending, arrival)
		p.seq++
		p.clock = p.clock.Add(p.interval)
		if len(p.pending) == 20 {
			p.e.Feedback(feedback(t, p.base, p.fbCount, p.pending), p.clock.Add(30*time.Millisecond))
			p.base += 20
			p.fbCount++
			p.pending = p.pending[:0]
		}
	}
}

func TestSequenceNumbersWrap(t *testing.T) {
	e := New(Config{})
	now := time.Now()
	for i := 0; i < 70_000; i++ {
		if got := e.Sent(100, now); got != uint16(i) {
			t.Fatalf("packet %d numbered %d", i, got)
		}
	}
}

func TestSteadyPathIsNormalAndGrows(t *testing.T) {
	p := newPath(2*time.Millisecond, 1200) // 4.8 Mbit/s
	p.run(t, 5000)                         // 10 s
	rate, usage, loss := p.e.Estimate()
	if usage != Normal || loss != 0 {
		t.Fatalf("steady path: usage %v, loss %v", usage, loss)
	}
	if rate <= 1_000_000 || rate > 10_000_000 {
		t.Fatalf("steady path: estimate %d, want grown from 1 Mbit/s and within the maximum", rate)
	}
}

// TestGrowingQueueIsOveruse: a bottleneck whose queue grows by 1 ms per
// packet group is seen as overuse, and the estimate falls below what was
// getting through.
func TestGrowingQueueIsOveruse(t *testing.T) {
	p := newPath(2*time.Millisecond, 1200)
	p.run(t, 1000)
	if _, usage, _ := p.e.Estimate(); usage != Normal {
		t.Fatalf("before congestion: %v", usage)
	}
	start := p.seq
	p.queue = func(i int) time.Duration { return time.Duration(i-start) * 500 * time.Microsecond }
	sawOveruse := false
	for i := 0; i < 20 && !sawOveruse; i++ {
		p.run(t, 20)
		_, usage, _ := p.e.Estimate()
		sawOveruse = usage == Overuse
	}
	if !sawOveruse {
		t.Fatal("a growing queue was never detected as overuse")
	}
	p.run(t, 20)
	rate, _, _ := p.e.Estimate()
	// 1200 B every 2 ms sent, arriving spread by the queue: at most 4.8 Mbit/s
	// got through, so the estimate is at most 0.85 of that.
	if rate > 4_100_000 {
		t.Fatalf("estimate %d after overuse, want below 0.85 x the received rate", rate)
	}
}

func TestLossLowersEstimate(t *testing.T) {
	p := newPath(2*time.Millisecond, 1200)
	p.run(t, 1000)
	before, _, _ := p.e.Estimate()
	p.lost = func(i int) bool { return i%5 == 0 } // 20%
	p.run(t, 500)
	after, _, loss := p.e.Estimate()
	if math.Abs(loss-0.2) > 0.06 {
		t.Fatalf("loss %v, want about 0.2", loss)
	}
	if after >= before {
		t.Fatalf("estimate %d after 20%% loss, was %d", after, before)
	}
}

// TestFeedbackForUnknownPacketsIgnored: feedback naming packets never sent
// (or long forgotten) changes nothing.
func TestFeedbackForUnknownPacketsIgnored(t *testing.T) {
	e := New(Config{Initial: 1_000_000})
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 10; i++ {
		e.Sent(1000, now)
	}
	arr := make([]int64, 30)
	for i := range arr {
		arr[i] = -1
		if i%3 == 0 {
			arr[i] = int64(i) * 1000
		}
	}
	e.Feedback(feedback(t, 40_000, 0, arr), now)
	if rate, usage, loss := e.Estimate(); loss != 0 || usage != Normal || rate != 1_000_000 {
		t.Fatalf("after feedback for unsent packets: %d %v %v", rate, usage, loss)
	}
}

// FuzzFeedback parses arbitrary RTCP and feeds every transport-wide
// feedback in it to an estimator that has sent packets: nothing panics and
// the estimate stays within its bounds.
func FuzzFeedback(f *testing.F) {
	seed := func(arr []int64) {
		raw, err := feedback(f, 0, 0, arr).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	seed([]int64{1000, 2000, -1, 5000, 70_000, 4000})
	seed([]int64{-1, -1, -1})
	seed([]int64{64_000 * 5, 64_000*5 + 250})
	f.Fuzz(func(t *testing.T, raw []byte) {
		pkts, err := rtcp.Unmarshal(raw)
		if err != nil {
			return
		}
		e := New(Config{Initial: 1_000_000, Min: 50_000, Max: 10_000_000})
		now := time.Unix(1_700_000_000, 0)
		for i := 0; i < 100; i++ {
			e.Sent(1000, now.Add(time.Duration(i)*time.Millisecond))
		}
		for _, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				e.Feedback(fb, now.Add(time.Second))
			}
		}
		rate, _, loss := e.Estimate()
		if rate < 50_000 || rate > 10_000_000 || loss < 0 || loss > 1 {
			t.Fatalf("estimate %d, loss %v out of bounds", rate, loss)
		}
	})
}
