package phone

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/media/opus"
	"conclave/clients/phone/mix"
)

type fakeClient struct {
	audio  chan AudioFrame
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   [][]byte
	closed bool
}

func newFakeClient() *fakeClient {
	return &fakeClient{audio: make(chan AudioFrame, 256), done: make(chan struct{})}
}

func (f *fakeClient) SendOpus(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, append([]byte(nil), b...))
	return nil
}
func (f *fakeClient) Audio() <-chan AudioFrame { return f.audio }
func (f *fakeClient) Done() <-chan struct{}    { return f.done }
func (f *fakeClient) Close() {
	f.once.Do(func() { close(f.done) })
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func opusTone(t testing.TB, freq float64, frames int) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out [][]byte
	n := 0
	for f := 0; f < frames; f++ {
		pcm := make([]int16, 960)
		for i := range pcm {
			pcm[i] = int16(6000 * math.Sin(2*math.Pi*freq*float64(n)/48000))
			n++
		}
		b, err := enc.Encode(nil, pcm)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// Two members' Opus streams are decoded separately and mixed for the
// phone; the phone's PCM goes out as decodable Opus; the leg ends with the
// member.
func TestMemberLegTranscodes(t *testing.T) {
	fc := newFakeClient()
	var gotCaller Caller
	mm := MemberMeetings{Dial: func(ctx context.Context, room dialin.Room, caller Caller) (MemberClient, error) {
		gotCaller = caller
		return fc, nil
	}}
	sink := mix.New()
	leg, err := mm.Join(context.Background(), dialin.Room{Server: "https://x", ID: "r"}, Caller{Identity: "+1", Gateway: "gw"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if gotCaller.DisplayName() != "Phone caller (+1), via gateway gw" {
		t.Fatalf("caller %+v", gotCaller)
	}
	a, b := opusTone(t, 440, 25), opusTone(t, 1300, 25)
	for i := range a {
		fc.audio <- AudioFrame{From: "alice", Opus: a[i]}
		fc.audio <- AudioFrame{From: "bob", Opus: b[i]}
	}
	fc.audio <- AudioFrame{From: "mallory", Opus: []byte{0xff, 0xff, 0xff}} // corrupt: dropped
	var mixed []int16
	waitFor(t, 5*time.Second, "both members in the mix", func() bool {
		sink.Tick(960)
		out := make([]int16, 960)
		sink.MixFor("", out)
		mixed = append(mixed, out...)
		return toneSpans(mixed, 48000, 440) > 5 && toneSpans(mixed, 48000, 1300) > 5
	})

	// Phone audio out: 10 frames of a 700 Hz tone, one muted (nil) frame.
	for i := 0; i < 10; i++ {
		pcm := make([]int16, 960)
		for j := range pcm {
			pcm[j] = int16(6000 * math.Sin(2*math.Pi*700*float64(i*960+j)/48000))
		}
		if err := leg.Send(pcm); err != nil {
			t.Fatal(err)
		}
	}
	if err := leg.Send(nil); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	sent := fc.sent
	fc.mu.Unlock()
	if len(sent) != 10 {
		t.Fatalf("%d frames sent, want 10 (muted frame sends nothing)", len(sent))
	}
	dec, _ := opus.NewDecoder()
	defer dec.Close()
	var heard []int16
	for _, f := range sent {
		heard, err = dec.Decode(heard, f)
		if err != nil {
			t.Fatal(err)
		}
	}
	if toneSpans(heard[len(heard)/2:], 48000, 700) < 3 {
		t.Fatal("phone's tone not in the Opus it sent")
	}

	// The member is removed: the leg ends, the talkers leave the mix.
	fc.Close()
	select {
	case <-leg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("leg not done after the member ended")
	}
	leg.Close()
	if err := leg.Send(make([]int16, 960)); !errors.Is(err, ErrMeetingGone) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestMemberJoinErrors(t *testing.T) {
	for _, want := range []error{ErrRefused, ErrPhonesForbidden, ErrMeetingGone} {
		t.Run(want.Error(), func(t *testing.T) {
			mm := MemberMeetings{Dial: func(context.Context, dialin.Room, Caller) (MemberClient, error) { return nil, want }}
			if _, err := mm.Join(context.Background(), dialin.Room{}, Caller{}, mix.New()); !errors.Is(err, want) {
				t.Fatalf("err %v", err)
			}
		})
	}
}
