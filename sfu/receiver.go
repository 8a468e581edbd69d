package sfu

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/packetcache"
	"conclave/sfu/simulcast"
	"conclave/sfu/vp8"
)

// Packet is one received RTP packet, shared read-only by every down track it
// is queued to. The reader's own Packet lives only during its fan-out; what
// is queued is a copy (clone).
type Packet struct {
	Header   rtp.Header
	Payload  []byte
	Layer    int
	Keyframe bool // video: first packet of a keyframe
	Arrival  time.Time
}

// cacheSize is the number of packets kept per layer for NACKs: about two
// seconds of a 2 Mbit/s layer.
const cacheSize = 512

// layer is one incoming RTP stream of a track (one simulcast encoding).
type layer struct {
	ssrc  uint32
	cache *packetcache.Cache // video only: nil for audio

	bytes      atomic.Uint64
	lastPacket atomic.Int64 // unix nanos

	mu          sync.Mutex
	windowStart time.Time
	windowBytes uint64
	bitrate     uint64
	lastPLI     time.Time
	firSeq      uint8
}

// newLayer returns the state of a new incoming stream of kind. Only video
// keeps packets for retransmission: the SFU offers NACK for VP8 alone (Opus
// relies on in-band FEC), so an audio cache would never be read, and it
// would cost cacheSize full-size slots (778 KB) per audio track.
func newLayer(ssrc uint32, kind webrtc.RTPCodecType) *layer {
	l := &layer{ssrc: ssrc, windowStart: time.Now()}
	if kind == webrtc.RTPCodecTypeVideo {
		l.cache = packetcache.New(cacheSize)
	}
	return l
}

// ReceiverConfig describes a published track.
type ReceiverConfig struct {
	TrackID string
	Kind    webrtc.RTPCodecType
	// WriteRTCP sends RTCP to the publisher (its PeerConnection's WriteRTCP).
	WriteRTCP func([]rtcp.Packet) error
	// Layers are the publisher's declared simulcast layer sizes, by quality.
	Layers []simulcast.Layer
	// Observe, if set, sees every RTP packet received ("rtp-in"); see
	// Config.Observe.
	Observe func(direction string, b []byte)
	// Stats, if set, counts this track's packets, bytes and loss (usually
	// Engine.Stats()).
	Stats *Stats
	// Batch, if set, is held around each packet's fan-out so that its
	// copies leave in one system call (usually Engine.Batcher()).
	Batch Batcher
}

// Batcher gathers the writes made between Hold and Release.
type Batcher interface {
	Hold()
	Release()
}

// Receiver is a published track: up to three incoming layers, fanned out to
// down tracks.
type Receiver struct {
	cfg   ReceiverConfig
	log   *slog.Logger
	codec webrtc.RTPCodecParameters

	layers [simulcast.MaxLayers]atomic.Pointer[layer]
	nlayer atomic.Int32 // declared layer count

	mu    sync.Mutex
	downs []*DownTrack // copy on write
	fan   atomic.Pointer[[]*DownTrack]

	audio audioMeter

	closed atomic.Bool
	wg     sync.WaitGroup
}

// NewReceiver returns a Receiver for a track whose codec was negotiated as
// codec.
func NewReceiver(cfg ReceiverConfig, codec webrtc.RTPCodecParameters, log *slog.Logger) *Receiver {
	r := &Receiver{cfg: cfg, codec: codec, log: log.With("track", cfg.TrackID)}
	n := len(cfg.Layers)
	if n < 1 {
		n = 1
	}
	if n > simulcast.MaxLayers {
		n = simulcast.MaxLayers
	}
	r.nlayer.Store(int32(n))
	empty := []*DownTrack{}
	r.fan.Store(&empty)
	return r
}

// TrackID is the track's SID.
func (r *Receiver) TrackID() string { return r.cfg.TrackID }

// Kind is audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.cfg.Kind }

// Codec is the negotiated codec.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.codec }

// SupportedCodec reports whether the SFU forwards mime type mime.
func SupportedCodec(mime string) bool {
	return strings.EqualFold(mime, webrtc.MimeTypeOpus) || strings.EqualFold(mime, webrtc.MimeTypeVP8)
}

