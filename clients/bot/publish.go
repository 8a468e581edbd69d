package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// layerSpec describes one simulcast layer as livekit-client's default camera
// presets publish it (client-sdk-js: VideoPresets, computeVideoEncodings).
type layerSpec struct {
	layer         Layer
	width, height uint16
	bitrate       int // bits per second
}

var videoLayers = [3]layerSpec{
	{LayerLow, 320, 180, 150_000},
	{LayerMedium, 640, 360, 500_000},
	{LayerHigh, 1280, 720, 1_700_000},
}

const (
	audioFrameInterval = 20 * time.Millisecond
	videoFPS           = 30
	videoFrameInterval = time.Second / videoFPS
	// keyframeInterval is how often every layer sends a keyframe unprompted.
	keyframeInterval = 3 * time.Second
	// keyframeScale is how much larger than an average frame a keyframe is.
	keyframeScale = 4
	// minKeyframeGap rate-limits keyframes asked for by PLI/FIR per layer,
	// as encoders do.
	minKeyframeGap = 100 * time.Millisecond
	// maxCatchUp is how late the media loop may fall before it skips frames.
	maxCatchUp = 100 * time.Millisecond
)

// publication is what the bot publishes: one audio track and one video track
// with three layers, each backed by a localTrack.
type publication struct {
	audio *localTrack
	video [3]*localTrack

	audioSender *webrtc.RTPSender
	videoSender *webrtc.RTPSender

	// keyframeWanted is set by RTCP readers (PLI/FIR) and cleared by the
	// media loop when it sends a keyframe on that layer.
	keyframeWanted [3]atomic.Bool
	lastKeyframe   [3]atomic.Int64 // unix nanos

	audioCID, videoCID string
	audioInfo          *livekit.TrackInfo
	videoInfo          *livekit.TrackInfo
}

func newPublication(rng *rand.Rand, audio, video bool) *publication {
	p := &publication{}
	stream := "stream-" + randomID(rng, 12)
	if audio {
		p.audioCID = "audio-" + randomID(rng, 12)
		p.audio = newLocalTrack(webrtc.RTPCodecTypeAudio, opusCodec.RTPCodecCapability, p.audioCID, stream, "", uint16(rng.Uint32()))
	}
	if video {
		p.videoCID = "video-" + randomID(rng, 12)
		for i, l := range videoLayers {
			p.video[i] = newLocalTrack(webrtc.RTPCodecTypeVideo, vp8Codec.RTPCodecCapability, p.videoCID, stream, l.layer.RID(), uint16(rng.Uint32()))
		}
	}
	return p
}

// addTrackRequests returns what livekit-client sends before negotiating
// (client-sdk-js: LocalParticipant.publishTrack).
func (p *publication) addTrackRequests(enc livekit.Encryption_Type) []*livekit.AddTrackRequest {
	var reqs []*livekit.AddTrackRequest
	if p.audio != nil {
		reqs = append(reqs, &livekit.AddTrackRequest{
			Cid:        p.audioCID,
			Name:       "microphone",
			Type:       livekit.TrackType_AUDIO,
			Source:     livekit.TrackSource_MICROPHONE,
			Encryption: enc,
			// livekit-client disables RED when E2EE is on.
			DisableRed: true,
		})
	}
	if p.video[0] != nil {
		layers := make([]*livekit.VideoLayer, 0, len(videoLayers))
		for _, l := range videoLayers {
			layers = append(layers, &livekit.VideoLayer{
				Quality: livekit.VideoQuality(l.layer),
				Width:   uint32(l.width),
				Height:  uint32(l.height),
				Bitrate: uint32(l.bitrate),
			})
		}
		top := videoLayers[len(videoLayers)-1]
		reqs = append(reqs, &livekit.AddTrackRequest{
			Cid:             p.videoCID,
			Name:            "camera",
			Type:            livekit.TrackType_VIDEO,
			Source:          livekit.TrackSource_CAMERA,
			Width:           uint32(top.width),
			Height:          uint32(top.height),
			Layers:          layers,
			SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: "vp8", Cid: p.videoCID}},
			Encryption:      enc,
			DisableRed:      true,
		})
	}
	return reqs
}

// attach adds the publication's transceivers to the publisher connection.
func (p *publication) attach(pc *webrtc.PeerConnection) error {
	sendonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	if p.audio != nil {
		tr, err := pc.AddTransceiverFromTrack(p.audio, sendonly)
		if err != nil {
			return fmt.Errorf("bot: add audio transceiver: %w", err)
		}
		p.audio.setTransceiver(tr)
		p.audioSender = tr.Sender()
	}
	if p.video[0] != nil {
		tr, err := pc.AddTransceiverFromTrack(p.video[0], sendonly)
		if err != nil {
			return fmt.Errorf("bot: add video transceiver: %w", err)
		}
		for _, t := range p.video {
			t.setTransceiver(tr)
		}
		for _, t := range p.video[1:] {
			if err := tr.Sender().AddEncoding(t); err != nil {
				return fmt.Errorf("bot: add simulcast encoding %s: %w", t.rid, err)
			}
		}
		p.videoSender = tr.Sender()
	}
	return nil
}

// readRTCP drains RTCP for one outgoing stream (which also feeds pion's NACK
// responder and report interceptors) and turns PLI and FIR into keyframe
// requests for layer. It returns when the sender stops.
func (p *publication) readRTCP(read func() ([]rtcp.Packet, error), layer int, onKeyframeRequest func()) {
	for {
		pkts, err := read()
		if err != nil {
			return
		}
		if layer < 0 {
			continue
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.keyframeWanted[layer].Store(true)
				onKeyframeRequest()
			}
		}
	}
}

