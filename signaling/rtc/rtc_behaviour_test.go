package rtc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"

	"conclave/signaling/rtc"
	"conclave/signaling/rtc/rtctest"
	"conclave/signaling/token"
)

func TestSimulcastLayerSelection(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	video := publish(t, a, livekit.TrackType_VIDEO, 3)
	// onLayer waits until b's last packet is of layer and at least min of
	// that layer's arrived.
	onLayer := func(layer, min int) {
		t.Helper()
		rtctest.Eventually(t, 15*time.Second, func() string {
			if st := b.Received()[video.Sid]; st.Last != layer || st.Layers[layer] < min {
				return fmt.Sprintf("layers received %v, last %d, want %d", st.Layers, st.Last, layer)
			}
			return ""
		})
	}
	setTrack := func(s *livekit.UpdateTrackSettings) {
		t.Helper()
		s.TrackSids = []string{video.Sid}
		if err := b.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_TrackSetting{TrackSetting: s}}); err != nil {
			t.Fatal(err)
		}
	}
	// By default the subscriber gets the highest layer.
	onLayer(2, 10)
	// Until the high layer's first packets reach the SFU, the subscriber may
	// be given the nearest active lower layer (simulcast.Select: a frozen
	// picture is worse than a smaller one); on a loaded machine the f stream
	// can attach after h. Once on high, no lower layer may be mixed in.
	onHigh := b.Received()[video.Sid]
	rtctest.Eventually(t, 10*time.Second, func() string {
		if st := b.Received()[video.Sid]; st.Layers[2] < onHigh.Layers[2]+30 {
			return fmt.Sprintf("high layer stalled: %v", st.Layers)
		}
		return ""
	})
	if st := b.Received()[video.Sid]; st.Layers[0] != onHigh.Layers[0] || st.Layers[1] != onHigh.Layers[1] {
		t.Fatalf("lower layers leaked into a high-quality subscription: %v after %v", st.Layers, onHigh.Layers)
	}
	// Asking for LOW switches to the low layer, starting at a keyframe.
	before := b.Received()[video.Sid]
	setTrack(&livekit.UpdateTrackSettings{Quality: livekit.VideoQuality_LOW})
	onLayer(0, 10)
	after := b.Received()[video.Sid]
	if after.Keyframes <= before.Keyframes {
		t.Fatal("layer switch without a keyframe")
	}
	// A size request picks the smallest layer covering it (640x360 is h).
	setTrack(&livekit.UpdateTrackSettings{Width: 600, Height: 300})
	onLayer(1, 0)
	// Disabled: nothing more arrives.
	setTrack(&livekit.UpdateTrackSettings{Disabled: true})
	var last int
	rtctest.Eventually(t, 10*time.Second, func() string {
		n := b.Received()[video.Sid].Packets
		defer func() { last = n }()
		if n != last {
			return "still receiving after disable"
		}
		return ""
	})
}

// TestPublisherGetsTransportFeedback: the SFU answers a publisher's
// transport-wide sequence numbers with feedback, which a browser's
// congestion control needs to raise its rate (and send its higher
// simulcast layers).
func TestPublisherGetsTransportFeedback(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Publish(ctx, livekit.TrackType_VIDEO, 3, livekit.Encryption_GCM); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 15*time.Second, func() string {
		if n := a.TransportFeedback(); n < 5 {
			return fmt.Sprintf("%d transport-wide feedback packets", n)
		}
		return ""
	})
}

func TestRefuseUnencryptedTrack(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := a.Publish(ctx, livekit.TrackType_VIDEO, 1, livekit.Encryption_NONE); err == nil {
		t.Fatal("unencrypted track was published")
	}
	res := a.Responses()
	if len(res) != 1 || res[0].Reason != livekit.RequestResponse_NOT_ALLOWED ||
		!strings.Contains(res[0].Message, "end-to-end encrypted") || res[0].GetAddTrack() == nil {
		t.Fatalf("refusal = %v", res)
	}
	if p := b.Participants()["P_alice"]; p == nil || len(p.Tracks) != 0 {
		t.Fatalf("others see alice as %v", p)
	}
}

