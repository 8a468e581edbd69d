package phone

import (
	"context"
	"math"
	"testing"
	"time"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/mix"
)

// BenchmarkMemberLeg is the meeting side's CPU for one call per 20 ms of
// audio with one member talking: the phone's frame encoded to Opus, one
// member's Opus frame decoded into the mix, and the mix read for the phone.
// ns/op divided by 20 ms is the share of one core per concurrent call (the
// SIP/RTP side is BenchmarkConcurrentCalls in package stream; SFrame and
// the WebRTC transport of the member are not included).
//
//	go test ./clients/phone/ -run '^$' -bench MemberLeg -benchtime 2000x
func BenchmarkMemberLeg(b *testing.B) {
	fc := newFakeClient()
	mm := MemberMeetings{Dial: func(context.Context, dialin.Room, Caller) (MemberClient, error) { return fc, nil }}
	sink := mix.New()
	leg, err := mm.Join(context.Background(), dialin.Room{}, Caller{}, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer leg.Close()
	tone := opusTone(b, 1000, 50)
	pcm := make([]int16, 960)
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(2*math.Pi*700*float64(i)/48000))
	}
	out := make([]int16, 960)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := leg.Send(pcm); err != nil {
			b.Fatal(err)
		}
		fc.audio <- AudioFrame{From: "alice", Opus: tone[i%len(tone)]}
		sink.Tick(960)
		sink.MixFor("", out)
		if i%64 == 63 {
			fc.mu.Lock()
			fc.sent = fc.sent[:0]
			fc.mu.Unlock()
		}
	}
	// Wait for the receive goroutine to decode what was queued.
	deadline := time.Now().Add(10 * time.Second)
	for len(fc.audio) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
