package opus

/*
#cgo pkg-config: opus
#include <opus.h>

static int enc_ctl_int(OpusEncoder *e, int req, opus_int32 v) { return opus_encoder_ctl(e, req, v); }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Rate is the sampling rate of the gateway's Opus streams; Channels the
// channels it encodes and decodes (a stereo stream decodes to its mix).
const (
	Rate     = 48000
	Channels = 1
	// FrameSamples is one 20 ms frame at Rate.
	FrameSamples = Rate / 50
	// MaxFrameSamples is the longest Opus frame, 120 ms (RFC 6716,
	// Section 2.1.4).
	MaxFrameSamples = Rate * 120 / 1000
	// MaxPacket bounds the packet we encode: one 20 ms frame is at most
	// 1275 bytes (RFC 6716, Section 3.2.1).
	MaxPacket = 1500
)

// Errors.
var (
	// ErrCodec: libopus refused the operation (a corrupt packet, a bad
	// argument); the wrapped text is libopus's.
	ErrCodec = errors.New("opus: codec error")
	// ErrFrameSize: Encode was given a frame that is not 2.5-60 ms.
	ErrFrameSize = errors.New("opus: invalid frame size")
)

func codecErr(op string, code C.int) error {
	return fmt.Errorf("%w: %s: %s", ErrCodec, op, C.GoString(C.opus_strerror(code)))
}

// Encoder is a mono libopus encoder for voice. It is not safe for
// concurrent use; Close frees it.
type Encoder struct{ e *C.OpusEncoder }

// NewEncoder returns a 48 kHz mono VoIP encoder at bitrate bits/s with
// in-band FEC enabled (RFC 6716, Section 2.1.7) for an expected loss of a
// few percent.
func NewEncoder(bitrate int) (*Encoder, error) {
	var code C.int
	e := C.opus_encoder_create(Rate, Channels, C.OPUS_APPLICATION_VOIP, &code)
	if code != C.OPUS_OK {
		return nil, codecErr("create encoder", code)
	}
	enc := &Encoder{e: e}
	for _, c := range []struct {
		req C.int
		v   int
	}{
		{C.OPUS_SET_BITRATE_REQUEST, bitrate},
		{C.OPUS_SET_INBAND_FEC_REQUEST, 1},
		{C.OPUS_SET_PACKET_LOSS_PERC_REQUEST, 5},
		{C.OPUS_SET_SIGNAL_REQUEST, int(C.OPUS_SIGNAL_VOICE)},
	} {
		if code := C.enc_ctl_int(e, c.req, C.opus_int32(c.v)); code != C.OPUS_OK {
			enc.Close()
			return nil, codecErr("encoder ctl", code)
		}
	}
	return enc, nil
}

// Encode appends the Opus packet of one frame of pcm (48 kHz mono, 2.5 to
// 60 ms) to dst.
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	switch len(pcm) {
	case 120, 240, 480, 960, 1920, 2880:
	default:
		return dst, fmt.Errorf("%w: %d samples", ErrFrameSize, len(pcm))
	}
	n := len(dst)
	dst = append(dst, make([]byte, MaxPacket)...)
	out := dst[n:]
	r := C.opus_encode(e.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(len(out)))
	if r < 0 {
		return dst[:n], codecErr("encode", r)
	}
	return dst[:n+int(r)], nil
}

// Close frees the encoder.
func (e *Encoder) Close() {
	if e.e != nil {
		C.opus_encoder_destroy(e.e)
		e.e = nil
	}
}

// Decoder is a mono libopus decoder. It is not safe for concurrent use;
// Close frees it.
type Decoder struct {
	d   *C.OpusDecoder
	buf []int16
}

// NewDecoder returns a 48 kHz mono decoder.
func NewDecoder() (*Decoder, error) {
	var code C.int
	d := C.opus_decoder_create(Rate, Channels, &code)
	if code != C.OPUS_OK {
		return nil, codecErr("create decoder", code)
	}
	return &Decoder{d: d, buf: make([]int16, MaxFrameSamples)}, nil
}

// Decode appends the samples of packet to dst. An empty packet asks for
// packet loss concealment of one 20 ms frame (RFC 6716, Section 4.4).
func (d *Decoder) Decode(dst []int16, packet []byte) ([]int16, error) {
	var r C.int
	if len(packet) == 0 {
		r = C.opus_decode(d.d, nil, 0, (*C.opus_int16)(unsafe.Pointer(&d.buf[0])), FrameSamples, 0)
	} else {
		r = C.opus_decode(d.d, (*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)),
			(*C.opus_int16)(unsafe.Pointer(&d.buf[0])), C.int(len(d.buf)), 0)
	}
	if r < 0 {
		return dst, codecErr("decode", r)
	}
	return append(dst, d.buf[:r]...), nil
}

// Close frees the decoder.
func (d *Decoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}