// TestUnpublishByRenegotiation: a publisher that removes a sender and
// renegotiates (how livekit-client stops a screen share) has that track
// unpublished for everyone, while its other tracks go on.
func TestUnpublishByRenegotiation(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	video := publish(t, a, livekit.TrackType_VIDEO, 1)
	audio := publish(t, a, livekit.TrackType_AUDIO, 1)
	tracksOf := func() map[string]bool {
		out := map[string]bool{}
		if p := b.Participants()["P_alice"]; p != nil {
			for _, tr := range p.Tracks {
				out[tr.Sid] = true
			}
		}
		return out
	}
	rtctest.Eventually(t, 10*time.Second, func() string {
		if tr := tracksOf(); !tr[video.Sid] || !tr[audio.Sid] {
			return fmt.Sprintf("bob sees alice's tracks %v", tr)
		}
		if b.Received()[video.Sid].Packets == 0 {
			return "bob receives no video"
		}
		return ""
	})
	var cid string
	for c, info := range a.Published() {
		if info.Sid == video.Sid {
			cid = c
		}
	}
	if err := a.Unpublish(cid); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 10*time.Second, func() string {
		if tr := tracksOf(); tr[video.Sid] || !tr[audio.Sid] {
			return fmt.Sprintf("after unpublish bob sees alice's tracks %v", tr)
		}
		return ""
	})
	// Audio still flows.
	before := b.Received()[audio.Sid].Packets
	rtctest.Eventually(t, 5*time.Second, func() string {
		if b.Received()[audio.Sid].Packets <= before {
			return "audio stopped too"
		}
		return ""
	})
}

// TestAdminEndAndRemove: an admin's removal disconnects one participant
// (PARTICIPANT_REMOVED) and the others see it leave; ending the room
// disconnects everyone (ROOM_DELETED) and forgets the room.
func TestAdminEndAndRemove(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	c := dial(t, s, "P_carol")
	if err := s.Handler.RemoveParticipant(room, "P_nobody"); !errors.Is(err, rtc.ErrNoSuchParticipant) {
		t.Fatalf("remove unknown: %v", err)
	}
	if err := s.Handler.RemoveParticipant("no-room", "P_bob"); !errors.Is(err, rtc.ErrNoSuchRoom) {
		t.Fatalf("remove in unknown room: %v", err)
	}
	if err := s.Handler.RemoveParticipant(room, "P_bob"); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 5*time.Second, func() string {
		if l := b.Leave(); l == nil || l.Reason != livekit.DisconnectReason_PARTICIPANT_REMOVED {
			return "bob not told he was removed"
		}
		if a.Participants()["P_bob"] != nil {
			return "alice still sees bob"
		}
		return ""
	})
	if err := s.Handler.EndRoom(room); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 5*time.Second, func() string {
		for _, x := range []*rtctest.Client{a, c} {
			if l := x.Leave(); l == nil || l.Reason != livekit.DisconnectReason_ROOM_DELETED {
				return "a participant was not told the room ended"
			}
		}
		if n := len(s.Handler.Rooms()); n != 0 {
			return fmt.Sprintf("%d rooms left", n)
		}
		return ""
	})
	if err := s.Handler.EndRoom(room); !errors.Is(err, rtc.ErrNoSuchRoom) {
		t.Fatalf("end ended room: %v", err)
	}
}

func TestLeaveSeenWithinASecond(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	publish(t, a, livekit.TrackType_AUDIO, 1)
	rtctest.Eventually(t, 5*time.Second, func() string {
		if b.Participants()["P_alice"] == nil {
			return "bob does not see alice"
		}
		return ""
	})
	if err := a.LeaveRoom(); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, time.Second, func() string {
		if b.Participants()["P_alice"] != nil {
			return "bob still sees alice"
		}
		return ""
	})
	rtctest.Eventually(t, 5*time.Second, func() string {
		if rooms := s.Handler.Rooms(); len(rooms) != 1 || rooms[0].Participants != 1 {
			return fmt.Sprintf("rooms = %+v", rooms)
		}
		return ""
	})
}

func TestResumeAfterSignalDrop(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	video := publish(t, a, livekit.TrackType_VIDEO, 1)
	received(t, b, video.Sid, 10)
	b.DropSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Resume(ctx, s.URL, s.Token(t, room, "P_bob")); err != nil {
		t.Fatalf("resume: %v", err)
	}
	n := b.Received()[video.Sid].Packets
	received(t, b, video.Sid, n+30)
	// Alice never saw bob leave.
	if a.Participants()["P_bob"] == nil {
		t.Fatal("bob disappeared during the resume")
	}
	// The publisher side resumes too (ICE restart on the same connection).
	a.DropSignal()
	if err := a.Resume(ctx, s.URL, s.Token(t, room, "P_alice")); err != nil {
		t.Fatalf("publisher resume: %v", err)
	}
	n = b.Received()[video.Sid].Packets
	received(t, b, video.Sid, n+30)
}

