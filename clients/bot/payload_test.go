package bot

import (
	"bytes"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		p    Payload
		size int
	}{
		{"audio", Payload{Kind: KindAudio, Seq: 7, SentUnixNano: 1234567890}, 80},
		{"audio tiny", Payload{Kind: KindAudio, Seq: 1}, 3},
		{"video key", Payload{Kind: KindVideo, Layer: LayerHigh, Keyframe: true, Seq: 1 << 31, SentUnixNano: -5}, 7000},
		{"video delta", Payload{Kind: KindVideo, Layer: LayerLow, Seq: 99, SentUnixNano: 42}, 600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var frame []byte
			if tc.p.Kind == KindAudio {
				frame = buildAudioFrame(nil, tc.size, tc.p)
				if frame[0] != opusTOC {
					t.Errorf("TOC %#x", frame[0])
				}
			} else {
				frame = buildVideoFrame(nil, tc.size, 1280, 720, tc.p)
				if isVP8Keyframe(frame) != tc.p.Keyframe {
					t.Errorf("VP8 P bit says keyframe=%v", isVP8Keyframe(frame))
				}
				if tc.p.Keyframe && !bytes.Equal(frame[3:6], []byte{0x9d, 0x01, 0x2a}) {
					t.Errorf("keyframe start code % x", frame[3:6])
				}
			}
			if len(frame) < tc.size {
				t.Errorf("frame of %d bytes, want at least %d", len(frame), tc.size)
			}
			body, err := frameBody(tc.p.Kind, frame)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePayload(body)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.p {
				t.Errorf("parsed %+v, want %+v", got, tc.p)
			}
			if !bytes.Contains(frame, Marker[:]) {
				t.Error("frame lacks the marker")
			}
		})
	}
}

func TestParsePayloadRejects(t *testing.T) {
	good := make([]byte, payloadHeaderLen)
	Payload{Kind: KindVideo, Layer: LayerMedium}.put(good)
	cases := map[string][]byte{
		"empty":     nil,
		"short":     good[:payloadHeaderLen-1],
		"no marker": append([]byte{0}, good[1:]...),
		"bad kind":  func() []byte { b := bytes.Clone(good); b[8] = 9; return b }(),
		"bad layer": func() []byte { b := bytes.Clone(good); b[9] = 3; return b }(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePayload(b); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzParsePayload checks that any bytes either fail to parse or parse to a
// payload that re-encodes to a header parsing to the same payload.
func FuzzParsePayload(f *testing.F) {
	for _, p := range []Payload{
		{Kind: KindAudio, Seq: 1, SentUnixNano: 2},
		{Kind: KindVideo, Layer: LayerHigh, Keyframe: true, Seq: 3, SentUnixNano: 4},
	} {
		b := make([]byte, payloadHeaderLen+4)
		p.put(b)
		f.Add(b)
	}
	f.Add([]byte("CNCLVBOT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		again := make([]byte, payloadHeaderLen)
		p.put(again)
		q, err := ParsePayload(again)
		if err != nil || q != p {
			t.Fatalf("re-encoded %+v parses to %+v, %v", p, q, err)
		}
	})
}

// FuzzFrameBody checks that frameBody never reads past the frame and always
// returns a suffix of it.
func FuzzFrameBody(f *testing.F) {
	f.Add(byte(KindVideo), buildVideoFrame(nil, 64, 320, 180, Payload{Kind: KindVideo, Keyframe: true}))
	f.Add(byte(KindVideo), []byte{1, 2})
	f.Add(byte(KindAudio), buildAudioFrame(nil, 60, Payload{Kind: KindAudio}))
	f.Fuzz(func(t *testing.T, kind byte, frame []byte) {
		body, err := frameBody(Kind(kind), frame)
		if err != nil {
			return
		}
		if len(body) > len(frame) || !bytes.Equal(frame[len(frame)-len(body):], body) {
			t.Fatalf("body is not a suffix of the frame")
		}
	})
}
