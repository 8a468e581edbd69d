package rtc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"conclave/signaling/rtc"
	"conclave/signaling/rtc/rtctest"
)

const room = "0123456789abcdef0123456789abcdef"

func dial(t *testing.T, s *rtctest.Server, identity string) *rtctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtctest.Dial(ctx, s.URL, s.Token(t, room, identity))
	if err != nil {
		t.Fatalf("dial %s: %v", identity, err)
	}
	t.Cleanup(c.Close)
	return c
}

func publish(t *testing.T, c *rtctest.Client, kind livekit.TrackType, layers int) *livekit.TrackInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Publish(ctx, kind, layers, livekit.Encryption_GCM)
	if err != nil {
		t.Fatalf("publish %s: %v", kind, err)
	}
	return info
}

// received waits until c has received at least n packets of track sid.
func received(t *testing.T, c *rtctest.Client, sid string, n int) {
	t.Helper()
	rtctest.Eventually(t, 15*time.Second, func() string {
		st, ok := c.Received()[sid]
		if !ok {
			return "track " + sid + " not subscribed"
		}
		if st.Packets < n {
			return fmt.Sprintf("track %s: %d packets of %d", sid, st.Packets, n)
		}
		return ""
	})
}

func TestPublishSubscribe(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	if len(b.Join.OtherParticipants) != 1 || b.Join.OtherParticipants[0].Identity != "P_alice" {
		t.Fatalf("bob's join response lists %v", b.Join.OtherParticipants)
	}
	if !b.Join.SubscriberPrimary || b.Join.ServerInfo.GetProtocol() != 17 {
		t.Fatalf("join response: subscriber_primary %v, protocol %d", b.Join.SubscriberPrimary, b.Join.ServerInfo.GetProtocol())
	}
	if len(b.Join.IceServers) == 0 || b.Join.IceServers[0].Username == "" {
		t.Fatal("join response has no TURN server with credentials")
	}
	video := publish(t, a, livekit.TrackType_VIDEO, 1)
	audio := publish(t, a, livekit.TrackType_AUDIO, 1)
	received(t, b, video.Sid, 30)
	received(t, b, audio.Sid, 30)
	if st := b.Received()[video.Sid]; st.Keyframes == 0 {
		t.Fatal("no keyframe forwarded first")
	}
	// A late joiner is subscribed to what is already published.
	c := dial(t, s, "P_carol")
	received(t, c, video.Sid, 30)
	received(t, c, audio.Sid, 30)

	// With two subscribers, each packet's two copies leave in one
	// system call (sfu/sockbatch): fewer calls than datagrams.
	calls0, sent0 := s.Engine.UDPSends()
	received(t, c, video.Sid, c.Received()[video.Sid].Packets+60)
	calls, sent := s.Engine.UDPSends()
	if calls -= calls0; sent-sent0 < 100 || float64(sent-sent0) < 1.5*float64(calls) {
		t.Fatalf("%d datagrams in %d system calls: the fan-out was not batched", sent-sent0, calls)
	}
}
