package phone

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

const plainOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"

// sipRequest sends one request from a Go SIP client and returns the final
// response's status.
func sipRequest(t *testing.T, client *sipgo.Client, method sip.RequestMethod, to netip.AddrPort, transport string, body string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(method, sip.Uri{User: "conclave", Host: to.Addr().String(), Port: int(to.Port())})
	req.SetTransport(transport)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "tester", Host: "127.0.0.1", Port: 5999}})
	if body != "" {
		req.SetBody([]byte(body))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

func newSIPClient(t *testing.T) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tester"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); ua.Close() })
	return c
}

func TestSIPResponses(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	onlyTrunks := startGateway(t, Config{Trunks: []string{"192.0.2.0/24"}}, m)
	withPhones := startGateway(t, Config{SRTP: SRTPRequired}, m, "desk1")
	client := newSIPClient(t)
	for _, tc := range []struct {
		name   string
		g      *testGateway
		method sip.RequestMethod
		body   string
		want   int
		header string
	}{
		{"address not allowed, no desk phones", onlyTrunks, sip.INVITE, plainOffer, 403, ""},
		{"desk phone without credentials", withPhones, sip.INVITE, plainOffer, 401, "WWW-Authenticate"},
		{"options keepalive", onlyTrunks, sip.OPTIONS, "", 200, "Allow"},
		{"subscribe not allowed", onlyTrunks, sip.SUBSCRIBE, "", 405, "Allow"},
		{"message not allowed", onlyTrunks, sip.MESSAGE, "", 405, "Allow"},
		{"unknown method", onlyTrunks, sip.RequestMethod("FROBNICATE"), "", 501, ""},
		{"bye outside a call", onlyTrunks, sip.BYE, "", 481, ""},
		{"info outside a call", onlyTrunks, sip.INFO, "", 481, ""},
		{"register without credentials", withPhones, sip.REGISTER, "", 401, "WWW-Authenticate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sipRequest(t, client, tc.method, tc.g.g.Addr("udp"), "UDP", tc.body)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tc.want)
			}
			if tc.header != "" && res.GetHeader(tc.header) == nil {
				t.Fatalf("no %s header", tc.header)
			}
		})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.joined) != 0 {
		t.Fatalf("refused calls reached a meeting: %v", m.joined)
	}
}

func TestSRTPRequiredRefusesPlainRTP(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	tg := startGateway(t, Config{SRTP: SRTPRequired, Trunks: []string{"127.0.0.1"}}, m)
	client := newSIPClient(t)
	res := sipRequest(t, client, sip.INVITE, tg.g.Addr("udp"), "UDP", plainOffer)
	if res.StatusCode != 488 {
		t.Fatalf("plain RTP under srtp: required: %d", res.StatusCode)
	}
	savp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
	if res := sipRequest(t, client, sip.INVITE, tg.g.Addr("udp"), "UDP", savp); res.StatusCode != 488 {
		t.Fatalf("SDES over plain UDP under srtp: required: %d", res.StatusCode)
	}
}

// dialAndEnter calls the gateway from baresip and dials digits once the
// enter-code prompt plays.
func dialAndEnter(t *testing.T, tg *testGateway, phone *baresip, digits string) {
	t.Helper()
	phone.Command("dial", fmt.Sprintf("sip:conclave@%s", tg.g.Addr("udp")))
	phone.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	waitFor(t, 10*time.Second, "the enter-code prompt", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, 660) >= 3
	})
	phone.Command("sndcode", digits)
}

