package bot

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Marker is the 8-byte magic that starts the plaintext body of every frame a
// bot sends. Tests that check that no server component ever sees plaintext
// search the server's bytes for it.
var Marker = [8]byte{'C', 'N', 'C', 'L', 'V', 'B', 'O', 'T'}

// payloadHeaderLen is the size of the marker header inside each frame body.
const payloadHeaderLen = 24

// Kind says which medium a frame belongs to.
type Kind uint8

// Kinds of media.
const (
	KindAudio Kind = 1
	KindVideo Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindVideo:
		return "video"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Layer is a simulcast layer: 0 low (rid q), 1 medium (rid h), 2 high (rid f).
// Audio frames carry layer 0.
type Layer uint8

// Simulcast layers, in the order livekit-client publishes them.
const (
	LayerLow    Layer = 0
	LayerMedium Layer = 1
	LayerHigh   Layer = 2
)

// RID is the RTP stream ID (RFC 8852) the layer is sent with.
func (l Layer) RID() string { return [...]string{"q", "h", "f", "?"}[min(int(l), 3)] }

func (l Layer) String() string {
	return [...]string{"low", "medium", "high", "unknown"}[min(int(l), 3)]
}

// ErrNotBotPayload is returned by ParsePayload for bytes that do not start
// with Marker or are too short to hold the header.
var ErrNotBotPayload = errors.New("bot: not a bot payload")

// Payload is what a bot frame says about itself, after the codec header.
//
// Layout (big endian), following the codec header (VP8 payload header or
// Opus TOC byte):
//
//	0..8    Marker
//	8       Kind
//	9       Layer
//	10      flags (bit 0: keyframe)
//	11      reserved, zero
//	12..16  Seq: frame number, shared by the simulcast layers of one frame
//	16..24  SentUnixNano: send time
//	24..    filler up to the frame's size
type Payload struct {
	Kind         Kind
	Layer        Layer
	Keyframe     bool
	Seq          uint32
	SentUnixNano int64
}

// put writes p's header into b, which must hold payloadHeaderLen bytes.
func (p Payload) put(b []byte) {
	copy(b[0:8], Marker[:])
	b[8] = byte(p.Kind)
	b[9] = byte(p.Layer)
	b[10] = 0
	if p.Keyframe {
		b[10] = 1
	}
	b[11] = 0
	binary.BigEndian.PutUint32(b[12:16], p.Seq)
	binary.BigEndian.PutUint64(b[16:24], uint64(p.SentUnixNano))
}

// ParsePayload reads the header that follows the codec header of a decrypted
// frame body.
func ParsePayload(b []byte) (Payload, error) {
	if len(b) < payloadHeaderLen || [8]byte(b[0:8]) != Marker {
		return Payload{}, ErrNotBotPayload
	}
	p := Payload{
		Kind:         Kind(b[8]),
		Layer:        Layer(b[9]),
		Keyframe:     b[10]&1 == 1,
		Seq:          binary.BigEndian.Uint32(b[12:16]),
		SentUnixNano: int64(binary.BigEndian.Uint64(b[16:24])),
	}
	if p.Kind != KindAudio && p.Kind != KindVideo {
		return Payload{}, fmt.Errorf("%w: kind %d", ErrNotBotPayload, b[8])
	}
	if p.Layer > LayerHigh {
		return Payload{}, fmt.Errorf("%w: layer %d", ErrNotBotPayload, b[9])
	}
	return p, nil
}

// opusTOC is the TOC byte of RFC 6716 Section 3.1 for configuration 15
// (hybrid, fullband, 20 ms), mono, one frame: what a browser sends for speech.
const opusTOC = 15 << 3

// vp8 frame header sizes, RFC 6386 Section 9.1: a 3-byte frame tag, and for
// keyframes a 3-byte start code and two 2-byte dimensions.
const (
	vp8DeltaHeaderLen = 3
	vp8KeyHeaderLen   = 10
)

// buildAudioFrame writes an Opus-shaped frame of size bytes into dst.
func buildAudioFrame(dst []byte, size int, p Payload) []byte {
	size = max(size, 1+payloadHeaderLen)
	dst = growZero(dst, size)
	dst[0] = opusTOC
	p.put(dst[1:])
	fill(dst[1+payloadHeaderLen:], p.Seq)
	return dst
}

// buildVideoFrame writes a VP8-shaped frame of size bytes into dst: a frame
// header as RFC 6386 Section 9.1 lays it out, then the payload header.
func buildVideoFrame(dst []byte, size int, width, height uint16, p Payload) []byte {
	hdr := vp8DeltaHeaderLen
	if p.Keyframe {
		hdr = vp8KeyHeaderLen
	}
	size = max(size, hdr+payloadHeaderLen)
	dst = growZero(dst, size)
	// Frame tag: bit 0 is 0 for a keyframe, bits 1-3 version 0, bit 4
	// show_frame, bits 5-23 first partition size.
	firstPart := uint32(min(size-hdr, 1<<19-1) / 4)
	tag := firstPart<<5 | 1<<4
	if !p.Keyframe {
		tag |= 1
	}
	dst[0], dst[1], dst[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if p.Keyframe {
		dst[3], dst[4], dst[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(dst[6:8], width&0x3fff)
		binary.LittleEndian.PutUint16(dst[8:10], height&0x3fff)
	}
	p.put(dst[hdr:])
	fill(dst[hdr+payloadHeaderLen:], p.Seq)
	return dst
}

// frameBody returns the part of a decrypted frame after its codec header.
func frameBody(kind Kind, frame []byte) ([]byte, error) {
	switch kind {
	case KindAudio:
		if len(frame) < 1 {
			return nil, ErrNotBotPayload
		}
		return frame[1:], nil
	case KindVideo:
		if len(frame) < vp8DeltaHeaderLen {
			return nil, ErrNotBotPayload
		}
		if frame[0]&1 == 0 {
			if len(frame) < vp8KeyHeaderLen {
				return nil, ErrNotBotPayload
			}
			return frame[vp8KeyHeaderLen:], nil
		}
		return frame[vp8DeltaHeaderLen:], nil
	}
	return nil, ErrNotBotPayload
}

// isVP8Keyframe reports whether an encoded VP8 frame is a keyframe: the P bit
// of the frame tag (RFC 6386 Section 9.1) is zero.
func isVP8Keyframe(frame []byte) bool { return len(frame) > 0 && frame[0]&1 == 0 }

func growZero(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// fill writes a cheap, frame-dependent pattern so that frames are not runs of
// zeros (which would compress or hide length bugs).
func fill(b []byte, seed uint32) {
	x := seed*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}
