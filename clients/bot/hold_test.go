package bot

import (
	"bytes"
	"testing"
	"time"

	"conclave/e2ee/sframe"
)

// epochExporter stands for an MLS epoch's exporter (RFC 9420, Section 8.5):
// each epoch exports a different secret.
type epochExporter byte

func (x epochExporter) Export(_ string, _ []byte, n int) ([]byte, error) {
	return bytes.Repeat([]byte{byte(x)}, n), nil
}

// TestEarlyFramesAreHeld checks what a receiver does with frames whose key
// is not installed yet, as when a sender's first frames under a new MLS
// epoch overtake the commit that creates the epoch: it holds them, in
// order, and decrypts them once the epoch is added; frames whose key never
// comes are dropped after maxHoldAge, when the queue is full or when a
// later frame of the track decrypts, and none of that counts as a decrypt
// failure. A frame that fails authentication
// still does.
func TestEarlyFramesAreHeld(t *testing.T) {
	const suite = sframe.AES128GCMSHA256_128
	layout := sframe.DefaultKIDLayout
	type step struct {
		seq      uint32
		epoch    uint64 // the sender's epoch
		addEpoch uint64 // the receiver adds this epoch before the frame (0: none)
		forged   bool   // altered after sealing: fails authentication
		age      bool   // the held frames are older than maxHoldAge by now
	}
	cases := []struct {
		name                         string
		steps                        []step
		decrypted, failures, lost    uint64
		held, heldDropped, stillHeld int
	}{
		{
			name:      "new epoch overtakes its commit",
			steps:     []step{{seq: 1, epoch: 1}, {seq: 2, epoch: 2}, {seq: 3, epoch: 2}, {seq: 4, epoch: 2, addEpoch: 2}, {seq: 5, epoch: 2}},
			decrypted: 5, held: 2,
		},
		{
			name:      "key never comes",
			steps:     []step{{seq: 1, epoch: 1}, {seq: 2, epoch: 3}, {seq: 3, epoch: 3}, {seq: 4, epoch: 1, age: true}},
			decrypted: 2, lost: 2, held: 2, heldDropped: 2,
		},
		{
			name:      "still waiting",
			steps:     []step{{seq: 1, epoch: 1}, {seq: 2, epoch: 2}, {seq: 3, epoch: 2}},
			decrypted: 1, held: 2, stillHeld: 2,
		},
		{
			name:      "the sender's older epoch never comes",
			steps:     []step{{seq: 1, epoch: 3}, {seq: 2, epoch: 3}, {seq: 3, epoch: 1}, {seq: 4, epoch: 1}},
			decrypted: 2, held: 2, heldDropped: 2,
		},
		{
			name:      "authentication failure is a failure",
			steps:     []step{{seq: 1, epoch: 1}, {seq: 2, epoch: 1, forged: true}, {seq: 3, epoch: 1}},
			decrypted: 2, failures: 1, lost: 1,
		},
		{
			name:      "forged frame behind held ones",
			steps:     []step{{seq: 1, epoch: 1}, {seq: 2, epoch: 2}, {seq: 3, epoch: 2, forged: true}, {seq: 4, epoch: 2, addEpoch: 2}},
			decrypted: 3, failures: 1, lost: 1, held: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv, err := sframe.NewMLSReceiver(suite, layout, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := rcv.AddEpoch(1, epochExporter(1), time.Now()); err != nil {
				t.Fatal(err)
			}
			b := &Bot{cipher: NewSFrameCipher(nil, rcv)}
			rt := &remoteTrack{kind: KindAudio}
			var scratch []byte
			senders := map[epochExporter]*sframe.Sender{}
			for _, st := range tc.steps {
				if st.addEpoch != 0 {
					if err := rcv.AddEpoch(st.addEpoch, epochExporter(st.addEpoch), time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				exp := epochExporter(st.epoch)
				snd := senders[exp]
				if snd == nil {
					// One sender per key, as a member has per epoch: its
					// counter goes on (a new one would replay counters).
					if snd, err = sframe.NewMLSSender(suite, layout, exp, st.epoch, 3, 0); err != nil {
						t.Fatal(err)
					}
					senders[exp] = snd
				}
				frame := buildAudioFrame(nil, 60, Payload{Kind: KindAudio, Seq: st.seq, SentUnixNano: time.Now().UnixNano()})
				wire, err := NewSFrameCipher(snd, nil).Seal(nil, KindAudio, frame)
				if err != nil {
					t.Fatal(err)
				}
				if st.forged {
					wire[len(wire)-1] ^= 1
				}
				if st.age {
					for i := range rt.queue {
						rt.queue[i].at = time.Now().Add(-2 * maxHoldAge)
					}
				}
				scratch = b.onFrame(rt, wire, scratch)
			}
			if rt.framesDecrypted != tc.decrypted || rt.decryptFailures != tc.failures || rt.lost != tc.lost {
				t.Errorf("decrypted %d failures %d lost %d, want %d %d %d",
					rt.framesDecrypted, rt.decryptFailures, rt.lost, tc.decrypted, tc.failures, tc.lost)
			}
			if rt.held != uint64(tc.held) || rt.heldDropped != uint64(tc.heldDropped) || len(rt.queue) != tc.stillHeld {
				t.Errorf("held %d dropped %d still queued %d, want %d %d %d",
					rt.held, rt.heldDropped, len(rt.queue), tc.held, tc.heldDropped, tc.stillHeld)
			}
			if want := uint64(len(tc.steps)); rt.framesReceived != want {
				t.Errorf("received %d, want %d", rt.framesReceived, want)
			}
			if rt.duplicates != 0 {
				t.Errorf("%d duplicates", rt.duplicates)
			}
		})
	}
}

// TestFixedKeysAreNotHeld: with fixed keys (the bench keying), a frame
// with an unknown KID never gets a key, so it is a decrypt failure at once
// (LiveKit's unencrypted blank frames, say), not a held frame.
func TestFixedKeysAreNotHeld(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	alice, bob := keyed(t, key, 1, 2), keyed(t, key, 2, 1)
	stranger := keyed(t, key, 9, 2)
	b := &Bot{cipher: bob}
	rt := &remoteTrack{kind: KindAudio}
	var scratch []byte
	for seq, c := range []*SFrameCipher{alice, stranger, alice} {
		wire, err := c.Seal(nil, KindAudio, buildAudioFrame(nil, 60, Payload{Kind: KindAudio, Seq: uint32(seq + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		scratch = b.onFrame(rt, wire, scratch)
	}
	if rt.framesDecrypted != 2 || rt.decryptFailures != 1 || rt.held != 0 || len(rt.queue) != 0 {
		t.Errorf("decrypted %d failures %d held %d queued %d, want 2 1 0 0", rt.framesDecrypted, rt.decryptFailures, rt.held, len(rt.queue))
	}
}

// TestHeldQueueIsBounded: a track holds at most maxHeldFrames frames; the
// oldest are dropped, and the rest decrypt in order once the key comes.
func TestHeldQueueIsBounded(t *testing.T) {
	const suite = sframe.AES128GCMSHA256_128
	layout := sframe.DefaultKIDLayout
	rcv, err := sframe.NewMLSReceiver(suite, layout, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := sframe.NewMLSSender(suite, layout, epochExporter(5), 5, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bot{cipher: NewSFrameCipher(nil, rcv)}
	rt := &remoteTrack{kind: KindAudio}
	seal := func(seq uint32) []byte {
		wire, err := NewSFrameCipher(snd, nil).Seal(nil, KindAudio, buildAudioFrame(nil, 60, Payload{Kind: KindAudio, Seq: seq}))
		if err != nil {
			t.Fatal(err)
		}
		return wire
	}
	const extra = 6
	var scratch []byte
	for seq := uint32(1); seq <= maxHeldFrames+extra; seq++ {
		scratch = b.onFrame(rt, seal(seq), scratch)
	}
	if len(rt.queue) != maxHeldFrames || rt.heldDropped != extra || rt.framesDecrypted != 0 {
		t.Fatalf("held %d dropped %d decrypted %d, want %d %d 0", len(rt.queue), rt.heldDropped, rt.framesDecrypted, maxHeldFrames, extra)
	}
	if err := rcv.AddEpoch(5, epochExporter(5), time.Now()); err != nil {
		t.Fatal(err)
	}
	b.onFrame(rt, seal(maxHeldFrames+extra+1), scratch)
	if len(rt.queue) != 0 || rt.framesDecrypted != maxHeldFrames+1 || rt.lost != 0 || rt.decryptFailures != 0 {
		t.Fatalf("held %d decrypted %d lost %d failures %d, want 0 %d 0 0", len(rt.queue), rt.framesDecrypted, rt.lost, rt.decryptFailures, maxHeldFrames+1)
	}
	if rt.highest != maxHeldFrames+extra+1 {
		t.Errorf("highest seq %d, want %d", rt.highest, maxHeldFrames+extra+1)
	}
}