func TestWrongCodesHangUp(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	tg := startGateway(t, Config{Trunks: []string{"127.0.0.1"}}, m)
	phone := startBaresip(t, baresipConfig{Account: "<sip:+15550100@127.0.0.1>;regint=0;audio_codecs=PCMU/8000/1", ToneHz: phoneTone})
	wrong := []byte(tg.code)
	wrong[9] = '0' + (wrong[9]-'0'+1)%10
	dialAndEnter(t, tg, phone, string(wrong)+"#")
	waitFor(t, 10*time.Second, "the wrong-code tone", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, 913.8, 1370.6, 660, 880) >= 5 && toneSpans(pcm, rate, 1776.7, 1370.6, 660, 880) >= 5
	})
	phone.Command("sndcode", "123#")
	phone.Command("sndcode", "0000000000")
	phone.WaitEvent(20*time.Second, "CALL_CLOSED")
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.joined) != 0 {
		t.Fatal("a wrong code reached a meeting")
	}
	// The caller's wrong-code budget is spent: 3 of the default 5.
	if !tg.g.limiter.Allow("trunk:127.0.0.1:+15550100") {
		t.Fatal("limiter exhausted after 3 wrong codes (default allows 5)")
	}
}

func TestForbiddenMeetingRefuses(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone, refuse: ErrPhonesForbidden, admitAfter: 200 * time.Millisecond}
	tg := startGateway(t, Config{Trunks: []string{"127.0.0.1"}}, m)
	phone := startBaresip(t, baresipConfig{Account: "<sip:+15550101@127.0.0.1>;regint=0;audio_codecs=PCMA/8000/1", ToneHz: phoneTone})
	dialAndEnter(t, tg, phone, tg.code+"#")
	waitFor(t, 10*time.Second, "the refusal tones", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, 783.99, 523.25, 659.25) >= 3 && toneSpans(pcm, rate, 523.25, 783.99, 659.25) >= 5
	})
	phone.WaitEvent(10*time.Second, "CALL_CLOSED")
	if len(m.phoneAudio()) != 0 {
		t.Fatal("phone audio reached a meeting that forbids phones")
	}
}

// A flood of INVITEs from one address is answered 503 after a short burst,
// while a call in progress from the same address keeps its audio.
func TestInviteFloodSparesCallsInProgress(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	tg := startGateway(t, Config{}, m, "desk1")
	phone := startBaresip(t, baresipConfig{
		Account: fmt.Sprintf("<sip:desk1@127.0.0.1>;auth_pass=%s;regint=0;audio_codecs=PCMU/8000/1", tg.password("desk1")),
		ToneHz:  phoneTone,
	})
	dialAndEnter(t, tg, phone, tg.code+"#")
	waitFor(t, 10*time.Second, "the phone's tone in the meeting", func() bool {
		return toneSpans(m.phoneAudio(), 48000, phoneTone) >= 10
	})
	client := newSIPClient(t)
	const flood = 60
	counts := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := sipRequest(t, client, sip.INVITE, tg.g.Addr("udp"), "UDP", plainOffer)
			mu.Lock()
			counts[res.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[503] < flood-10 || counts[401]+counts[503] != flood {
		t.Fatalf("flood answers %v", counts)
	}
	before := len(m.phoneAudio())
	waitFor(t, 5*time.Second, "audio to keep flowing after the flood", func() bool {
		a := m.phoneAudio()
		return len(a) > before+48000 && toneSpans(a[before:], 48000, phoneTone) >= 40
	})
	if tg.g.Calls() != 1 {
		t.Fatalf("%d calls", tg.g.Calls())
	}
	t.Logf("flood answers %v", counts)
}

func TestSessionTimerTooSmall(t *testing.T) {
	t.Parallel()
	m := &fakeMeetings{toneHz: meetingTone}
	tg := startGateway(t, Config{Trunks: []string{"127.0.0.1"}, SessionExpires: 30 * time.Minute}, m)
	client := newSIPClient(t)
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "conclave", Host: "127.0.0.1", Port: int(tg.g.Addr("udp").Port())})
	req.SetTransport("UDP")
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "tester", Host: "127.0.0.1", Port: 5999}})
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("Session-Expires", "60"))
	req.SetBody([]byte(plainOffer))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 422 || res.GetHeader("Min-SE") == nil || res.GetHeader("Min-SE").Value() != "90" {
		t.Fatalf("status %d, Min-SE %v", res.StatusCode, res.GetHeader("Min-SE"))
	}
}
