package bot

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// rtpMTU is the payload budget per packet, what pion and browsers use.
const rtpMTU = 1200

// localTrack is one outgoing RTP stream (an audio track, or one simulcast
// layer of the video track). It implements webrtc.TrackLocal itself rather
// than using pion's static tracks so that each packet carries the header
// extensions a browser sends: the MID and RID of RFC 8843 and RFC 8852 (the
// SFU identifies simulcast layers by them, as with Chrome, which announces no
// SSRCs for simulcast) and the audio level of RFC 6464.
type localTrack struct {
	id, streamID, rid string
	kind              webrtc.RTPCodecType
	codec             webrtc.RTPCodecCapability

	mu          sync.Mutex
	transceiver *webrtc.RTPTransceiver
	bound       bool
	w           webrtc.TrackLocalWriter
	ssrc        uint32
	pt          uint8
	midID       uint8
	ridID       uint8
	levelID     uint8
	mid         string
	seq         uint16
	payloader   rtp.Payloader
	midBytes    []byte
	ridBytes    []byte
}

var _ webrtc.TrackLocal = (*localTrack)(nil)

func newLocalTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, id, streamID, rid string, seq uint16) *localTrack {
	t := &localTrack{id: id, streamID: streamID, rid: rid, kind: kind, codec: codec, seq: seq}
	if kind == webrtc.RTPCodecTypeVideo {
		// Browsers always send the 15-bit picture ID (RFC 7741 Section 4.2).
		t.payloader = &codecs.VP8Payloader{EnablePictureID: true}
	} else {
		t.payloader = &codecs.OpusPayloader{}
	}
	return t
}

func (t *localTrack) ID() string                { return t.id }
func (t *localTrack) RID() string               { return t.rid }
func (t *localTrack) StreamID() string          { return t.streamID }
func (t *localTrack) Kind() webrtc.RTPCodecType { return t.kind }

func (t *localTrack) setTransceiver(tr *webrtc.RTPTransceiver) {
	t.mu.Lock()
	t.transceiver = tr
	t.mu.Unlock()
}

// Bind implements webrtc.TrackLocal: it records the negotiated SSRC, payload
// type and extension IDs.
func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var chosen *webrtc.RTPCodecParameters
	for i, c := range ctx.CodecParameters() {
		if c.MimeType == t.codec.MimeType || equalFoldASCII(c.MimeType, t.codec.MimeType) {
			chosen = &ctx.CodecParameters()[i]
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bot: track %s: %w", t.id, webrtc.ErrUnsupportedCodec)
	}
	t.midID, t.ridID, t.levelID = 0, 0, 0
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			t.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			if t.rid != "" {
				t.ridID = uint8(e.ID)
			}
		case audioLevelURI:
			t.levelID = uint8(e.ID)
		}
	}
	if t.transceiver != nil {
		t.mid = t.transceiver.Mid()
	}
	t.midBytes, t.ridBytes = []byte(t.mid), []byte(t.rid)
	t.w = ctx.WriteStream()
	t.ssrc = uint32(ctx.SSRC())
	t.pt = uint8(chosen.PayloadType)
	t.bound = true
	return *chosen, nil
}

// Unbind implements webrtc.TrackLocal.
func (t *localTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.bound = false
	t.w = nil
	t.mu.Unlock()
	return nil
}

// errNotBound is returned when writing before negotiation completed; callers
// treat it as "not sending yet".
var errNotBound = errors.New("bot: track not negotiated yet")

// writeFrame packetizes one encoded (and already encrypted) frame and sends
// it. level is the audio level in -dBov (0 loudest, 127 silence), used for
// audio only. It returns the number of packets sent.
func (t *localTrack) writeFrame(frame []byte, timestamp uint32, level uint8, voice bool) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound || t.w == nil {
		return 0, errNotBound
	}
	payloads := t.payloader.Payload(rtpMTU, frame)
	for i, p := range payloads {
		h := rtp.Header{
			Version:        2,
			PayloadType:    t.pt,
			SequenceNumber: t.seq,
			Timestamp:      timestamp,
			SSRC:           t.ssrc,
		}
		t.seq++
		if t.kind == webrtc.RTPCodecTypeVideo {
			// RFC 7741 Section 4.1: the marker bit ends a frame.
			h.Marker = i == len(payloads)-1
		}
		// SetExtension only fails for IDs outside the one-byte range, which
		// the MediaEngine never assigns.
		if t.midID != 0 && t.mid != "" {
			_ = h.SetExtension(t.midID, t.midBytes)
		}
		if t.ridID != 0 {
			_ = h.SetExtension(t.ridID, t.ridBytes)
		}
		if t.levelID != 0 {
			b := level & 0x7f
			if voice {
				b |= 0x80
			}
			_ = h.SetExtension(t.levelID, []byte{b})
		}
		if _, err := t.w.WriteRTP(&h, p); err != nil {
			return i, fmt.Errorf("bot: write rtp: %w", err)
		}
	}
	return len(payloads), nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
