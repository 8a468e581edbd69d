package ds_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"conclave/e2ee/dsproto"
	"conclave/sfu"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/rtc/rtctest"
	"conclave/signaling/token"
)

// startRTC is rtctest.Start with the SFU's Observe hook set.
func startRTC(t *testing.T, cfg rtc.Config, observe func(string, []byte)) *rtctest.Server {
	t.Helper()
	ecfg := sfu.DefaultConfig()
	ecfg.ListenIP = "127.0.0.1"
	ecfg.IncludeLoopback = true
	ecfg.TCPPort = -1
	ecfg.TURN.Enabled = false
	ecfg.Observe = observe
	eng, err := sfu.NewEngine(ecfg, rtctest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	issuer, verifier := token.NewIssuer("conclave", tokenSecret), token.NewVerifier("conclave", tokenSecret)
	hnd := rtc.NewHandler(cfg, func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }, eng, rtctest.Logger())
	srv := httptest.NewServer(hnd)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hnd.Shutdown(ctx); err != nil {
			t.Errorf("rtc shutdown: %v", err)
		}
		srv.Close()
		_ = eng.Close()
	})
	return &rtctest.Server{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), HTTP: srv, Handler: hnd, Engine: eng, Issuer: issuer, Verifier: verifier}
}

// lateGate lets the rtc handler be built before the DS it asks.
type lateGate struct{ srv atomic.Pointer[ds.Server] }

func (g *lateGate) Admitted(room, identity string) bool {
	s := g.srv.Load()
	return s != nil && s.Admitted(room, identity)
}

func (g *lateGate) Left(room, identity string) {
	if s := g.srv.Load(); s != nil {
		s.Left(room, identity)
	}
}

func rtcDial(t *testing.T, rs *rtctest.Server, room, identity string) *rtctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtctest.Dial(ctx, rs.URL, rs.Token(t, room, identity))
	if err != nil {
		t.Fatalf("rtc dial %s: %v", identity, err)
	}
	t.Cleanup(c.Close)
	return c
}

func rtcPublish(t *testing.T, c *rtctest.Client, kind livekit.TrackType) *livekit.TrackInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Publish(ctx, kind, 1, livekit.Encryption_GCM)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return info
}

func packets(c *rtctest.Client, sid string) int { return c.Received()[sid].Packets }

func waitPackets(t *testing.T, c *rtctest.Client, sid string, n int) {
	t.Helper()
	rtctest.Eventually(t, 15*time.Second, func() string {
		if got := packets(c, sid); got < n {
			return fmt.Sprintf("%d packets of track %s, want %d", got, sid, n)
		}
		return ""
	})
}

// TestMediaGate runs the DS as the rtc handler's gate: a participant gets
// media only from the moment the DS has seen it join the MLS group, and
// its own tracks reach nobody before that; removal from the group takes
// the media away again.
func TestMediaGate(t *testing.T) {
	gate := &lateGate{}
	var rtpIn atomic.Int64
	rs := startRTC(t, rtc.Config{Gate: gate}, func(dir string, b []byte) {
		if dir == "rtp-in" && len(b) > 12 {
			rtpIn.Add(1)
		}
	})
	// A long grace: only carol's goodbye can remove her promptly below.
	h := newHarnessWith(t, ds.Config{LeaveGrace: time.Minute}, rs.Issuer, rs.Verifier, rs.Handler.Readmit)
	gate.srv.Store(h.srv)
	defer func() {
		// The SFU's tripwire hook saw the packets it forwarded.
		if !t.Failed() && rtpIn.Load() < 100 {
			t.Errorf("sfu.Config.Observe saw %d RTP packets", rtpIn.Load())
		}
	}()

	alice := h.meeting(roomA, "alice")[0]
	aliceRTC := rtcDial(t, rs, roomA, "alice")
	video := rtcPublish(t, aliceRTC, livekit.TrackType_VIDEO)

	bob := h.connect(roomA, "bob", dsproto.RoleJoin)
	bob.knock(nil)
	bobRTC := rtcDial(t, rs, roomA, "bob")

	carol := h.connect(roomA, "carol", dsproto.RoleJoin)
	carol.knock(nil)
	// alice admits carol only.
	kps := map[string][]byte{}
	for len(kps) < 2 {
		jr := expect[*dsproto.JoinRequest](alice.c)
		kps[string(jr.Participant)] = jr.KeyPackage
	}
	addKeyPackages(t, alice, kps["carol"])
	carol.join()
	eventually(t, "carol admitted", func() string {
		if !h.admitted(roomA, "carol") {
			return "not yet"
		}
		return ""
	})
	carolRTC := rtcDial(t, rs, roomA, "carol")
	waitPackets(t, carolRTC, video.Sid, 30)

	// bob, in the lobby, publishes too.
	audio := rtcPublish(t, bobRTC, livekit.TrackType_AUDIO)
	base := packets(carolRTC, video.Sid)
	waitPackets(t, carolRTC, video.Sid, base+60)
	if n := packets(bobRTC, video.Sid); n != 0 {
		t.Fatalf("bob, not a member, received %d packets of alice's video", n)
	}
	if n := packets(aliceRTC, audio.Sid) + packets(carolRTC, audio.Sid); n != 0 {
		t.Fatalf("bob's track, published before joining, reached members (%d packets)", n)
	}

	// alice admits bob: media flows both ways once the DS sees its Joined.
	addKeyPackages(t, alice, kps["bob"])
	bob.join()
	waitPackets(t, bobRTC, video.Sid, 30)
	waitPackets(t, aliceRTC, audio.Sid, 30)
	waitPackets(t, carolRTC, audio.Sid, 30)

	// Removed from the group, bob loses the media.
	if err := h.srv.Remove(roomA, "bob"); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 15*time.Second, func() string {
		b0, c0 := packets(bobRTC, video.Sid), packets(carolRTC, video.Sid)
		deadline := time.Now().Add(10 * time.Second)
		for packets(carolRTC, video.Sid) < c0+30 {
			if time.Now().After(deadline) {
				return "carol stopped receiving"
			}
			time.Sleep(10 * time.Millisecond)
		}
		if b := packets(bobRTC, video.Sid); b != b0 {
			return fmt.Sprintf("bob still receiving (%d -> %d packets)", b0, b)
		}
		return ""
	})

	// carol says goodbye on /rtc: her membership ends at once, not after
	// the grace period a dropped connection gets.
	if err := carolRTC.LeaveRoom(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "carol's membership ended by her LeaveRequest", func() string {
		if h.admitted(roomA, "carol") {
			return "still a member"
		}
		return ""
	})
}
