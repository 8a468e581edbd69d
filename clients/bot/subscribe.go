package bot

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"conclave/e2ee/sframe"
)

// remoteTrack is what a bot knows and measures about one track it receives.
// Its counters are written by the track's reader goroutine and read by
// reports, under mu.
type remoteTrack struct {
	sid            string
	participantSID string
	kind           Kind
	subscribedAt   time.Time

	mu              sync.Mutex
	packets         uint64
	framesReceived  uint64
	framesDecrypted uint64
	decryptFailures uint64
	duplicates      uint64
	// notBotPayload counts decrypted frames that carry no bot payload
	// (media from a browser or a phone).
	notBotPayload  uint64
	incomplete     uint64
	lost           uint64
	haveSeq        bool
	highest        uint32
	haveLayer      bool
	layer          Layer
	layerFrames    [3]uint64
	switches       uint64
	switchesOffKey uint64
	firstKey       bool // the first video frame was a keyframe
	waitingKey     bool // no keyframe since the start or the last layer change
	lastPLI        time.Time
	plis           uint64
	firstFrameAt   time.Time
	lastFrameAt    time.Time
	latency        histogram
}

// trackSIDs returns the track and participant SIDs of a received track. The
// SFU names the stream "<participant SID>|<track SID>" and the track by its
// SID, as LiveKit does; the MID map of the offer is the fallback.
func trackSIDs(tr *webrtc.TrackRemote, mid string, midToTrack func(string) string) (trackSID, participantSID string) {
	trackSID = tr.ID()
	if p, t, ok := strings.Cut(tr.StreamID(), "|"); ok {
		participantSID = p
		if !strings.HasPrefix(trackSID, "TR_") && t != "" {
			trackSID = t
		}
	}
	if !strings.HasPrefix(trackSID, "TR_") {
		if t := midToTrack(mid); t != "" {
			trackSID = t
		}
	}
	return trackSID, participantSID
}

// onTrack is the subscriber connection's OnTrack handler.
func (b *Bot) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	mid := ""
	for _, t := range b.subC.pc.GetTransceivers() {
		if t.Receiver() == recv {
			mid = t.Mid()
			break
		}
	}
	sid, psid := trackSIDs(tr, mid, b.midToTrack)
	kind := KindAudio
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		kind = KindVideo
	}
	rt := &remoteTrack{sid: sid, participantSID: psid, kind: kind, subscribedAt: time.Now()}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return
	}
	b.remote = append(b.remote, rt)
	b.wg.Add(1)
	b.mu.Unlock()
	if kind == KindVideo {
		b.sendTrackSettings([]string{sid}, b.Quality())
	}
	go func() {
		defer b.wg.Done()
		b.readTrack(tr, rt)
	}()
}

// readTrack reads one received track until its connection closes and hands
// every frame to onFrame.
func (b *Bot) readTrack(tr *webrtc.TrackRemote, rt *remoteTrack) {
	buf := make([]byte, 1500)
	var (
		pkt   rtp.Packet
		asm   vp8Assembler
		plain = make([]byte, 0, 16<<10)
	)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || len(pkt.Payload) == 0 {
			continue // not RTP, or padding only (bandwidth probes)
		}
		rt.mu.Lock()
		rt.packets++
		rt.mu.Unlock()
		if rt.kind == KindAudio {
			// RFC 7587 Section 4.2: one Opus frame per packet.
			plain = b.onFrame(rt, pkt.Payload, plain)
			continue
		}
		frame, complete, dropped := asm.push(&pkt)
		if dropped {
			rt.countIncomplete()
			b.requestKeyframe(rt, uint32(tr.SSRC()))
		}
		if complete {
			plain = b.onFrame(rt, frame, plain)
			if rt.needsKeyframe() {
				b.requestKeyframe(rt, uint32(tr.SSRC()))
			}
		}
	}
}

// maxFrameSize bounds a reassembled video frame.
const maxFrameSize = 1 << 20

// vp8Assembler rebuilds VP8 frames from RTP packets (RFC 7741): a frame
// starts at a packet with S=1 and partition 0, continues with consecutive
// sequence numbers of the same timestamp, and ends at the marker bit. A gap
// drops the frame being built.
//
// Partial frames before the first complete one are not reported as dropped:
// a subscription may begin in the middle of a frame (packets that arrive
// before the subscriber's SRTP session is up are lost to it).
type vp8Assembler struct {
	desc    codecs.VP8Packet
	frame   []byte
	inFrame bool
	started bool // a frame has completed
	ts      uint32
	lastSeq uint16
}

// push adds one packet. It returns the frame when pkt completes one (valid
// until the next push), and dropped when a partial frame was abandoned.
func (a *vp8Assembler) push(pkt *rtp.Packet) (frame []byte, complete, dropped bool) {
	frame, complete, dropped = a.push1(pkt)
	if complete {
		a.started = true
	}
	return frame, complete, dropped && a.started
}

