package sfu

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/packetcache"
	"conclave/sfu/seqmap"
	"conclave/sfu/simulcast"
)

type sink struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (s *sink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pkts = append(s.pkts, rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)})
	return len(payload), nil
}

func (s *sink) Write(b []byte) (int, error) { return len(b), nil }

type rtcpLog struct {
	mu   sync.Mutex
	pkts []rtcp.Packet
}

func (l *rtcpLog) write(p []rtcp.Packet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pkts = append(l.pkts, p...)
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testDownTrack builds a video down track bound to a sink, without its
// writer goroutine: the test calls forward itself.
func testDownTrack(t *testing.T, layers int) (*DownTrack, *sink, *rtcpLog) {
	t.Helper()
	log := &rtcpLog{}
	r := NewReceiver(ReceiverConfig{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, WriteRTCP: log.write,
		Layers: make([]simulcast.Layer, layers)}, vp8Codec, quiet())
	for q := 0; q < layers; q++ {
		l := &layer{ssrc: uint32(100 + q), cache: packetcache.New(64), windowStart: time.Now()}
		l.lastPacket.Store(time.Now().UnixNano())
		r.layers[q].Store(l)
	}
	s := &sink{}
	d := &DownTrack{id: "TR_v", recv: r, log: quiet(), video: true, queue: make(chan *Packet, 4),
		done: make(chan struct{}), seq: seqmap.New(90000), req: simulcast.DefaultRequest}
	d.needKeyframe.Store(true)
	d.bound.Store(&binding{ssrc: 7, pt: 96, write: s})
	return d, s, log
}

func vp8Packet(layer int, seq uint16, ts uint32, key bool) *Packet {
	p1 := byte(1)
	if key {
		p1 = 0
	}
	return &Packet{
		Header:   rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true, SSRC: uint32(100 + layer)},
		Payload:  []byte{0x10, p1, byte(layer), byte(seq)},
		Layer:    layer,
		Keyframe: key,
	}
}

func TestDownTrackStartsAtKeyframe(t *testing.T) {
	d, s, _ := testDownTrack(t, 1)
	d.forward(vp8Packet(0, 10, 1000, false))
	d.forward(vp8Packet(0, 11, 4000, false))
	if len(s.pkts) != 0 {
		t.Fatal("delta frames forwarded before a keyframe")
	}
	d.forward(vp8Packet(0, 12, 7000, true))
	d.forward(vp8Packet(0, 13, 10000, false))
	if len(s.pkts) != 2 || s.pkts[0].SequenceNumber+1 != s.pkts[1].SequenceNumber {
		t.Fatalf("forwarded %d packets", len(s.pkts))
	}
	for _, p := range s.pkts {
		if p.SSRC != 7 || p.PayloadType != 96 || p.Extension {
			t.Fatalf("header not rewritten for the subscriber: %+v", p.Header)
		}
	}
}

func TestDownTrackSwitchesLayerOnKeyframe(t *testing.T) {
	d, s, _ := testDownTrack(t, 3)
	d.target.Store(0)
	d.forward(vp8Packet(0, 100, 0, true))
	d.forward(vp8Packet(0, 101, 3000, false))
	d.target.Store(2)
	d.forward(vp8Packet(2, 5000, 90000, false)) // not a keyframe: ignored
	d.forward(vp8Packet(0, 102, 6000, false))   // old layer continues until the switch
	d.forward(vp8Packet(2, 5001, 93000, true))  // switch here
	d.forward(vp8Packet(0, 103, 9000, false))   // old layer now dropped
	d.forward(vp8Packet(2, 5002, 96000, false))
	var layers []byte
	for i, p := range s.pkts {
		layers = append(layers, p.Payload[2])
		if i > 0 && p.SequenceNumber != s.pkts[i-1].SequenceNumber+1 {
			t.Fatalf("sequence gap at %d: %d after %d", i, p.SequenceNumber, s.pkts[i-1].SequenceNumber)
		}
		if i > 0 && int32(p.Timestamp-s.pkts[i-1].Timestamp) <= 0 {
			t.Fatalf("timestamp did not advance at %d", i)
		}
	}
	if !bytes.Equal(layers, []byte{0, 0, 0, 2, 2}) {
		t.Fatalf("layers forwarded %v", layers)
	}
	if s.pkts[3].Payload[1]&1 != 0 {
		t.Fatal("switch did not happen on a keyframe")
	}
}