func TestResumeUnknownParticipantAsksForRejoin(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	ws, _, err := websocket.DefaultDialer.Dial(s.URL+"/rtc?reconnect=1&sid=PA_nobody&access_token="+s.Token(t, room, "P_x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	res := readResponse(t, ws)
	l := res.GetLeave()
	if l == nil || l.Action != livekit.LeaveRequest_RECONNECT {
		t.Fatalf("first message = %v, want a leave asking for a full reconnect", res)
	}
}

func TestDroppedParticipantRemovedAfterGrace(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{ReconnectGrace: 200 * time.Millisecond})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	_ = b
	a.DropSignal()
	rtctest.Eventually(t, 5*time.Second, func() string {
		if b.Participants()["P_alice"] != nil {
			return "alice still present"
		}
		return ""
	})
}

func TestDuplicateIdentityReplacesOld(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a1 := dial(t, s, "P_alice")
	dial(t, s, "P_alice")
	rtctest.Eventually(t, 5*time.Second, func() string {
		if l := a1.Leave(); l == nil || l.Reason != livekit.DisconnectReason_DUPLICATE_IDENTITY {
			return "old session not told"
		}
		return ""
	})
}

func TestPingPong(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	if a.Join.PingInterval <= 0 || a.Join.PingTimeout <= a.Join.PingInterval {
		t.Fatalf("ping config %d/%d", a.Join.PingInterval, a.Join.PingTimeout)
	}
	_ = a.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: 42}})
	_ = a.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 43}}})
	rtctest.Eventually(t, 5*time.Second, func() string {
		if a.Pongs() != 2 {
			return fmt.Sprintf("%d pongs", a.Pongs())
		}
		return ""
	})
}

