package bot

import (
	"errors"
	"slices"
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
	// held counts frames that were held (see onFrame): they arrived before
	// their key was installed, or behind such a frame; heldDropped those
	// of them whose key never came within maxHoldAge (or that were pushed
	// out of a full queue).
	held         uint64
	heldDropped  uint64
	firstFrameAt time.Time
	lastFrameAt  time.Time
	latency      histogram

	// queue holds the frames waiting for their key, oldest first. Only
	// the track's reader goroutine touches it (not under mu).
	queue []heldFrame
}

// heldFrame is a received frame whose key was not installed yet.
type heldFrame struct {
	wire []byte // a copy: the reader's buffer is reused
	at   time.Time
}

// maxHeldFrames and maxHoldAge bound the frames one received track keeps
// while their key is unknown. RFC 9605, Section 4.4.4 lets a receiver
// buffer such a frame until its key arrives: with MLS the first frames of
// a new epoch can overtake the commit that creates it, since media goes
// through the SFU over UDP and the commit through the delivery service
// over a WebSocket. Half a second covers a commit's delivery and
// processing; 64 frames is over a second of audio or video.
const (
	maxHeldFrames = 64
	maxHoldAge    = 500 * time.Millisecond
)

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
// returned for reuse. A frame whose key is not installed yet
// (sframe.ErrUnknownKey), from a cipher whose keys come and go with MLS
// epochs (keysArriveLate; with fixed keys it is a failure), is held until the key arrives or maxHoldAge
// passes; held frames are retried, oldest first, whenever the track
// receives a frame. When a frame decrypts while older ones are still held,
// those are dropped: a track has one sender, whose epochs only go forward,
// so it has moved to a key this receiver holds and theirs will not come (a
// joiner never gets the epochs before the one it joined in). Only the
// track's reader goroutine calls it.
func (b *Bot) onFrame(rt *remoteTrack, wire, plain []byte) []byte {
	now := time.Now()
	rt.mu.Lock()
	rt.framesReceived++
	rt.mu.Unlock()
	plain = b.drainHeld(rt, plain)
	out, err := b.cipher.Open(plain[:0], rt.kind, wire)
	if errors.Is(err, sframe.ErrUnknownKey) && keysArriveLate(b.cipher) {
		rt.hold(wire, now)
		return plain
	}
	if err == nil && len(rt.queue) > 0 {
		rt.mu.Lock()
		rt.heldDropped += uint64(len(rt.queue))
		rt.mu.Unlock()
		clear(rt.queue)
		rt.queue = rt.queue[:0]
	}
	return b.account(rt, now, out, err, plain)
}

// hold queues a copy of wire; a full queue drops its oldest frame.
func (rt *remoteTrack) hold(wire []byte, now time.Time) {
	rt.mu.Lock()
	rt.held++
	if len(rt.queue) >= maxHeldFrames {
		rt.heldDropped++
		rt.queue = slices.Delete(rt.queue, 0, 1)
	}
	rt.mu.Unlock()
	rt.queue = append(rt.queue, heldFrame{wire: slices.Clone(wire), at: now})
}

// drainHeld decrypts the held frames, oldest first, until one still has no
// key and is younger than maxHoldAge; older ones are dropped.
func (b *Bot) drainHeld(rt *remoteTrack, plain []byte) []byte {
	for len(rt.queue) > 0 {
		h := rt.queue[0]
		now := time.Now()
		out, err := b.cipher.Open(plain[:0], rt.kind, h.wire)
		if errors.Is(err, sframe.ErrUnknownKey) {
			if now.Sub(h.at) < maxHoldAge {
				return plain
			}
			rt.mu.Lock()
			rt.heldDropped++
			rt.mu.Unlock()
		} else {
			plain = b.account(rt, now, out, err, plain)
		}
		rt.queue = slices.Delete(rt.queue, 0, 1)
	}
	return plain
}

// account measures one frame that was opened at now: out and err are what
// the cipher returned.
func (b *Bot) account(rt *remoteTrack, now time.Time, out []byte, err error, plain []byte) []byte {
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
