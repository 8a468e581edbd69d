package sfu

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/bwe"
	"conclave/sfu/packetcache"
	"conclave/sfu/seqmap"
	"conclave/sfu/simulcast"
)

// Queue lengths per down track: a second or so of media. Beyond that a
// subscriber is too slow and packets are dropped rather than waited for.
const (
	videoQueue = 512
	audioQueue = 64
)

// DownTrack forwards one Receiver to one subscriber. It implements
// webrtc.TrackLocal: pion binds it to the subscriber's RTP sender.
type DownTrack struct {
	id, streamID string
	recv         *Receiver
	log          *slog.Logger
	video        bool

	queue chan *Packet
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	// direct, when it points to true, lets the receiver's reader forward
	// packets itself (see deliver): the subscriber's transport is UDP, whose
	// writes never wait for the subscriber. Nil means always queue.
	direct *atomic.Bool
	// wmu serializes forwarding between the reader and the write loop;
	// pending counts packets queued and not yet forwarded, so that a packet
	// is never forwarded directly ahead of queued ones.
	wmu     sync.Mutex
	pending atomic.Int32
	// The write loop starts on demand (startWriter); closing, under
	// startMu, keeps it from starting during or after close.
	writerStarted atomic.Bool
	startMu       sync.Mutex
	closing       bool

	bound atomic.Pointer[binding]
	// bwe numbers packets for the subscriber's transport (nil: no
	// transport-wide sequence numbers, as in unit tests).
	bwe *bwe.Estimator
	// hdr and ext are the outgoing header, reused under wmu.
	hdr    rtp.Header
	ext    [1]rtp.Extension
	extBuf [2]byte
	// Sender report counters (RFC 3550, Section 6.4.1).
	packets, octets atomic.Uint32

	// target is the simulcast layer to forward (simulcast.None to pause).
	target atomic.Int32
	// share is the bandwidth share of the last allocation (0: unlimited).
	share atomic.Uint64
	// needKeyframe is set after dropping video: forwarding resumes at the
	// next keyframe of the target layer.
	needKeyframe atomic.Bool

	mu      sync.Mutex // guards seq and req
	seq     *seqmap.Map
	req     simulcast.Request
	dropped uint64
	sent    uint64
	// reportedLost is the subscriber's last cumulative loss for this track.
	reportedLost uint32
}

type binding struct {
	ssrc  uint32
	pt    uint8
	twcc  uint8 // transport-wide sequence number extension ID, 0 if not negotiated
	write webrtc.TrackLocalWriter
}

func newDownTrack(recv *Receiver, id, streamID string, direct *atomic.Bool, est *bwe.Estimator, log *slog.Logger) *DownTrack {
	video := recv.Kind() == webrtc.RTPCodecTypeVideo
	n := audioQueue
	if video {
		n = videoQueue
	}
	d := &DownTrack{
		id: id, streamID: streamID, recv: recv, video: video, direct: direct, bwe: est,
		log:   log.With("track", recv.TrackID()),
		queue: make(chan *Packet, n),
		done:  make(chan struct{}),
		seq:   seqmap.New(recv.Codec().ClockRate),
		req:   simulcast.DefaultRequest,
	}
	d.target.Store(0)
	d.needKeyframe.Store(video)
	if direct == nil {
		// Without a transport to write through directly, every packet
		// goes through the queue.
		d.startWriter()
	}
	return d
}

// startWriter starts the write loop the first time a packet is queued: a
// down track written directly from the publisher's reader (UDP) never needs
// its own goroutine.
func (d *DownTrack) startWriter() {
	if d.writerStarted.Load() {
		return
	}
	d.startMu.Lock()
	defer d.startMu.Unlock()
	if d.writerStarted.Load() || d.closing {
		return
	}
	d.wg.Add(1)
	go d.writeLoop()
	d.writerStarted.Store(true)
}

// Bind implements webrtc.TrackLocal.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.recv.Codec().MimeType
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, want) {
			b := &binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), write: ctx.WriteStream()}
			for _, x := range ctx.HeaderExtensions() {
				if x.URI == sdp.TransportCCURI && x.ID > 0 && x.ID < 15 {
					b.twcc = uint8(x.ID)
				}
			}
			d.bound.Store(b)
			if d.video {
				d.needKeyframe.Store(true)
				d.recv.RequestKeyframe(int(d.target.Load()), false)
			}
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber does not accept %s: %w", want, webrtc.ErrUnsupportedCodec)
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal: the track SID.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal: the subscriber receives one stream.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.recv.Kind() }

// Receiver is the track this down track forwards.
func (d *DownTrack) Receiver() *Receiver { return d.recv }

// CurrentLayer is the layer being forwarded, or -1.
func (d *DownTrack) CurrentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.needKeyframe.Load() {
		return -1
	}
	return d.seq.Layer()
}