// mediaSource makes the synthetic frames: sizes vary around each stream's
// mean by up to ±15%, keyframes come every keyframeInterval and on request.
type mediaSource struct {
	rng      *rand.Rand
	cipher   FrameCipher
	audioSeq uint32
	videoSeq uint32
	audioTS  uint32 // RTP timestamp base, 48 kHz
	videoTS  [3]uint32
	plain    []byte
	wire     []byte
	sinceKey [3]time.Duration
}

// sendAudio builds, encrypts and sends one 20 ms Opus frame.
func (b *Bot) sendAudio(src *mediaSource, now time.Time) {
	t := b.pub.audio
	if t == nil {
		return
	}
	seq := src.audioSeq
	if b.cfg.AudioSource != nil {
		frame := b.cfg.AudioSource()
		if frame == nil {
			return // muted: nothing goes out
		}
		src.plain = append(src.plain[:0], frame...)
	} else {
		p := Payload{Kind: KindAudio, Seq: seq, SentUnixNano: now.UnixNano()}
		// Speech-like Opus frames at ~32 kbit/s: 60 to 120 bytes.
		size := 60 + src.rng.IntN(61)
		src.plain = buildAudioFrame(src.plain, size, p)
	}
	wire, err := src.cipher.Seal(src.wire[:0], KindAudio, src.plain)
	if err != nil {
		b.stats.sealFailures.Add(1)
		return
	}
	src.wire = wire
	ts := src.audioTS + seq*uint32(48000*audioFrameInterval/time.Second)
	n, err := t.writeFrame(wire, ts, 30, true)
	if errors.Is(err, errNotBound) {
		return
	}
	src.audioSeq++
	b.stats.audioFramesSent.Add(1)
	b.stats.packetsSent.Add(uint64(n))
	b.stats.bytesSent.Add(uint64(len(wire)))
}

// sendVideo builds, encrypts and sends one frame on each simulcast layer.
func (b *Bot) sendVideo(src *mediaSource, now time.Time) {
	if b.pub.video[0] == nil {
		return
	}
	seq := src.videoSeq
	sent := false
	for i, spec := range videoLayers {
		t := b.pub.video[i]
		src.sinceKey[i] += videoFrameInterval
		key := src.sinceKey[i] >= keyframeInterval || seq == 0
		if b.pub.keyframeWanted[i].Load() {
			last := time.Unix(0, b.pub.lastKeyframe[i].Load())
			if now.Sub(last) >= minKeyframeGap {
				key = true
			}
		}
		mean := spec.bitrate / 8 / videoFPS
		size := mean * (85 + src.rng.IntN(31)) / 100
		if key {
			size = mean * keyframeScale
		}
		p := Payload{Kind: KindVideo, Layer: spec.layer, Keyframe: key, Seq: seq, SentUnixNano: now.UnixNano()}
		src.plain = buildVideoFrame(src.plain, size, spec.width, spec.height, p)
		wire, err := src.cipher.Seal(src.wire[:0], KindVideo, src.plain)
		if err != nil {
			b.stats.sealFailures.Add(1)
			continue
		}
		src.wire = wire
		ts := src.videoTS[i] + seq*uint32(90000/videoFPS)
		n, err := t.writeFrame(wire, ts, 0, false)
		if errors.Is(err, errNotBound) {
			continue
		}
		sent = true
		if key {
			src.sinceKey[i] = 0
			b.pub.keyframeWanted[i].Store(false)
			b.pub.lastKeyframe[i].Store(now.UnixNano())
			b.stats.keyframesSent.Add(1)
		}
		b.stats.videoFramesSent.Add(1)
		b.stats.packetsSent.Add(uint64(n))
		b.stats.bytesSent.Add(uint64(len(wire)))
	}
	if sent {
		src.videoSeq++
	}
}

// mediaLoop paces audio every 20 ms and video at 30 fps from one goroutine,
// on a schedule fixed to its start so that timer jitter does not drift.
func (b *Bot) mediaLoop(ctx context.Context) {
	src := &mediaSource{
		rng:     rand.New(rand.NewPCG(b.rng.Uint64(), b.rng.Uint64())),
		cipher:  b.cipher,
		audioTS: b.rng.Uint32(),
		plain:   make([]byte, 0, 64<<10),
		wire:    make([]byte, 0, 64<<10),
	}
	for i := range src.videoTS {
		src.videoTS[i] = b.rng.Uint32()
	}
	start := time.Now()
	var na, nv int64
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		nextA := start.Add(time.Duration(na) * audioFrameInterval)
		nextV := start.Add(time.Duration(nv) * videoFrameInterval)
		next := nextA
		if b.pub.audio == nil || (b.pub.video[0] != nil && nextV.Before(nextA)) {
			next = nextV
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		// A starved process skips frames rather than bursting them, as an
		// encoder would; sequence numbers count sent frames only, so a skip
		// is not reported as loss.
		if lag := now.Sub(start.Add(time.Duration(na) * audioFrameInterval)); lag > maxCatchUp {
			na += int64(lag / audioFrameInterval)
		}
		if lag := now.Sub(start.Add(time.Duration(nv) * videoFrameInterval)); lag > maxCatchUp {
			nv += int64(lag / videoFrameInterval)
		}
		if b.pub.audio != nil {
			for !now.Before(start.Add(time.Duration(na) * audioFrameInterval)) {
				b.sendAudio(src, now)
				na++
			}
		}
		if b.pub.video[0] != nil {
			for !now.Before(start.Add(time.Duration(nv) * videoFrameInterval)) {
				b.sendVideo(src, now)
				nv++
			}
		}
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomID(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[rng.IntN(len(idAlphabet))]
	}
	return string(b)
}
