package phone

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// A Go UAC (no media beyond a bound socket) calls as a trunk, enters the
// code by SIP INFO (application/dtmf-relay), refreshes the session with a
// re-INVITE, and hangs up; the gateway joins the meeting and ends the call.
func TestInfoDigitsReInviteAndBye(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	tg := startGateway(t, Config{Trunks: []string{"127.0.0.1"}}, m)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tester"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { pc.Close(); client.Close(); ua.Close() })
	byeSeen := make(chan struct{}, 1)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byeSeen <- struct{}{}
	})
	media, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer media.Close()
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + itoa(media.LocalAddr().(*net.UDPAddr).Port) + " RTP/AVP 8\r\n"
	laddr := pc.LocalAddr().(*net.UDPAddr)
	dua := sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: sip.Uri{User: "+4940555", Host: "127.0.0.1", Port: laddr.Port}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw := tg.g.Addr("udp")
	sess, err := dua.Invite(ctx, sip.Uri{User: "conclave", Host: "127.0.0.1", Port: int(gw.Port())}, []byte(offer),
		sip.NewHeader("Content-Type", "application/sdp"),
		// The trunk asserts the caller (RFC 3325); the gateway labels the
		// member with it, not with the From user.
		sip.NewHeader("P-Asserted-Identity", "\"Somebody\" <sip:+4940555@127.0.0.1>"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	info := func(ct, body string) int {
		req := sip.NewRequest(sip.INFO, sess.InviteRequest.Recipient)
		req.SetBody([]byte(body))
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
		res, err := sess.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if st := info("text/plain", "hello"); st != 415 {
		t.Fatalf("INFO text/plain: %d", st)
	}
	for _, d := range tg.code {
		if st := info("application/dtmf-relay", "Signal="+string(d)+"\r\nDuration=160\r\n"); st != 200 {
			t.Fatalf("INFO digit: %d", st)
		}
	}
	info("application/dtmf-relay", "Signal=#\r\nDuration=160\r\n")
	waitFor(t, 10*time.Second, "the gateway to knock", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.legs) == 1
	})
	// A session refresh (RFC 4028) by re-INVITE with the same offer.
	re := sip.NewRequest(sip.INVITE, sess.InviteRequest.Recipient)
	re.SetBody([]byte(offer))
	re.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := sess.Do(ctx, re)
	if err != nil || res.StatusCode != 200 || len(res.Body()) == 0 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	m.mu.Lock()
	caller := m.joined[0]
	m.mu.Unlock()
	if caller.Identity != "+4940555" {
		t.Fatalf("caller %q", caller.Identity)
	}
	// The meeting ends: the gateway sends BYE to the caller.
	m.leg(0).end()
	select {
	case <-byeSeen:
	case <-ctx.Done():
		t.Fatal("no BYE from the gateway")
	}
	waitFor(t, 5*time.Second, "the call to end", func() bool { return tg.g.Calls() == 0 })
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