// TargetLayer is the layer the down track switches to at its next keyframe.
func (d *DownTrack) TargetLayer() int { return int(d.target.Load()) }

// forwardDirect is called by the receiver's reader for every packet. When
// the subscriber's transport is UDP and nothing is queued, it forwards p at
// once on the reader's goroutine and returns true: this saves a goroutine
// hand-off per packet and subscriber, the costliest part of forwarding
// after the system calls, and UDP writes never wait for the subscriber.
// Otherwise the caller queues a copy of p with enqueue.
func (d *DownTrack) forwardDirect(p *Packet) bool {
	dir := d.direct
	if dir == nil || !dir.Load() || !d.wmu.TryLock() {
		return false
	}
	defer d.wmu.Unlock()
	if d.pending.Load() != 0 {
		return false
	}
	d.forward(p)
	return true
}

// enqueue queues p for the write loop; it never blocks.
func (d *DownTrack) enqueue(p *Packet) {
	d.startWriter()
	d.pending.Add(1)
	select {
	case d.queue <- p:
	default:
		d.pending.Add(-1)
		// The subscriber is not keeping up. Audio loses this packet; video
		// loses everything up to the next keyframe, which is requested now.
		d.mu.Lock()
		d.dropped++
		d.mu.Unlock()
		d.recv.cfg.Stats.drop()
		if d.video && !d.needKeyframe.Swap(true) {
			d.recv.RequestKeyframe(int(d.target.Load()), false)
		}
	}
}

func (d *DownTrack) writeLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.done:
			return
		case p := <-d.queue:
			d.wmu.Lock()
			d.forward(p)
			d.pending.Add(-1)
			d.wmu.Unlock()
		}
	}
}

func (d *DownTrack) forward(p *Packet) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	now := time.Now()
	d.mu.Lock()
	if d.video {
		target := int(d.target.Load())
		if target < 0 {
			d.mu.Unlock()
			return
		}
		cur := d.seq.Layer()
		if d.needKeyframe.Load() || p.Layer != cur {
			// Switch, or resume after a drop, only at a keyframe of the
			// target layer.
			if p.Layer != target || !p.Keyframe {
				d.mu.Unlock()
				return
			}
			from := cur
			d.seq.Start(p.Layer, p.Header.SequenceNumber, p.Header.Timestamp, now)
			d.needKeyframe.Store(false)
			d.log.Debug("sfu: forwarding layer", "layer", p.Layer, "from", from, "subscriber_track", d.id)
		}
	} else if !d.seq.Started() {
		d.seq.Start(p.Layer, p.Header.SequenceNumber, p.Header.Timestamp, now)
	}
	outSeq, outTS, ok := d.seq.Forward(p.Layer, p.Header.SequenceNumber, p.Header.Timestamp, now)
	if ok {
		d.sent++
	}
	d.mu.Unlock()
	if !ok {
		return
	}
	d.write(b, &p.Header, p.Payload, outSeq, outTS, now)
}

// write sends one packet to the subscriber. The caller holds wmu, which
// guards the reused header.
func (d *DownTrack) write(b *binding, in *rtp.Header, payload []byte, seq uint16, ts uint32, now time.Time) {
	h := &d.hdr
	*h = rtp.Header{
		Version:        2,
		Marker:         in.Marker,
		PayloadType:    b.pt,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           b.ssrc,
		CSRC:           in.CSRC,
	}
	if b.twcc != 0 && d.bwe != nil {
		// draft-holmer-rmcat-transport-wide-cc-extensions-01, Section 2:
		// a one-byte header extension (RFC 8285) with the number.
		size := 12 + 4*len(in.CSRC) + 8 + len(payload)
		binary.BigEndian.PutUint16(d.extBuf[:], d.bwe.Sent(size, now))
		h.Extensions = d.ext[:0] // appended to in place: no allocation
		if err := h.SetExtension(b.twcc, d.extBuf[:]); err != nil {
			d.log.Debug("sfu: transport-wide sequence number not set", "err", err)
		}
	}
	n, err := b.write.WriteRTP(h, payload)
	if err != nil {
		d.log.Debug("sfu: write to subscriber failed", "err", err)
		return
	}
	d.packets.Add(1)
	d.octets.Add(uint32(len(payload)))
	d.recv.cfg.Stats.sent(n)
}

// senderReport is the down track's sender report at now, if it has sent
// media: the RTP timestamp is the last one sent, advanced by the time since
// it was sent (RFC 3550, Section 6.4.1).
func (d *DownTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := d.bound.Load()
	if b == nil || d.packets.Load() == 0 {
		return nil, false
	}
	d.mu.Lock()
	ts, at, ok := d.seq.Last()
	d.mu.Unlock()
	if !ok {
		return nil, false
	}
	elapsed := now.Sub(at)
	if elapsed < 0 {
		elapsed = 0
	}
	ts += uint32(uint64(elapsed) * uint64(d.recv.Codec().ClockRate) / uint64(time.Second))
	return &rtcp.SenderReport{
		SSRC: b.ssrc, NTPTime: ntpTime(now), RTPTime: ts,
		PacketCount: d.packets.Load(), OctetCount: d.octets.Load(),
	}, true
}

