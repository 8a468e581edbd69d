package vp8

import (
	"bytes"
	"errors"
	"testing"
)

// Packets as libwebrtc sends them: descriptor with a 15-bit PictureID,
// TL0PICIDX and TID, then the first bytes of the frame. The keyframe's clear
// prefix is the 10-byte VP8 keyframe header (RFC 6386, Section 9.1).
var (
	keyframe = []byte{0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xaa, 0xbb}
	delta    = []byte{0x90, 0xe0, 0x81, 0x24, 0x05, 0x80, 0x31, 0xcc, 0xdd}
	middle   = []byte{0x80, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x77, 0x88}
	minimal  = []byte{0x10, 0x50, 0x42}
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Descriptor
		wantKey bool
	}{
		{"keyframe long picture id", keyframe, Descriptor{Size: 6, Extended: true, Start: true, HasPictureID: true, LongPictureID: true, PictureID: 0x123, HasTL0PicIdx: true, TL0PicIdx: 5, HasTID: true, LayerSync: true}, true},
		{"delta frame", delta, Descriptor{Size: 6, Extended: true, Start: true, HasPictureID: true, LongPictureID: true, PictureID: 0x124, HasTL0PicIdx: true, TL0PicIdx: 5, HasTID: true, TID: 2}, false},
		{"continuation packet", middle, Descriptor{Size: 6, Extended: true, HasPictureID: true, LongPictureID: true, PictureID: 0x123, HasTL0PicIdx: true, TL0PicIdx: 5, HasTID: true, LayerSync: true}, false},
		{"no extension", minimal, Descriptor{Size: 1, Start: true}, true},
		{"short picture id", []byte{0x90, 0x80, 0x12, 0x00}, Descriptor{Size: 3, Extended: true, Start: true, HasPictureID: true, PictureID: 0x12}, true},
		{"descriptor only", []byte{0x10}, Descriptor{Size: 1, Start: true}, false},
		{"second partition", []byte{0x11, 0x00}, Descriptor{Size: 1, Start: true, PartitionID: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Parse = %+v, want %+v", got, tc.want)
			}
			if k := IsKeyframe(tc.in); k != tc.wantKey {
				t.Fatalf("IsKeyframe = %v, want %v", k, tc.wantKey)
			}
		})
	}
}

func TestParseTruncated(t *testing.T) {
	// Every strict prefix of the descriptor must fail cleanly.
	for n := 0; n < 6; n++ {
		if _, err := Parse(keyframe[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("Parse(%d bytes) error = %v, want ErrShort", n, err)
		}
		if IsKeyframe(keyframe[:n]) {
			t.Errorf("IsKeyframe(%d bytes) = true", n)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, in := range [][]byte{keyframe, delta, middle, minimal} {
		d, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, MaxDescriptorSize)
		n, err := d.MarshalTo(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], in[:d.Size]) {
			t.Fatalf("MarshalTo = %x, want %x", buf[:n], in[:d.Size])
		}
	}
}

// FuzzParse checks that Parse never reads past the input, that a parsed
// descriptor re-encodes to the same bytes (when the reserved bits are zero),
// and that IsKeyframe agrees with the descriptor and the P bit.
func FuzzParse(f *testing.F) {
	for _, s := range [][]byte{keyframe, delta, middle, minimal, {0x80}, {0x80, 0x80, 0x80}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrShort) {
				t.Fatalf("unexpected error %v", err)
			}
			if IsKeyframe(in) {
				t.Fatal("keyframe reported for an unparsable payload")
			}
			return
		}
		if d.Size < 1 || d.Size > len(in) || d.Size > MaxDescriptorSize || d.Size != d.MarshalSize() {
			t.Fatalf("size %d out of range for %d bytes (marshal size %d)", d.Size, len(in), d.MarshalSize())
		}
		buf := make([]byte, MaxDescriptorSize)
		n, err := d.MarshalTo(buf)
		if err != nil || n != d.Size {
			t.Fatalf("MarshalTo = %d, %v", n, err)
		}
		reserved := in[0]&0x48 != 0 || (in[0]&0x80 != 0 && in[1]&0x0f != 0)
		if !reserved && !bytes.Equal(buf[:n], in[:n]) {
			t.Fatalf("round trip %x != %x", buf[:n], in[:n])
		}
		wantKey := d.FrameStart() && len(in) > d.Size && in[d.Size]&1 == 0
		if IsKeyframe(in) != wantKey {
			t.Fatalf("IsKeyframe disagrees with descriptor")
		}
	})
}
