package bot

import (
	"bytes"
	"errors"
	"testing"

	"conclave/e2ee/sframe"
)

// keyed returns a cipher sending under kid with base key and receiving
// frames of kid peer under the same base key.
func keyed(t *testing.T, key []byte, kid, peer sframe.KeyID) *SFrameCipher {
	t.Helper()
	s, err := sframe.NewSender(sframe.AES128GCMSHA256_128, kid, key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sframe.NewReceiver(sframe.AES128GCMSHA256_128)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddKey(peer, key); err != nil {
		t.Fatal(err)
	}
	return NewSFrameCipher(s, r)
}

// TestSFrameCipher checks that two participants sharing a key read each
// other's frames, that only the codec's clear prefix stays readable, and
// that a wrong key or a flipped bit fails.
func TestSFrameCipher(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	alice, bob := keyed(t, key, 1, 2), keyed(t, key, 2, 1)
	frames := []struct {
		name  string
		kind  Kind
		frame []byte
		clear int
	}{
		{"audio", KindAudio, buildAudioFrame(nil, 90, Payload{Kind: KindAudio, Seq: 1}), sframe.OpusClearBytes},
		{"video key", KindVideo, buildVideoFrame(nil, 2000, 1280, 720, Payload{Kind: KindVideo, Keyframe: true}), sframe.VP8KeyFrameClearBytes},
		{"video delta", KindVideo, buildVideoFrame(nil, 700, 1280, 720, Payload{Kind: KindVideo, Seq: 2}), sframe.VP8InterFrameClearBytes},
	}
	for _, f := range frames {
		t.Run(f.name, func(t *testing.T) {
			wire, err := alice.Seal(nil, f.kind, f.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wire[:f.clear], f.frame[:f.clear]) {
				t.Errorf("clear prefix % x, want % x", wire[:f.clear], f.frame[:f.clear])
			}
			if bytes.Contains(wire, Marker[:]) {
				t.Error("the plaintext marker is visible on the wire")
			}
			if bytes.Equal(wire[f.clear:f.clear+8], f.frame[f.clear:f.clear+8]) {
				t.Error("bytes after the clear prefix are not encrypted")
			}
			got, err := bob.Open(nil, f.kind, wire)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if !bytes.Equal(got, f.frame) {
				t.Error("round trip changed the frame")
			}
			if _, err := bob.Open(nil, f.kind, wire); !errors.Is(err, sframe.ErrReplay) {
				t.Errorf("replayed frame: %v, want %v", err, sframe.ErrReplay)
			}

			wire2, err := alice.Seal(nil, f.kind, f.frame)
			if err != nil {
				t.Fatal(err)
			}
			flipped := bytes.Clone(wire2)
			flipped[len(flipped)-1] ^= 1
			if _, err := bob.Open(nil, f.kind, flipped); err == nil {
				t.Error("opened a frame with a flipped bit")
			}
			if f.clear > 1 {
				flipped = bytes.Clone(wire2)
				flipped[f.clear-1] ^= 1 // the clear prefix is authenticated
				if _, err := bob.Open(nil, f.kind, flipped); err == nil {
					t.Error("opened a frame with a modified clear prefix")
				}
			}
			for name, c := range map[string]*SFrameCipher{
				"wrong key": keyed(t, bytes.Repeat([]byte{8}, 16), 2, 1),
				"wrong kid": keyed(t, key, 1, 3),
			} {
				if _, err := c.Open(nil, f.kind, wire2); err == nil {
					t.Errorf("%s opened the frame", name)
				}
			}
		})
	}
}

func TestPlaintextCipher(t *testing.T) {
	f := buildAudioFrame(nil, 70, Payload{Kind: KindAudio, Seq: 3})
	w, _ := plaintext{}.Seal(nil, KindAudio, f)
	if !bytes.Equal(w, f) {
		t.Error("plaintext Seal changed the frame")
	}
	if _, err := (plaintext{}).Open(nil, KindAudio, []byte{1, 2, 3}); !errors.Is(err, ErrPlaintextOpen) {
		t.Errorf("opened garbage: %v", err)
	}
}