// ntpTime is t in the 64-bit NTP format (RFC 5905, Section 6).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2_208_988_800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// handleRTCP processes the subscriber's RTCP for this track.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			d.keyframeRequested(false)
		case *rtcp.FullIntraRequest:
			d.keyframeRequested(true)
		case *rtcp.TransportLayerNack:
			d.retransmit(p)
		case *rtcp.ReceiverReport:
			d.reportedLoss(p.Reports)
		case *rtcp.TransportLayerCC:
			if d.bwe != nil {
				d.bwe.Feedback(p, time.Now())
			}
		}
	}
}

// reportedLoss adds the growth of the cumulative loss the subscriber
// reports for this track's SSRC (RFC 3550, Section 6.4.1) to the engine's
// Stats.
func (d *DownTrack) reportedLoss(reports []rtcp.ReceptionReport) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	for _, rr := range reports {
		if rr.SSRC != b.ssrc {
			continue
		}
		d.mu.Lock()
		grew := uint64(0)
		if rr.TotalLost > d.reportedLost {
			grew = uint64(rr.TotalLost - d.reportedLost)
		}
		d.reportedLost = rr.TotalLost
		d.mu.Unlock()
		d.recv.cfg.Stats.subscriberLost(grew)
	}
}

func (d *DownTrack) keyframeRequested(fir bool) {
	if !d.video {
		return
	}
	q := d.CurrentLayer()
	if q < 0 {
		q = int(d.target.Load())
	}
	d.recv.RequestKeyframe(q, fir)
}

// retransmit answers a NACK (RFC 4585, Section 6.2.1) from the receiver's
// packet cache, mapping each outgoing sequence number back to its layer.
func (d *DownTrack) retransmit(n *rtcp.TransportLayerNack) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	now := time.Now()
	buf := make([]byte, packetcache.MaxPacketSize)
	var count int
	for _, pair := range n.Nacks {
		for _, seq := range pair.PacketList() {
			if count >= 64 { // bound the work one NACK can cause
				return
			}
			count++
			d.mu.Lock()
			layer, inSeq, ok := d.seq.Lookup(seq)
			tsOff := d.seq.TimestampOffset()
			curLayer := d.seq.Layer()
			d.mu.Unlock()
			if !ok || layer != curLayer {
				// Packets of an earlier run are not retransmitted: their
				// timestamp offset is gone and a keyframe follows anyway.
				continue
			}
			m, ok := d.recv.cached(layer, inSeq, buf)
			if !ok {
				continue
			}
			var pkt rtp.Packet
			if err := pkt.Unmarshal(buf[:m]); err != nil || len(pkt.Payload) == 0 {
				continue
			}
			d.wmu.Lock()
			d.write(b, &pkt.Header, pkt.Payload, seq, pkt.Timestamp+tsOff, now)
			d.wmu.Unlock()
		}
	}
}

// SetRequest changes what the subscriber asked for (UpdateTrackSettings).
func (d *DownTrack) SetRequest(req simulcast.Request) {
	d.mu.Lock()
	d.req = req
	d.mu.Unlock()
}

// selectLayer picks the target layer for a bandwidth share (0 = unlimited)
// and asks the publisher for a keyframe if the layer changes.
func (d *DownTrack) selectLayer(share uint64) {
	if !d.video {
		return
	}
	d.share.Store(share)
	d.mu.Lock()
	req := d.req
	d.mu.Unlock()
	q := int(simulcast.Select(d.recv.Layers(), req, share))
	old := int(d.target.Swap(int32(q)))
	if q >= 0 && (q != old || d.needKeyframe.Load()) && q != d.CurrentLayer() {
		d.recv.RequestKeyframe(q, false)
	}
	if q < 0 && old >= 0 {
		// Paused: resume later only from a keyframe.
		d.needKeyframe.Store(true)
	}
}

// layerStarted reselects the layer, with the last allocation's share, when
// a layer above the target starts arriving.
func (d *DownTrack) layerStarted(q int) {
	if d.video && q > int(d.target.Load()) {
		d.selectLayer(d.share.Load())
	}
}

// Stats returns packets sent and dropped.
func (d *DownTrack) Stats() (sent, dropped uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent, d.dropped
}

func (d *DownTrack) receiverClosed() { d.close() }

func (d *DownTrack) close() {
	d.startMu.Lock()
	d.closing = true
	d.startMu.Unlock()
	d.once.Do(func() {
		close(d.done)
	})
	d.wg.Wait()
}