// TestRefreshToken: a connected participant is sent fresh tokens for its own
// claims, so that a resume after the first token expired still works.
func TestRefreshToken(t *testing.T) {
	var s *rtctest.Server
	s = rtctest.Start(t, rtc.Config{
		RefreshInterval: 50 * time.Millisecond,
		Refresh: func(c token.Claims) (string, error) {
			return s.Issuer.Issue(c, time.Minute)
		},
	})
	a := dial(t, s, "P_alice")
	rtctest.Eventually(t, 5*time.Second, func() string {
		if a.RefreshedToken() == "" {
			return "no refresh_token"
		}
		return ""
	})
	c, err := s.Verifier.Verify(a.RefreshedToken(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity != "P_alice" || c.Room != room {
		t.Fatalf("refreshed claims %+v", c)
	}
}

func TestShutdownTellsParticipants(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Handler.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rtctest.Eventually(t, 5*time.Second, func() string {
		if l := a.Leave(); l == nil || l.Reason != livekit.DisconnectReason_SERVER_SHUTDOWN {
			return "no shutdown leave"
		}
		return ""
	})
	if len(s.Handler.Rooms()) != 0 {
		t.Fatal("rooms left after shutdown")
	}
}

func readResponse(t *testing.T, ws *websocket.Conn) *livekit.SignalResponse {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	res := &livekit.SignalResponse{}
	if err := protoUnmarshal(data, res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHTTPPaths(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	good := s.Token(t, room, "P_v")
	tests := []struct {
		name string
		path string
		want int
	}{
		{"validate with a good token", "/rtc/validate?access_token=" + good, http.StatusOK},
		{"validate with a bad token", "/rtc/validate?access_token=garbage", http.StatusUnauthorized},
		{"validate without a token", "/rtc/validate", http.StatusUnauthorized},
		{"v1 validate is not served", "/rtc/v1/validate?access_token=" + good, http.StatusNotFound},
		{"v1 is not served", "/rtc/v1?access_token=" + good, http.StatusNotFound},
		{"plain GET on rtc", "/rtc?access_token=" + good, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Get(s.HTTP.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{MaxMessageSize: 4096})
	forged, err := token.NewIssuer("rtctest", []byte("another secret of at least thirty-two bytes")).Issue(tokenClaims("P_forged"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("invalid token refused before upgrade", func(t *testing.T) {
		for _, tok := range []string{"garbage", forged, ""} {
			_, res, err := websocket.DefaultDialer.Dial(s.URL+"/rtc?access_token="+tok, nil)
			if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token %.10q: err %v, response %v", tok, err, res)
			}
		}
	})
	raw := func(t *testing.T, kind int, payload []byte) (*websocket.CloseError, []*livekit.SignalResponse) {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial(s.URL+"/rtc?access_token="+s.Token(t, room, "P_raw"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		readResponse(t, ws) // join
		if err := ws.WriteMessage(kind, payload); err != nil {
			t.Fatal(err)
		}
		var got []*livekit.SignalResponse
		for {
			_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				ce, _ := err.(*websocket.CloseError)
				return ce, got
			}
			res := &livekit.SignalResponse{}
			if protoUnmarshal(data, res) == nil {
				got = append(got, res)
				if res.GetRequestResponse() != nil {
					return nil, got
				}
			}
		}
	}
	t.Run("malformed protobuf closes with 1007", func(t *testing.T) {
		ce, _ := raw(t, websocket.BinaryMessage, []byte{0xff, 0xff, 0xff, 0xff})
		if ce == nil || ce.Code != websocket.CloseInvalidFramePayloadData {
			t.Fatalf("close = %v", ce)
		}
	})
	t.Run("oversized message closes with 1009", func(t *testing.T) {
		ce, _ := raw(t, websocket.BinaryMessage, make([]byte, 8192))
		if ce == nil || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("close = %v", ce)
		}
	})
	t.Run("unknown message type answered", func(t *testing.T) {
		// Field 999, a varint: valid protobuf, no known message.
		ce, got := raw(t, websocket.BinaryMessage, []byte{0xb8, 0x3e, 0x01})
		if ce != nil || len(got) == 0 || got[len(got)-1].GetRequestResponse().GetReason() != livekit.RequestResponse_UNSUPPORTED_TYPE {
			t.Fatalf("close %v, responses %v", ce, got)
		}
	})
	t.Run("garbage SDP answered with an error", func(t *testing.T) {
		b := mustMarshal(t, &livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\nthis is not sdp"}}})
		ce, got := raw(t, websocket.BinaryMessage, b)
		if ce != nil || len(got) == 0 || got[len(got)-1].GetRequestResponse().GetReason() != livekit.RequestResponse_INVALID_REQUEST {
			t.Fatalf("close %v, responses %v", ce, got)
		}
	})
	t.Run("offer with only unsupported codecs answered with an error", func(t *testing.T) {
		b := mustMarshal(t, &livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: h264OnlyOffer}}})
		ce, got := raw(t, websocket.BinaryMessage, b)
		if ce != nil || len(got) == 0 || !strings.Contains(got[len(got)-1].GetRequestResponse().GetMessage(), "VP8") {
			t.Fatalf("close %v, responses %v", ce, got)
		}
	})
	// The room still works after all of that.
	a := dial(t, s, "P_after")
	b := dial(t, s, "P_after2")
	audio := publish(t, a, livekit.TrackType_AUDIO, 1)
	received(t, b, audio.Sid, 10)
}

func TestSpeakerUpdatesFromAudioLevel(t *testing.T) {
	s := rtctest.Start(t, rtc.Config{})
	a := dial(t, s, "P_alice")
	b := dial(t, s, "P_bob")
	publish(t, a, livekit.TrackType_AUDIO, 1) // sends RFC 6464 levels of -20 dBov with voice activity
	sid := a.Join.Participant.Sid
	rtctest.Eventually(t, 5*time.Second, func() string {
		if !b.Speaking(sid) {
			return "alice not reported as speaking"
		}
		return ""
	})
	if b.Speaking(b.Join.Participant.Sid) {
		t.Fatal("silent bob reported as speaking")
	}
}

// TestArrivalAnnouncesBusy: a participant's arrival and its admission each
// call Config.Busy, which lets the scheduler sizing keep a P free for media
// during the burst of control work that follows.
func TestArrivalAnnouncesBusy(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
	s := rtctest.Start(t, rtc.Config{Busy: func() {
		mu.Lock()
		calls++
		mu.Unlock()
	}})
	if n := count(); n != 0 {
		t.Fatalf("Busy called %d times before anyone came", n)
	}
	dial(t, s, "P_alice")
	if n := count(); n != 1 {
		t.Fatalf("Busy called %d times for one arrival, want 1", n)
	}
	rooms := s.Handler.Rooms()
	if len(rooms) != 1 {
		t.Fatalf("%d rooms", len(rooms))
	}
	s.Handler.Readmit(rooms[0].Key, "P_alice")
	if n := count(); n != 2 {
		t.Fatalf("Busy called %d times after an admission, want 2", n)
	}
}
