package stream

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"conclave/clients/phone/media/g711"
	"conclave/clients/phone/sdp"
)

// phonePeer is a minimal phone: it sends PCMU frames in real time (silence,
// then a tone from a given moment) and decodes what it receives, noting
// when a tone first arrives.
type phonePeer struct {
	conn     *net.UDPConn
	toneFrom atomic.Int64 // unix nanos; 0 = silence
	heard    atomic.Int64 // unix nanos of the first received tone frame
}

func (p *phonePeer) run(ctx context.Context, to *net.UDPAddr) {
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := p.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != 0 {
				continue
			}
			pcm := g711.DecodeUlawFrame(nil, pkt.Payload)
			if energy(pcm) > 1e6 && p.heard.Load() == 0 {
				p.heard.Store(time.Now().UnixNano())
			}
		}
	}()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var seq uint16
	var ts uint32
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pcm := make([]int16, 160)
		if from := p.toneFrom.Load(); from != 0 && time.Now().UnixNano() >= from {
			for i := range pcm {
				pcm[i] = int16(8000 * math.Sin(2*math.Pi*700*float64(n)/8000))
				n++
			}
		}
		pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: 77},
			Payload: g711.EncodeUlawFrame(nil, pcm)}).Marshal()
		seq++
		ts += 160
		_, _ = p.conn.WriteToUDP(pkt, to)
	}
}

func energy(pcm []int16) float64 {
	var e float64
	for _, x := range pcm {
		e += float64(x) * float64(x)
	}
	return e / float64(max(len(pcm), 1)) * 100
}

// BenchmarkMouthToEar measures the delay the gateway's media path adds on
// loopback, each way, with PCMU: from the phone's first tone sample sent
// to its arrival at the meeting side (uplink: jitter buffer, decode,
// resample, 20 ms tick), and from the meeting side's first tone sample to
// its arrival at the phone (downlink: tick, resample, encode, RTP). Run
// with: go test ./clients/phone/stream -run '^$' -bench MouthToEar -benchtime 5x
func BenchmarkMouthToEar(b *testing.B) {
	var upTotal, downTotal time.Duration
	for i := 0; i < b.N; i++ {
		up, down := measureOnce(b)
		upTotal += up
		downTotal += down
	}
	b.ReportMetric(float64(upTotal.Microseconds())/float64(b.N)/1000, "up-ms")
	b.ReportMetric(float64(downTotal.Microseconds())/float64(b.N)/1000, "down-ms")
}

func measureOnce(b *testing.B) (up, down time.Duration) {
	gwConn, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	phConn, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer gwConn.Close()
	defer phConn.Close()
	s, err := New(Config{Conn: gwConn, Remote: phConn.LocalAddr().(*net.UDPAddr).AddrPort(), Choice: sdp.Choice{Codec: sdp.PCMU, PT: 0, DTMF: -1, Ptime: 20}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peer := &phonePeer{conn: phConn}
	var upHeard atomic.Int64
	var downFrom atomic.Int64
	uplink := func(pcm []int16) {
		if energy(pcm) > 1e6 && upHeard.Load() == 0 {
			upHeard.Store(time.Now().UnixNano())
		}
	}
	n := 0
	downlink := func(pcm []int16) {
		if downFrom.Load() == 0 {
			clear(pcm)
			return
		}
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(n)/Rate))
			n++
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = s.Run(ctx, uplink, downlink) }()
	go func() { defer wg.Done(); peer.run(ctx, gwConn.LocalAddr().(*net.UDPAddr)) }()
	time.Sleep(300 * time.Millisecond) // let both streams settle (a benchmark, not a test)
	t0 := time.Now()
	peer.toneFrom.Store(t0.UnixNano())
	// The downlink tone starts at the gateway's next tick; its first
	// sample is produced inside downlink, so note that moment.
	downStart := time.Now()
	downFrom.Store(downStart.UnixNano())
	deadline := time.Now().Add(3 * time.Second)
	for (upHeard.Load() == 0 || peer.heard.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	phConn.Close()
	wg.Wait()
	if upHeard.Load() == 0 || peer.heard.Load() == 0 {
		b.Fatal("tone not detected")
	}
	return time.Duration(upHeard.Load() - t0.UnixNano()), time.Duration(peer.heard.Load() - downStart.UnixNano())
}

// BenchmarkConcurrentCalls runs N gateway-side call media paths (PCMU
// phones; each call decodes, resamples and buffers 50 packets/s in and
// resamples, encodes and sends 50 packets/s out) for 5 s and reports CPU
// time per call as a percentage of one core. Run with:
// go test ./clients/phone/stream -run '^$' -bench ConcurrentCalls -benchtime 1x
func BenchmarkConcurrentCalls(b *testing.B) {
	for _, calls := range []int{1, 10, 50} {
		for _, codec := range []sdp.Codec{sdp.PCMU, sdp.G722, sdp.Opus} {
			b.Run(fmt.Sprintf("%s/%d", codec, calls), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					runCalls(b, calls, codec)
				}
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runCalls(b *testing.B, calls int, codec sdp.Codec) {
	const dur = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	pt := uint8(96)
	// Pre-encoded phone packets: the phone side's cost stays out of the
	// figure as far as possible.
	enc, err := newCodec(codec)
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, codec.SampleRate()/50)
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(float64(i)/7))
	}
	payload, _ := enc.encode(nil, pcm)
	enc.close()
	var conns []*net.UDPConn
	for c := 0; c < calls; c++ {
		gw, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		ph, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		conns = append(conns, gw, ph)
		s, err := New(Config{Conn: gw, Remote: ph.LocalAddr().(*net.UDPAddr).AddrPort(), Choice: sdp.Choice{Codec: codec, PT: pt, DTMF: -1, Ptime: 20}})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(3)
		go func() { defer wg.Done(); _ = s.Run(ctx, func([]int16) {}, func(f []int16) { copy(f, pcm) }) }()
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := ph.ReadFromUDP(buf); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			var seq uint16
			to := gw.LocalAddr().(*net.UDPAddr)
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * uint32(codec.ClockRate()/50), SSRC: 5}, Payload: payload}).Marshal()
				seq++
				_, _ = ph.WriteToUDP(p, to)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // warm up
	c0, w0 := cpuTime(), time.Now()
	time.Sleep(dur)
	c1, w1 := cpuTime(), time.Now()
	cancel()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	perCall := float64(c1-c0) / float64(w1.Sub(w0)) / float64(calls) * 100
	b.ReportMetric(perCall, "%core/call")
}
