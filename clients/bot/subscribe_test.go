package bot

import (
	"errors"
	"testing"
	"time"
)

// failMarked opens frames in the clear, except those whose last byte is
// 0xEE, which fail as an SFrame authentication failure would.
type failMarked struct{ plaintext }

func (failMarked) Open(dst []byte, _ Kind, wire []byte) ([]byte, error) {
	if len(wire) > 0 && wire[len(wire)-1] == 0xEE {
		return nil, errors.New("authentication failed")
	}
	return append(dst, wire...), nil
}

// TestFrameAccounting feeds frames to a received track's accounting and
// checks loss, layer switches, decodability and failures.
func TestFrameAccounting(t *testing.T) {
	type frame struct {
		seq   uint32
		layer Layer
		key   bool
		junk  bool // decrypts but is not a bot frame (a browser's media)
		bad   bool // does not decrypt
	}
	cases := []struct {
		name                string
		frames              []frame
		lost, switches, off uint64
		failures, notBot    uint64
		firstKey, decodable bool
		layer               Layer
	}{
		{"clean", []frame{{1, LayerHigh, true, false, false}, {2, LayerHigh, false, false, false}, {3, LayerHigh, false, false, false}},
			0, 0, 0, 0, 0, true, true, LayerHigh},
		{"gap", []frame{{1, LayerLow, true, false, false}, {4, LayerLow, false, false, false}}, 2, 0, 0, 0, 0, true, true, LayerLow},
		{"late frame is not a loss", []frame{{1, LayerLow, true, false, false}, {3, LayerLow, false, false, false}, {2, LayerLow, false, false, false}},
			1, 0, 0, 0, 0, true, true, LayerLow},
		{"switch on keyframe", []frame{{1, LayerLow, true, false, false}, {2, LayerHigh, true, false, false}, {3, LayerHigh, false, false, false}},
			0, 1, 0, 0, 0, true, true, LayerHigh},
		{"switch on delta", []frame{{1, LayerLow, true, false, false}, {2, LayerHigh, false, false, false}}, 0, 1, 1, 0, 0, true, false, LayerHigh},
		{"start on delta then key", []frame{{5, LayerMedium, false, false, false}, {6, LayerMedium, true, false, false}},
			0, 0, 0, 0, 0, false, true, LayerMedium},
		{"not a bot payload", []frame{{1, LayerLow, true, false, false}, {2, LayerLow, false, true, false}, {3, LayerLow, false, false, false}},
			1, 0, 0, 0, 1, true, true, LayerLow},
		{"decrypt failure", []frame{{1, LayerLow, true, false, false}, {2, LayerLow, false, false, true}, {3, LayerLow, false, false, false}},
			1, 0, 0, 1, 0, true, true, LayerLow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &Bot{cipher: failMarked{}}
			rt := &remoteTrack{kind: KindVideo}
			var scratch []byte
			for _, f := range tc.frames {
				p := Payload{Kind: KindVideo, Layer: f.layer, Keyframe: f.key, Seq: f.seq, SentUnixNano: time.Now().UnixNano()}
				fr := buildVideoFrame(nil, 200, 320, 180, p)
				if f.junk {
					fr = buildVideoFrame(nil, 200, 320, 180, p)[:vp8DeltaHeaderLen+4]
				}
				if f.bad {
					fr = append(fr, 0xEE)
				}
				scratch = b.onFrame(rt, fr, scratch)
			}
			if rt.lost != tc.lost || rt.switches != tc.switches || rt.switchesOffKey != tc.off || rt.decryptFailures != tc.failures || rt.notBotPayload != tc.notBot {
				t.Errorf("lost %d switches %d off-key %d failures %d not-bot %d, want %d %d %d %d %d",
					rt.lost, rt.switches, rt.switchesOffKey, rt.decryptFailures, rt.notBotPayload, tc.lost, tc.switches, tc.off, tc.failures, tc.notBot)
			}
			if rt.firstKey != tc.firstKey || rt.waitingKey == tc.decodable || rt.layer != tc.layer {
				t.Errorf("first key %v decodable %v layer %v, want %v %v %v", rt.firstKey, !rt.waitingKey, rt.layer,
					tc.firstKey, tc.decodable, tc.layer)
			}
			if want := uint64(len(tc.frames)); rt.framesReceived != want || rt.framesDecrypted+rt.decryptFailures != want {
				t.Errorf("received %d decrypted %d failed %d of %d", rt.framesReceived, rt.framesDecrypted, rt.decryptFailures, want)
			}
			if b.firstFrame.Load() == 0 {
				t.Error("first frame time not recorded")
			}
		})
	}
}
