package sframe

import (
	"fmt"
	"slices"
)

// Codec selects the clear-prefix rule of a media frame. The wire frame is
// clear prefix || SFrame ciphertext, and the clear prefix is the SFrame
// metadata, so it is authenticated (RFC 9605, Section 9.4: a receiver must
// not use it before decryption, except to find the ciphertext). Every clear
// byte is listed, with why, in THREAT_MODEL.md, "Clear bytes in media frames".
type Codec uint8

const (
	// CodecOther keeps nothing in the clear.
	CodecOther Codec = iota
	// CodecVP8 keeps 10 bytes of a key frame and 1 byte of an interframe
	// clear (RFC 6386, Section 9.1).
	CodecVP8
	// CodecOpus keeps the 1-byte TOC clear (RFC 6716, Section 3.1).
	CodecOpus
	// CodecH264 keeps the Annex B NAL units before the first coded slice and
	// the first 3 bytes of that slice NAL unit clear (RFC 6184, Section
	// 1.3 and 5.3), and escapes the ciphertext so that it contains no start
	// code (ITU-T H.264, Section 7.4.1).
	CodecH264
)

// String names the codec.
func (c Codec) String() string {
	switch c {
	case CodecOther:
		return "other"
	case CodecVP8:
		return "vp8"
	case CodecOpus:
		return "opus"
	case CodecH264:
		return "h264"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// Clear prefix lengths.
const (
	// VP8KeyFrameClearBytes: the 3-byte frame tag, the 3-byte start code and
	// the 4 bytes of width/height and scaling of a key frame (RFC 6386,
	// Section 9.1).
	VP8KeyFrameClearBytes = 10
	// VP8InterFrameClearBytes: the first byte of the frame tag, whose low
	// bit says key frame or interframe (RFC 6386, Section 9.1).
	VP8InterFrameClearBytes = 1
	// OpusClearBytes: the TOC byte (RFC 6716, Section 3.1).
	OpusClearBytes = 1
	// H264SliceClearBytes: the NAL unit header of the first coded slice and
	// the 2 following bytes of its slice header (first_mb_in_slice,
	// slice_type and pic_parameter_set_id, ITU-T H.264 Section 7.3.3).
	H264SliceClearBytes = 3
)

// ClearPrefixLen returns how many leading bytes of frame stay in the clear
// for codec. It gives the same answer for a plaintext frame and for the wire
// frame built from it by EncryptFrame, because it only reads bytes inside the
// prefix. Frames too short for their rule fail with ErrShortFrame.
func ClearPrefixLen(codec Codec, frame []byte) (int, error) {
	switch codec {
	case CodecOther:
		return 0, nil
	case CodecVP8:
		if len(frame) == 0 {
			return 0, fmt.Errorf("%w: empty vp8 frame", ErrShortFrame)
		}
		// RFC 6386, Section 9.1: bit 0 of the frame tag is 0 for key frames.
		if frame[0]&1 == 0 {
			if len(frame) < VP8KeyFrameClearBytes {
				return 0, fmt.Errorf("%w: vp8 key frame of %d bytes", ErrShortFrame, len(frame))
			}
			return VP8KeyFrameClearBytes, nil
		}
		return VP8InterFrameClearBytes, nil
	case CodecOpus:
		if len(frame) == 0 {
			return 0, fmt.Errorf("%w: empty opus frame", ErrShortFrame)
		}
		return OpusClearBytes, nil
	case CodecH264:
		return h264ClearLen(frame)
	}
	return 0, fmt.Errorf("sframe: unknown codec %v", codec)
}

// h264ClearLen scans the Annex B byte stream for the first coded slice NAL
// unit (nal_unit_type 1 or 5, RFC 6184 Section 1.3) and returns the offset 3
// bytes past its start. A frame with no slice keeps nothing clear; since
// EncryptFrame's escaped ciphertext contains no start code, the receiver
// then finds no slice either.
func h264ClearLen(frame []byte) (int, error) {
	for i := 0; i+3 <= len(frame); {
		if frame[i] != 0 || frame[i+1] != 0 || frame[i+2] != 1 {
			i++
			continue
		}
		nal := i + 3
		if nal < len(frame) {
			if t := frame[nal] & 0x1f; t == 1 || t == 5 {
				if len(frame) < nal+H264SliceClearBytes {
					return 0, fmt.Errorf("%w: h264 slice of %d bytes", ErrShortFrame, len(frame)-nal)
				}
				return nal + H264SliceClearBytes, nil
			}
		}
		i = nal
	}
	return 0, nil
}

// EncryptFrame encrypts an encoded frame of codec and appends the wire frame,
// clear prefix || SFrame ciphertext, to dst. For H.264 the ciphertext is
// escaped against start-code emulation. It allocates nothing when dst has
// room for len(frame)+Overhead bytes (twice that for H.264).
func EncryptFrame(s *Sender, codec Codec, dst, frame []byte) ([]byte, error) {
	n, err := ClearPrefixLen(codec, frame)
	if err != nil {
		return nil, err
	}
	prefix, body := frame[:n], frame[n:]
	dst = append(dst, prefix...)
	if codec != CodecH264 {
		return s.Encrypt(dst, prefix, body)
	}
	// Encrypt into the far end of dst, then escape forward into place: the
	// writer stays behind the reader because escaping adds at most one byte
	// per two input bytes.
	p := len(dst)
	maxCT := len(body) + s.Suite().Overhead()
	gap := maxCT/2 + 2
	buf := slices.Grow(dst, gap+maxCT)
	enc, err := s.Encrypt(buf[p+gap:p+gap], prefix, body)
	if err != nil {
		return nil, err
	}
	buf = buf[:p+gap+maxCT]
	w := escapeH264(buf, p, enc, trailingZeros(prefix))
	return buf[:w], nil
}

// DecryptFrame reverses EncryptFrame: it appends clear prefix || plaintext to
// dst. It allocates nothing when dst has room for len(wire) bytes (twice that
// for H.264).
func DecryptFrame(r Decrypter, codec Codec, dst, wire []byte) ([]byte, error) {
	n, err := ClearPrefixLen(codec, wire)
	if err != nil {
		return nil, err
	}
	prefix, body := wire[:n], wire[n:]
	dst = append(dst, prefix...)
	if codec != CodecH264 {
		return r.Decrypt(dst, prefix, body)
	}
	// Unescape past the end of where the plaintext will go, so the two
	// never overlap.
	p := len(dst)
	buf := slices.Grow(dst, 2*len(body))
	un := unescapeH264(buf[p+len(body):p+len(body)], body, trailingZeros(prefix))
	return r.Decrypt(buf[:p], prefix, un)
}

// Decrypter is what DecryptFrame needs: *Receiver and *MLSReceiver.
type Decrypter interface {
	Decrypt(dst, metadata, frame []byte) ([]byte, error)
}

// trailingZeros counts the zero bytes ending b, up to 2: the state of the
// start-code scanner where the escaped part begins.
func trailingZeros(b []byte) int {
	z := 0
	for i := len(b) - 1; i >= 0 && b[i] == 0 && z < 2; i-- {
		z++
	}
	return z
}

// escapeH264 writes src into buf from index w, inserting an emulation
// prevention byte 0x03 after any two zero bytes that precede a byte <= 3
// (ITU-T H.264, Section 7.4.1), and a final 0x03 if the output ends in two
// zeros. zeros is the count of zero bytes just before w. It returns the end
// index. buf must have room for len(src)*3/2+2 bytes from w; src may lie in
// buf ahead of w (see EncryptFrame).
func escapeH264(buf []byte, w int, src []byte, zeros int) int {
	for i := 0; i < len(src); i++ {
		b := src[i]
		if zeros >= 2 && b <= 3 {
			buf[w] = 3
			w++
			zeros = 0
		}
		buf[w] = b
		w++
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if zeros >= 2 {
		buf[w] = 3
		w++
	}
	return w
}

// unescapeH264 appends src to dst without the emulation prevention bytes
// (a 0x03 after two zero bytes).
func unescapeH264(dst, src []byte, zeros int) []byte {
	for _, b := range src {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}
