package sfu

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/bwe"
	"conclave/sfu/packetcache"
	"conclave/sfu/seqmap"
	"conclave/sfu/simulcast"
)

type sink struct {
	mu   sync.Mutex
	pkts []rtp.Packet
	// twcc is the transport-wide sequence number of each packet (-1 if
	// none), read when written: the header is reused afterwards.
	twcc []int
}

func (s *sink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := h.Clone()
	s.pkts = append(s.pkts, rtp.Packet{Header: c, Payload: append([]byte(nil), payload...)})
	n := -1
	if ext := c.GetExtension(twccTestID); len(ext) == 2 {
		n = int(binary.BigEndian.Uint16(ext))
	}
	s.twcc = append(s.twcc, n)
	return len(payload), nil
}

// twccTestID is the transport-wide sequence number extension ID in tests.
const twccTestID = 3

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

// TestTransportWideSequenceNumbers: every packet a subscriber's down tracks
// send carries the next transport-wide sequence number of that subscriber's
// transport (draft-holmer-rmcat-transport-wide-cc-extensions-01, Section
// 2), whichever track it belongs to, and the feedback for them reaches the
// estimator.
func TestTransportWideSequenceNumbers(t *testing.T) {
	est := bwe.New(bwe.Config{})
	a, sa, _ := testDownTrack(t, 1)
	b, sb, _ := testDownTrack(t, 1)
	for _, d := range []*DownTrack{a, b} {
		d.bwe = est
		d.bound.Store(&binding{ssrc: d.bound.Load().ssrc, pt: 96, twcc: twccTestID, write: d.bound.Load().write})
	}
	for i := uint16(0); i < 10; i++ {
		a.forward(vp8Packet(0, 100+i, uint32(i)*3000, i == 0))
		b.forward(vp8Packet(0, 500+i, uint32(i)*3000, i == 0))
	}
	var got []int
	for i := range sa.twcc {
		got = append(got, sa.twcc[i], sb.twcc[i])
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("transport-wide numbers %v, want 0..19 in send order", got)
		}
	}
	// Feedback reporting all 20 lost (one received, to anchor it) reaches
	// the estimator through the track's RTCP.
	fb := &rtcp.TransportLayerCC{
		MediaSSRC: 7, BaseSequenceNumber: 0, PacketStatusCount: 20,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1},
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 19},
		},
		RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}},
	}
	a.handleRTCP([]rtcp.Packet{fb})
	if _, _, loss := est.Estimate(); loss < 0.9 {
		t.Fatalf("loss after feedback reporting 19 of 20 lost: %v", loss)
	}
}

// TestSenderReport: a down track's sender report counts what it sent and
// extrapolates the last RTP timestamp to the report's time.
func TestSenderReport(t *testing.T) {
	d, _, _ := testDownTrack(t, 1)
	if _, ok := d.senderReport(time.Now()); ok {
		t.Fatal("sender report before any packet")
	}
	var octets uint32
	for i := uint16(0); i < 5; i++ {
		p := vp8Packet(0, 10+i, 1000+uint32(i)*3000, i == 0)
		octets += uint32(len(p.Payload))
		d.forward(p)
	}
	d.mu.Lock()
	ts, at, _ := d.seq.Last()
	d.mu.Unlock()
	now := at.Add(100 * time.Millisecond)
	sr, ok := d.senderReport(now)
	if !ok {
		t.Fatal("no sender report after sending")
	}
	if sr.SSRC != 7 || sr.PacketCount != 5 || sr.OctetCount != octets {
		t.Fatalf("report %+v, want SSRC 7, 5 packets, %d octets", sr, octets)
	}
	if want := ts + 9000; sr.RTPTime != want { // 100 ms at 90 kHz
		t.Fatalf("RTP time %d, want %d", sr.RTPTime, want)
	}
	if secs := int64(sr.NTPTime>>32) - 2_208_988_800; secs != now.Unix() {
		t.Fatalf("NTP seconds %d, want %d", secs, now.Unix())
	}
}

// TestLayerStartedUpgrades: a subscriber that got the low layer because the
// high one had not started yet is moved to it (and a keyframe asked for)
// as soon as it starts, without waiting for the next allocation.
func TestLayerStartedUpgrades(t *testing.T) {
	d, _, log := testDownTrack(t, 3)
	for q := 1; q < 3; q++ {
		d.recv.layers[q].Load().lastPacket.Store(0) // not started
	}
	d.selectLayer(0)
	if got := d.TargetLayer(); got != 0 {
		t.Fatalf("target %d with only the low layer active, want 0", got)
	}
	hi := d.recv.layers[2].Load()
	hi.lastPacket.Store(time.Now().UnixNano())
	hi.mu.Lock()
	hi.lastPLI = time.Time{}
	hi.mu.Unlock()
	d.layerStarted(2)
	if got := d.TargetLayer(); got != 2 {
		t.Fatalf("target %d after the high layer started, want 2", got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	var asked bool
	for _, p := range log.pkts {
		if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == 102 {
			asked = true
		}
	}
	if !asked {
		t.Fatal("no keyframe requested on the high layer")
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

// TestOnlyVideoKeepsPackets: the packet cache answers NACKs, which the SFU
// offers for VP8 only; audio layers keep none. If Opus ever gains NACK
// feedback, its layers need a cache again.
func TestOnlyVideoKeepsPackets(t *testing.T) {
	for _, fb := range opusCodec.RTCPFeedback {
		if fb.Type == "nack" {
			t.Fatalf("Opus offers NACK feedback (%+v), but audio layers keep no packets", fb)
		}
	}
	if l := newLayer(1, webrtc.RTPCodecTypeAudio); l.cache != nil {
		t.Fatal("an audio layer has a packet cache")
	}
	if l := newLayer(1, webrtc.RTPCodecTypeVideo); l.cache == nil || l.cache.Size() != cacheSize {
		t.Fatalf("a video layer's cache: %v", l.cache)
	}
	r := &Receiver{cfg: ReceiverConfig{Kind: webrtc.RTPCodecTypeAudio}}
	r.layers[0].Store(newLayer(1, webrtc.RTPCodecTypeAudio))
	if _, ok := r.cached(0, 1, make([]byte, 1500)); ok {
		t.Fatal("a NACK for audio found a packet")
	}
}