// AddLayer starts reading one incoming stream of this track. It returns once
// the reader is running; the reader ends when the track's PeerConnection
// closes or Close is called. quality is the simulcast layer (0 without
// simulcast).
func (r *Receiver) AddLayer(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver, quality simulcast.Quality) error {
	if quality < 0 || int(quality) >= simulcast.MaxLayers {
		return fmt.Errorf("sfu: track %s: layer %d out of range", r.cfg.TrackID, quality)
	}
	if r.closed.Load() {
		return ErrClosed
	}
	l := newLayer(uint32(track.SSRC()), r.cfg.Kind)
	if !r.layers[quality].CompareAndSwap(nil, l) {
		return fmt.Errorf("sfu: track %s: layer %d already received", r.cfg.TrackID, quality)
	}
	if int32(quality)+1 > r.nlayer.Load() {
		r.nlayer.Store(int32(quality) + 1)
	}
	var levelID uint8
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			levelID = uint8(ext.ID)
		}
	}
	r.wg.Add(2)
	go r.readLoop(track, l, int(quality), levelID)
	go func() {
		// RTCP from the publisher (sender reports) must be read for the
		// interceptors to see it; the content is not needed here.
		defer r.wg.Done()
		buf := make([]byte, 1500)
		rid := track.RID()
		for {
			var err error
			if rid == "" {
				_, _, err = recv.Read(buf)
			} else {
				_, _, err = recv.ReadSimulcast(buf, rid)
			}
			if err != nil {
				return
			}
		}
	}()
	if r.cfg.Kind == webrtc.RTPCodecTypeVideo {
		r.RequestKeyframe(int(quality), false)
	}
	return nil
}

func (r *Receiver) readLoop(track *webrtc.TrackRemote, l *layer, q int, levelID uint8) {
	defer r.wg.Done()
	defer r.log.Debug("sfu: layer reader ended", "layer", q)
	video := r.cfg.Kind == webrtc.RTPCodecTypeVideo
	// The packet is parsed in place in buf, and p points into it: down
	// tracks that forward at once (forwardDirect) need no copy; the first
	// one that queues gets a copy made once for all of them.
	buf := make([]byte, packetcache.MaxPacketSize)
	var (
		pkt     rtp.Packet
		p       Packet
		gap     seqGap
		started bool
	)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if r.closed.Load() {
			return
		}
		data := buf[:n]
		if r.cfg.Observe != nil {
			r.cfg.Observe("rtp-in", data)
		}
		if err := pkt.Unmarshal(data); err != nil {
			continue
		}
		now := time.Now()
		if l.cache != nil {
			_ = l.cache.Store(pkt.SequenceNumber, data)
		}
		l.bytes.Add(uint64(n))
		r.cfg.Stats.received(n)
		r.cfg.Stats.lost(gap.next(pkt.SequenceNumber))
		l.lastPacket.Store(now.UnixNano())
		if len(pkt.Payload) == 0 {
			// Padding only (bandwidth probing): nothing to forward.
			continue
		}
		if !started {
			// A layer that starts after its subscribers chose one (the
			// high layer often starts last) is offered to them at once,
			// not at their next allocation.
			started = true
			if video {
				for _, d := range *r.fan.Load() {
					d.layerStarted(q)
				}
			}
		}
		if levelID != 0 {
			if ext := pkt.GetExtension(levelID); len(ext) >= 1 {
				r.audio.add(ext[0])
			}
		}
		p = Packet{Header: pkt.Header, Payload: pkt.Payload, Layer: q, Arrival: now}
		p.Header.Extensions = nil
		p.Header.Extension = false
		if video {
			p.Keyframe = vp8.IsKeyframe(p.Payload)
		}
		r.fanOut(&p)
	}
}

// fanOut hands p to every down track: at once where it can, else queued
// (one copy for all the queues).
func (r *Receiver) fanOut(p *Packet) {
	if b := r.cfg.Batch; b != nil {
		b.Hold()
		defer b.Release()
	}
	var queued *Packet
	for _, d := range *r.fan.Load() {
		if d.forwardDirect(p) {
			continue
		}
		if queued == nil {
			queued = p.clone()
		}
		d.enqueue(queued)
	}
}

// clone returns a copy of p that shares no memory with it.
func (p *Packet) clone() *Packet {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	if len(p.Header.CSRC) > 0 {
		c.Header.CSRC = append([]uint32(nil), p.Header.CSRC...)
	}
	return &c
}

