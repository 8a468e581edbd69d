package bot

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// packetize splits frame into RTP packets as the bot sends them.
func packetize(frame []byte, seq uint16, ts uint32) []*rtp.Packet {
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	var out []*rtp.Packet
	parts := pay.Payload(rtpMTU, frame)
	for i, p := range parts {
		out = append(out, &rtp.Packet{Header: rtp.Header{
			Version: 2, SequenceNumber: seq + uint16(i), Timestamp: ts, Marker: i == len(parts)-1,
		}, Payload: p})
	}
	return out
}

func TestVP8Assembler(t *testing.T) {
	frameA := buildVideoFrame(nil, 3000, 640, 360, Payload{Kind: KindVideo, Keyframe: true, Seq: 1})
	frameB := buildVideoFrame(nil, 500, 640, 360, Payload{Kind: KindVideo, Seq: 2})
	a := packetize(frameA, 65534, 1000) // wraps the sequence number
	b := packetize(frameB, 65534+uint16(len(a)), 4000)
	if len(a) < 3 {
		t.Fatalf("frame A in %d packets, want several", len(a))
	}
	frameC := buildVideoFrame(nil, 100, 640, 360, Payload{Kind: KindVideo, Keyframe: true})
	c := packetize(frameC, 100, 10) // a complete frame first: drops count from then on
	cat := func(parts ...[]*rtp.Packet) []*rtp.Packet {
		var out []*rtp.Packet
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name    string
		pkts    []*rtp.Packet
		want    [][]byte
		dropped int
	}{
		{"in order", cat(a, b), [][]byte{frameA, frameB}, 0},
		{"lost middle packet", cat(c, a[:1], a[2:], b), [][]byte{frameC, frameB}, 1},
		{"lost first packet", cat(c, a[1:], b), [][]byte{frameC, frameB}, 0},
		{"lost last packet", cat(c, a[:len(a)-1], b), [][]byte{frameC, frameB}, 1},
		{"reordered", cat(c, a[1:2], a[:1], a[2:]), [][]byte{frameC}, 1},
		{"partial before the first frame is not a drop", cat(a[:1], a[2:], b), [][]byte{frameB}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asm vp8Assembler
			var got [][]byte
			dropped := 0
			for _, p := range tc.pkts {
				f, ok, d := asm.push(p)
				if d {
					dropped++
				}
				if ok {
					got = append(got, bytes.Clone(f))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d frames, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("frame %d differs", i)
				}
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
		})
	}
}

// FuzzVP8Assembler feeds arbitrary packet payloads; frames that complete
// must never exceed the bound, and well-formed frames must come back intact.
func FuzzVP8Assembler(f *testing.F) {
	frame := buildVideoFrame(nil, 2500, 320, 180, Payload{Kind: KindVideo, Keyframe: true})
	for _, p := range packetize(frame, 10, 90) {
		f.Add(p.Payload, p.SequenceNumber, p.Marker)
	}
	f.Add([]byte{0x90}, uint16(0), true)
	f.Fuzz(func(t *testing.T, payload []byte, seq uint16, marker bool) {
		var asm vp8Assembler
		// A well-formed frame first, then the fuzzed packet, then the
		// well-formed frame again: the fuzzed packet may spoil at most the
		// frame it lands in.
		run := func(pkts []*rtp.Packet) (n int) {
			for _, p := range pkts {
				if fr, ok, _ := asm.push(p); ok {
					if len(fr) > maxFrameSize {
						t.Fatalf("frame of %d bytes", len(fr))
					}
					n++
				}
			}
			return n
		}
		if run(packetize(frame, 1, 1)) != 1 {
			t.Fatal("well-formed frame not assembled")
		}
		run([]*rtp.Packet{{Header: rtp.Header{SequenceNumber: seq, Timestamp: 2, Marker: marker}, Payload: payload}})
		var got []byte
		for _, p := range packetize(frame, 1000, 3) {
			if fr, ok, _ := asm.push(p); ok {
				got = fr
			}
		}
		if !bytes.Equal(got, frame) {
			t.Fatal("well-formed frame after a fuzzed packet not assembled intact")
		}
	})
}
