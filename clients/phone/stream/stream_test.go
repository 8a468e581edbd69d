package stream

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"conclave/clients/phone/dtmf"
	"conclave/clients/phone/sdp"
	"conclave/clients/phone/srtp"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func goertzel(pcm []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/Rate)
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + k*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)*len(pcm))
}

type recorder struct {
	mu  sync.Mutex
	pcm []int16
}

func (r *recorder) up(f []int16) { r.mu.Lock(); r.pcm = append(r.pcm, f...); r.mu.Unlock() }
func (r *recorder) get() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.pcm...)
}

func toneSource(freq float64) func([]int16) {
	n := 0
	return func(f []int16) {
		for i := range f {
			f[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(n)/Rate))
			n++
		}
	}
}

// Two streams face each other over loopback: each hears the other's tone
// through the codec, the resamplers, (S)RTP and the jitter buffer.
func TestStreamsExchangeTones(t *testing.T) {
	for _, codec := range []sdp.Codec{sdp.PCMU, sdp.PCMA, sdp.G722, sdp.Opus} {
		for _, secure := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/srtp=%v", codec, secure), func(t *testing.T) {
				t.Parallel()
				ca, cb := listen(t), listen(t)
				choice := sdp.Choice{Codec: codec, PT: 96, DTMF: 101, Ptime: 20}
				var sa, sb *srtp.Session
				if secure {
					ka, _ := srtp.NewLocal(nil, 1, "AES_CM_128_HMAC_SHA1_80")
					kb, _ := srtp.NewLocal(nil, 1, "AES_CM_128_HMAC_SHA1_80")
					sa, _ = srtp.NewSession(ka, kb)
					sb, _ = srtp.NewSession(kb, ka)
				}
				a, err := New(Config{Conn: ca, Remote: addr(cb), Choice: choice, SRTP: sa})
				if err != nil {
					t.Fatal(err)
				}
				b, err := New(Config{Conn: cb, Remote: addr(ca), Choice: choice, SRTP: sb})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var ra, rb recorder
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); _ = a.Run(ctx, ra.up, toneSource(500)) }()
				go func() { defer wg.Done(); _ = b.Run(ctx, rb.up, toneSource(1200)) }()
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) && (len(ra.get()) < Rate || len(rb.get()) < Rate) {
					time.Sleep(20 * time.Millisecond)
				}
				cancel()
				wg.Wait()
				ca.Close()
				cb.Close()
				heardA, heardB := ra.get(), rb.get()
				if len(heardA) < Rate || len(heardB) < Rate {
					t.Fatalf("heard %d and %d samples", len(heardA), len(heardB))
				}
				wa := heardA[len(heardA)-Rate/2:]
				wb := heardB[len(heardB)-Rate/2:]
				if p, q := goertzel(wa, 1200), goertzel(wa, 500); p < 1e5 || p < 100*q {
					t.Errorf("a hears 1200 Hz at %.3g (500 Hz %.3g)", p, q)
				}
				if p, q := goertzel(wb, 500), goertzel(wb, 1200); p < 1e5 || p < 100*q {
					t.Errorf("b hears 500 Hz at %.3g (1200 Hz %.3g)", p, q)
				}
				if st := a.Stats(); st.Rejected != 0 || st.Received < 40 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func TestDigitsAndStrangers(t *testing.T) {
	ca, peer, stranger := listen(t), listen(t), listen(t)
	defer ca.Close()
	defer peer.Close()
	defer stranger.Close()
	choice := sdp.Choice{Codec: sdp.PCMU, PT: 0, DTMF: 101, Ptime: 20}
	s, err := New(Config{Conn: ca, Remote: addr(peer), Choice: choice})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, func([]int16) {}, func(f []int16) { clear(f) }) }()
	send := func(c *net.UDPConn, seq uint16, ts uint32, code uint8, end bool) {
		p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 5},
			Payload: dtmf.Event{Code: code, End: end, Volume: 10, Duration: 400}.Marshal(nil)}).Marshal()
		if _, err := c.WriteToUDPAddrPort(p, addr(ca)); err != nil {
			t.Fatal(err)
		}
	}
	// "4", "#" from the phone; a "9" from another address after latching.
	send(peer, 1, 100, 4, false)
	send(peer, 2, 100, 4, true)
	send(peer, 3, 100, 4, true)
	send(peer, 4, 900, 11, false)
	send(peer, 5, 900, 11, true)
	var got []byte
	timeout := time.After(3 * time.Second)
	for len(got) < 2 {
		select {
		case d := <-s.Digits():
			got = append(got, d)
		case <-timeout:
			t.Fatalf("digits %q", got)
		}
	}
	send(stranger, 6, 1800, 9, false)
	s.Digit('7') // SIP INFO path
	select {
	case d := <-s.Digits():
		if d != '7' {
			t.Fatalf("stranger's digit %q got through", d)
		}
	case <-timeout:
		t.Fatal("INFO digit lost")
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.Stats().Rejected == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if string(got) != "4#" {
		t.Fatalf("digits %q", got)
	}
	if s.Stats().Rejected != 1 {
		t.Fatalf("rejected %d, want the stranger's packet", s.Stats().Rejected)
	}
	select {
	case d := <-s.Digits():
		t.Fatalf("stranger's digit %q got through", d)
	default:
	}
}