// RequestKeyframe asks the publisher for a keyframe on layer q, at most once
// per 300 ms per layer. fir sends a FIR (RFC 5104, Section 4.3.1) instead of
// a PLI (RFC 4585, Section 6.3.1).
func (r *Receiver) RequestKeyframe(q int, fir bool) {
	if q < 0 || q >= simulcast.MaxLayers || r.cfg.Kind != webrtc.RTPCodecTypeVideo {
		return
	}
	l := r.layers[q].Load()
	if l == nil {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastPLI) < 300*time.Millisecond {
		l.mu.Unlock()
		return
	}
	l.lastPLI = now
	var pkt rtcp.Packet = &rtcp.PictureLossIndication{MediaSSRC: l.ssrc}
	if fir {
		l.firSeq++
		pkt = &rtcp.FullIntraRequest{MediaSSRC: l.ssrc, FIR: []rtcp.FIREntry{{SSRC: l.ssrc, SequenceNumber: l.firSeq}}}
	}
	l.mu.Unlock()
	if err := r.cfg.WriteRTCP([]rtcp.Packet{pkt}); err != nil {
		r.log.Debug("sfu: keyframe request not sent", "err", err)
	}
}

// Layers returns the current state of each layer (declared sizes, measured
// bitrate, whether packets arrived in the last second).
func (r *Receiver) Layers() []simulcast.Layer {
	n := int(r.nlayer.Load())
	out := make([]simulcast.Layer, n)
	now := time.Now()
	for q := 0; q < n; q++ {
		if q < len(r.cfg.Layers) {
			out[q].Width, out[q].Height = r.cfg.Layers[q].Width, r.cfg.Layers[q].Height
		}
		l := r.layers[q].Load()
		if l == nil {
			continue
		}
		last := time.Unix(0, l.lastPacket.Load())
		out[q].Active = now.Sub(last) < time.Second
		out[q].Bitrate = l.rate(now)
	}
	return out
}

func (l *layer) rate(now time.Time) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := now.Sub(l.windowStart); el >= time.Second {
		total := l.bytes.Load()
		l.bitrate = (total - l.windowBytes) * 8 * uint64(time.Second) / uint64(el)
		l.windowBytes = total
		l.windowStart = now
	}
	return l.bitrate
}

// cached copies the cached packet seq of layer q into dst.
func (r *Receiver) cached(q int, seq uint16, dst []byte) (int, bool) {
	if q < 0 || q >= simulcast.MaxLayers {
		return 0, false
	}
	l := r.layers[q].Load()
	if l == nil || l.cache == nil {
		return 0, false
	}
	return l.cache.Get(seq, dst)
}

// AudioLevel returns the speaking level (0..1) since the last call and
// whether the participant is speaking, from the RFC 6464 audio level
// extension.
func (r *Receiver) AudioLevel() (float32, bool) { return r.audio.take() }

func (r *Receiver) addDownTrack(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := append(append([]*DownTrack(nil), *r.fan.Load()...), d)
	r.fan.Store(&next)
}

func (r *Receiver) removeDownTrack(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.fan.Load()
	next := make([]*DownTrack, 0, len(cur))
	for _, x := range cur {
		if x != d {
			next = append(next, x)
		}
	}
	r.fan.Store(&next)
}

// Close stops forwarding and closes every down track of this receiver. The
// layer readers end when the publisher's PeerConnection closes.
func (r *Receiver) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.mu.Lock()
	downs := *r.fan.Load()
	empty := []*DownTrack{}
	r.fan.Store(&empty)
	r.mu.Unlock()
	for _, d := range downs {
		d.receiverClosed()
	}
}

// Wait blocks until the layer readers have ended (after the publisher's
// PeerConnection is closed).
func (r *Receiver) Wait() { r.wg.Wait() }

// audioMeter accumulates RFC 6464 levels between speaker updates.
type audioMeter struct {
	mu     sync.Mutex
	sum    float64
	n      int
	active int
}

// speakingLevel is the loudest -dBov value counted as speech.
const speakingLevel = 50

func (m *audioMeter) add(b byte) {
	// RFC 6464, Section 3: V bit, then the level in -dBov (0 loudest, 127 silence).
	lvl := int(b & 0x7f)
	m.mu.Lock()
	m.sum += math.Pow(10, -float64(lvl)/20)
	m.n++
	if lvl <= speakingLevel {
		m.active++
	}
	m.mu.Unlock()
}

func (m *audioMeter) take() (float32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == 0 {
		return 0, false
	}
	level := float32(m.sum / float64(m.n))
	active := m.active*10 >= m.n*3 // at least 30% of packets carried speech
	m.sum, m.n, m.active = 0, 0, 0
	return level, active
}