func TestDownTrackOverflowDropsUntilKeyframe(t *testing.T) {
	d, s, log := testDownTrack(t, 1)
	d.forward(vp8Packet(0, 1, 0, true))
	for i := uint16(2); i < 10; i++ {
		d.enqueue(vp8Packet(0, i, uint32(i)*3000, false)) // queue holds 4
	}
	if !d.needKeyframe.Load() {
		t.Fatal("overflow did not mark the track for a keyframe")
	}
	log.mu.Lock()
	plis := len(log.pkts)
	log.mu.Unlock()
	if plis == 0 {
		t.Fatal("overflow did not request a keyframe from the publisher")
	}
	for len(d.queue) > 0 {
		d.forward(<-d.queue)
	}
	if len(s.pkts) != 1 {
		t.Fatalf("%d packets forwarded after overflow, want only the first", len(s.pkts))
	}
	d.forward(vp8Packet(0, 20, 60000, true))
	if len(s.pkts) != 2 || s.pkts[1].SequenceNumber != s.pkts[0].SequenceNumber+1 {
		t.Fatalf("resume at keyframe: %d packets", len(s.pkts))
	}
	if _, dropped := d.Stats(); dropped != 4 {
		t.Fatalf("dropped = %d, want 4", dropped)
	}
}

func TestDownTrackAnswersNACKFromCache(t *testing.T) {
	d, s, _ := testDownTrack(t, 1)
	l := d.recv.layers[0].Load()
	for i := uint16(0); i < 5; i++ {
		p := vp8Packet(0, 300+i, uint32(i)*3000, i == 0)
		raw, err := (&rtp.Packet{Header: p.Header, Payload: p.Payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.cache.Store(300+i, raw); err != nil {
			t.Fatal(err)
		}
		d.forward(p)
	}
	lost := s.pkts[2]
	d.retransmit(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: lost.SequenceNumber}}})
	if len(s.pkts) != 6 {
		t.Fatalf("%d packets after NACK, want 6", len(s.pkts))
	}
	re := s.pkts[5]
	if re.SequenceNumber != lost.SequenceNumber || re.Timestamp != lost.Timestamp || !bytes.Equal(re.Payload, lost.Payload) || re.SSRC != 7 {
		t.Fatalf("retransmission %+v differs from original %+v", re.Header, lost.Header)
	}
	// A NACK for a number never sent is ignored.
	d.retransmit(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: lost.SequenceNumber + 100}}})
	if len(s.pkts) != 6 {
		t.Fatal("NACK for an unsent packet answered")
	}
}

func TestAudioMeter(t *testing.T) {
	var m audioMeter
	for i := 0; i < 10; i++ {
		m.add(0x80 | 20)
	}
	level, active := m.take()
	if !active || level < 0.09 || level > 0.11 {
		t.Fatalf("speech at -20 dBov: level %v, active %v", level, active)
	}
	for i := 0; i < 10; i++ {
		m.add(127)
	}
	if _, active := m.take(); active {
		t.Fatal("silence reported as speech")
	}
	if _, active := m.take(); active {
		t.Fatal("no packets reported as speech")
	}
}

func BenchmarkForward(b *testing.B) {
	d, s, _ := testDownTrack(&testing.T{}, 1)
	d.forward(vp8Packet(0, 0, 0, true))
	p := vp8Packet(0, 1, 3000, false)
	p.Payload = make([]byte, 1100)
	p.Payload[0], p.Payload[1] = 0x10, 1
	for i := 0; b.Loop(); i++ {
		p.Header.SequenceNumber = uint16(i + 1)
		d.forward(p)
		if len(s.pkts) > 1024 {
			s.pkts = s.pkts[:0]
		}
	}
}
