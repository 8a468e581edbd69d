package sframe

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// Synthetic frames shaped like real encoder output.
var (
	// RFC 6386, Section 9.1: tag (key frame, version 0, shown, partition
	// size), start code 9d 01 2a, 640x480 with no scaling.
	vp8Key   = append([]byte{0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte{0xa5, 0x00}, 300)...)
	vp8Delta = append([]byte{0x31, 0x04, 0x00}, bytes.Repeat([]byte{0x3c}, 200)...)
	// RFC 6716, Section 3.1: TOC 0x78 (CELT FB 20 ms, mono, one frame).
	opusFrame = append([]byte{0x78}, bytes.Repeat([]byte{0x0f, 0xf0}, 40)...)
	// Annex B: SPS, PPS, IDR slice with many zero bytes in its data.
	h264IDR = bytes.Join([][]byte{
		{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d},
		{0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80},
		append([]byte{0, 0, 0, 1, 0x65, 0x88, 0x80}, bytes.Repeat([]byte{0, 0, 0, 1, 2, 3}, 50)...),
	}, nil)
	h264Delta = append([]byte{0, 0, 0, 1, 0x41, 0x9a, 0x00}, bytes.Repeat([]byte{0, 0, 3, 0, 0}, 40)...)
)

func TestClearPrefixLen(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		frame []byte
		want  int
		err   error
	}{
		{"vp8 key frame", CodecVP8, vp8Key, 10, nil},
		{"vp8 interframe", CodecVP8, vp8Delta, 1, nil},
		{"vp8 short key frame", CodecVP8, vp8Key[:9], 0, ErrShortFrame},
		{"vp8 empty", CodecVP8, nil, 0, ErrShortFrame},
		{"opus", CodecOpus, opusFrame, 1, nil},
		{"opus empty", CodecOpus, nil, 0, ErrShortFrame},
		{"h264 idr after sps pps", CodecH264, h264IDR, 18 + 4 + 3, nil},
		{"h264 non-idr slice", CodecH264, h264Delta, 4 + 3, nil},
		{"h264 3-byte start code", CodecH264, []byte{0, 0, 1, 0x65, 1, 2, 3}, 6, nil},
		{"h264 no slice", CodecH264, []byte{0, 0, 0, 1, 0x67, 1, 2}, 0, nil},
		{"h264 short slice", CodecH264, []byte{0, 0, 0, 1, 0x65, 1}, 0, ErrShortFrame},
		{"other", CodecOther, vp8Key, 0, nil},
		{"unknown codec", Codec(99), vp8Key, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ClearPrefixLen(tc.codec, tc.frame)
			if tc.name == "unknown codec" {
				if err == nil {
					t.Fatal("unknown codec accepted")
				}
				return
			}
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("ClearPrefixLen = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		frame []byte
	}{
		{"vp8 key", CodecVP8, vp8Key},
		{"vp8 delta", CodecVP8, vp8Delta},
		{"opus", CodecOpus, opusFrame},
		{"h264 idr", CodecH264, h264IDR},
		{"h264 delta", CodecH264, h264Delta},
		{"h264 no slice", CodecH264, []byte{0, 0, 0, 1, 0x06, 0, 0, 0, 0}},
		{"other", CodecOther, vp8Key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, r := newPair(t, AES128GCMSHA256_128, 300)
			wire, err := EncryptFrame(s, tc.codec, nil, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := ClearPrefixLen(tc.codec, tc.frame)
			if wn, err := ClearPrefixLen(tc.codec, wire); err != nil || wn != n {
				t.Fatalf("wire prefix %d, %v; frame prefix %d", wn, err, n)
			}
			if !bytes.Equal(wire[:n], tc.frame[:n]) {
				t.Fatalf("clear prefix changed")
			}
			if bytes.Contains(wire[n:], tc.frame[n:min(len(tc.frame), n+8)]) && len(tc.frame)-n >= 8 {
				t.Fatalf("plaintext visible on the wire")
			}
			if tc.codec == CodecH264 {
				assertNoStartCode(t, wire[max(n-2, 0):])
			}
			got, err := DecryptFrame(r, tc.codec, nil, wire)
			if err != nil || !bytes.Equal(got, tc.frame) {
				t.Fatalf("DecryptFrame = %x, %v", got, err)
			}
			// The clear prefix is authenticated.
			if n > 1 {
				bad := bytes.Clone(wire)
				bad[n-1] ^= 0x40
				_, r2 := newPair(t, AES128GCMSHA256_128, 300)
				if _, err := DecryptFrame(r2, tc.codec, nil, bad); err == nil {
					t.Fatal("changed clear byte accepted")
				}
			}
		})
	}
}

// assertNoStartCode: escaped H.264 data has no 00 00 0x with x <= 3.
func assertNoStartCode(t *testing.T, b []byte) {
	t.Helper()
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] <= 2 {
			t.Fatalf("start-code emulation at %d: % x", i, b[i:i+3])
		}
	}
}

func TestEscapeH264RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		src := make([]byte, rng.IntN(64))
		for j := range src {
			if rng.IntN(3) == 0 {
				src[j] = byte(rng.IntN(4))
			} else if rng.IntN(2) == 0 {
				src[j] = 0
			} else {
				src[j] = byte(rng.IntN(256))
			}
		}
		zeros := rng.IntN(3)
		buf := make([]byte, len(src)*3/2+2)
		w := escapeH264(buf, 0, src, zeros)
		esc := buf[:w]
		lead := bytes.Repeat([]byte{0}, zeros)
		assertNoStartCode(t, append(bytes.Clone(lead), esc...))
		if len(esc) >= 2 && esc[len(esc)-1] == 0 && esc[len(esc)-2] == 0 {
			t.Fatalf("case %d: escaped data ends in 00 00", i)
		}
		if got := unescapeH264(nil, esc, zeros); !bytes.Equal(got, src) {
			t.Fatalf("case %d: round trip % x -> % x -> % x", i, src, esc, got)
		}
	}
}

func TestFrameZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		codec Codec
		frame []byte
	}{{CodecVP8, vp8Key}, {CodecOpus, opusFrame}, {CodecH264, h264IDR}} {
		t.Run(tc.codec.String(), func(t *testing.T) {
			s, r := newPair(t, AES128GCMSHA256_128, 1)
			wbuf := make([]byte, 0, 4*len(tc.frame)+64)
			pbuf := make([]byte, 0, 4*len(tc.frame)+64)
			if a := testing.AllocsPerRun(100, func() {
				wire, err := EncryptFrame(s, tc.codec, wbuf[:0], tc.frame)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := DecryptFrame(r, tc.codec, pbuf[:0], wire); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("%v allocations per frame, want 0", a)
			}
		})
	}
}