func (a *vp8Assembler) push1(pkt *rtp.Packet) (frame []byte, complete, dropped bool) {
	payload, err := a.desc.Unmarshal(pkt.Payload)
	if err != nil {
		dropped = a.inFrame
		a.inFrame = false
		return nil, false, dropped
	}
	switch {
	case a.desc.S == 1 && a.desc.PID == 0:
		dropped = a.inFrame
		a.inFrame, a.ts, a.frame = true, pkt.Timestamp, a.frame[:0]
	case !a.inFrame:
		return nil, false, false
	case pkt.Timestamp != a.ts || pkt.SequenceNumber != a.lastSeq+1:
		a.inFrame = false
		return nil, false, true
	}
	if len(a.frame)+len(payload) > maxFrameSize {
		a.inFrame = false
		return nil, false, true
	}
	a.lastSeq = pkt.SequenceNumber
	a.frame = append(a.frame, payload...)
	if pkt.Marker {
		a.inFrame = false
		return a.frame, true, dropped
	}
	return nil, false, dropped
}

// minPLIInterval rate-limits the keyframe requests of one received track.
const minPLIInterval = 200 * time.Millisecond

// needsKeyframe reports whether the track's decoder would be stuck: video
// whose first frame, or first frame of a new layer, was not a keyframe and no
// keyframe followed.
func (rt *remoteTrack) needsKeyframe() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.kind == KindVideo && rt.waitingKey
}

// requestKeyframe sends a Picture Loss Indication (RFC 4585 Section 6.3.1)
// for a received video track, as a browser's decoder does when it lost a
// frame and cannot go on decoding.
func (b *Bot) requestKeyframe(rt *remoteTrack, ssrc uint32) {
	rt.mu.Lock()
	now := time.Now()
	if now.Sub(rt.lastPLI) < minPLIInterval {
		rt.mu.Unlock()
		return
	}
	rt.lastPLI = now
	rt.plis++
	rt.mu.Unlock()
	if err := b.subC.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		b.log.Debug("PLI not sent", "err", err)
	}
}

func (rt *remoteTrack) countIncomplete() {
	rt.mu.Lock()
	rt.incomplete++
	rt.mu.Unlock()
}

// onFrame decrypts and measures one received frame; plain is scratch space,
// returned for reuse.
func (b *Bot) onFrame(rt *remoteTrack, wire, plain []byte) []byte {
	now := time.Now()
	out, err := b.cipher.Open(plain[:0], rt.kind, wire)
	var p Payload
	var payloadErr error
	if err == nil {
		plain = out
		var body []byte
		if body, payloadErr = frameBody(rt.kind, out); payloadErr == nil {
			p, payloadErr = ParsePayload(body)
		}
		if payloadErr == nil && p.Kind != rt.kind {
			payloadErr = ErrNotBotPayload
		}
	}
	if err == nil && payloadErr != nil && rt.kind == KindAudio && b.cfg.AudioSink != nil {
		// Real audio (a browser's or a phone's) for the sink, outside
		// rt.mu: the sink must not run under the track's lock.
		b.deliverAudio(rt.participantSID, out)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.framesReceived++
	if err != nil {
		if errors.Is(err, sframe.ErrReplay) {
			// A frame seen before (a network duplicate), refused by the
			// replay window of RFC 9605 Section 4.4.4: not a failure.
			rt.duplicates++
		} else {
			rt.decryptFailures++
		}
		return plain
	}
	// SFrame authenticated and decrypted it: decrypted, whoever made it.
	rt.framesDecrypted++
	if payloadErr != nil {
		// Real media (a browser's Opus or VP8), not a bot's test payload:
		// nothing to measure in it.
		rt.notBotPayload++
		return plain
	}
	rt.latency.add(now.Sub(time.Unix(0, p.SentUnixNano)))
	if rt.firstFrameAt.IsZero() {
		rt.firstFrameAt = now
		b.firstFrame.CompareAndSwap(0, now.UnixNano())
	}
	rt.lastFrameAt = now
	switch {
	case !rt.haveSeq:
		rt.haveSeq, rt.highest = true, p.Seq
	case p.Seq > rt.highest:
		rt.lost += uint64(p.Seq - rt.highest - 1)
		rt.highest = p.Seq
	}
	if rt.kind == KindVideo {
		// The keyframe flag is inside the authenticated payload; the clear
		// VP8 header must agree with it.
		key := p.Keyframe && isVP8Keyframe(out)
		switch {
		case !rt.haveLayer:
			// A decoder cannot start on a delta frame: it waits for a
			// keyframe (and asks for one, see readTrack).
			rt.firstKey = key
			rt.waitingKey = !key
		case p.Layer != rt.layer:
			rt.switches++
			if !key {
				// Nor can it switch resolution on a delta frame.
				rt.switchesOffKey++
				rt.waitingKey = true
			}
		}
		rt.haveLayer, rt.layer = true, p.Layer
		if key {
			rt.waitingKey = false
		}
		rt.layerFrames[p.Layer]++
	}
	return plain
}

// sendTrackSettings asks the SFU for a layer of the given video tracks
// (client-sdk-js: RemoteTrackPublication.setVideoQuality).
func (b *Bot) sendTrackSettings(sids []string, q Layer) {
	b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_TrackSetting{
		TrackSetting: &livekit.UpdateTrackSettings{TrackSids: sids, Quality: livekit.VideoQuality(q)},
	}})
}
