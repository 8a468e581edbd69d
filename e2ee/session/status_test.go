package session

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"conclave/e2ee/sframe"
)

// lastEpochEvent returns c's last EpochChanged.
func lastEpochEvent(t *testing.T, c *client) EpochChanged {
	t.Helper()
	for i := len(c.events) - 1; i >= 0; i-- {
		if e, ok := c.events[i].(EpochChanged); ok {
			return e
		}
	}
	t.Fatalf("%s: no EpochChanged", c.name)
	return EpochChanged{}
}

// A client keying SFrame elsewhere (the browser's worker) from
// MediaBaseKey and Leaf sends frames the other members' receivers decrypt,
// and its key equals the one behind the session's own Sender.
func TestEpochChangedCarriesMediaKey(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	for _, c := range cs {
		ev := lastEpochEvent(t, c)
		if ev.Epoch != c.s.Epoch() || ev.Leaf != c.s.group.OwnLeaf() || len(ev.MediaBaseKey) != MediaSuite.KeySize() || ev.Sender == nil {
			t.Fatalf("%s: event epoch %d leaf %d key %d bytes sender %v; session epoch %d", c.name, ev.Epoch, ev.Leaf, len(ev.MediaBaseKey), ev.Sender != nil, c.s.Epoch())
		}
		kid, err := sframe.DefaultKIDLayout.KID(0, ev.Leaf, ev.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		snd, err := sframe.NewSender(MediaSuite, kid, ev.MediaBaseKey)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := snd.Encrypt(nil, []byte("hdr"), []byte("frame from "+c.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range cs {
			if o == c {
				continue
			}
			pt, err := o.s.Receiver().Decrypt(nil, []byte("hdr"), wire)
			if err != nil || !bytes.Equal(pt, []byte("frame from "+c.name)) {
				t.Fatalf("%s cannot decrypt %s's frame keyed from the event: %v", o.name, c.name, err)
			}
		}
	}
	// The keys differ across members' views only by KID: one base key per epoch.
	if !bytes.Equal(lastEpochEvent(t, cs[0]).MediaBaseKey, lastEpochEvent(t, cs[1]).MediaBaseKey) {
		t.Fatal("members of one epoch have different base keys")
	}
}

func TestStatus(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	for _, tc := range []struct {
		kind StatusKind
		on   bool
	}{{StatusHand, true}, {StatusRecording, true}, {StatusRecording, false}} {
		t.Run(fmt.Sprintf("%s-%v", tc.kind, tc.on), func(t *testing.T) {
			o, err := cs[0].s.SendStatus(tc.kind, tc.on)
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(cs[0], o)
			n.run()
			var got []StatusReceived
			for _, e := range cs[1].events {
				if s, ok := e.(StatusReceived); ok {
					got = append(got, s)
				}
			}
			if len(got) == 0 {
				t.Fatal("b got no status")
			}
			last := got[len(got)-1]
			if last.Kind != tc.kind || last.On != tc.on || last.From.Identity.DisplayName != "a" {
				t.Fatalf("b got %+v", got)
			}
		})
	}
	if _, err := cs[0].s.SendStatus("other", true); !errors.Is(err, ErrState) {
		t.Errorf("unknown status kind: %v", err)
	}
	knocker, _ := New(Config{Identity: Identity{Participant: "P_k", Kind: KindBot}, RoomID: testRoomID})
	if _, err := knocker.SendStatus(StatusHand, true); !errors.Is(err, ErrState) {
		t.Errorf("status before joining: %v", err)
	}
	noRejections(t, cs...)
}
