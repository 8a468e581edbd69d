package phone

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Frequencies the tests look for.
const (
	phoneTone   = 700.0  // what baresip's microphone plays
	meetingTone = 1000.0 // what the meeting member plays
)

type dialCase struct {
	name      string
	transport string // udp, tcp, tls
	account   string // baresip accounts line (without the address)
	user      string // desk phone user ("" = trunk)
	trunk     bool
	srtp      SRTPPolicy
	codec     string
}

// TestBaresipEndToEnd calls the gateway from a real softphone, enters the
// code by RFC 4733 DTMF, waits in the lobby, is admitted, and checks by
// recording both sides that the prompts and the audio pass; then the
// meeting ends and the phone is hung up.
func TestBaresipEndToEnd(t *testing.T) {
	for _, tc := range []dialCase{
		{name: "G722/UDP/digest", transport: "udp", user: "desk1", codec: "G722/16000/1"},
		{name: "PCMU/TLS/SRTP-required/trunk", transport: "tls", trunk: true, srtp: SRTPRequired, codec: "PCMU/8000/1"},
		{name: "Opus/TCP/digest", transport: "tcp", user: "desk2", codec: "opus/48000/2"},
		{name: "PCMA/UDP/trunk", transport: "udp", trunk: true, codec: "PCMA/8000/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runDial(t, tc)
		})
	}
}

func runDial(t *testing.T, tc dialCase) {
	m := &fakeMeetings{admitAfter: 1500 * time.Millisecond, toneHz: meetingTone}
	cfg := Config{SRTP: tc.srtp}
	if tc.trunk {
		cfg.Trunks = []string{"127.0.0.1"}
	}
	var users []string
	if tc.user != "" {
		users = append(users, tc.user)
	}
	tg := startGateway(t, cfg, m, users...)
	acct := "<sip:+4930123456@127.0.0.1>;regint=0"
	if tc.user != "" {
		acct = fmt.Sprintf("<sip:%s@127.0.0.1>;auth_pass=%s;regint=0", tc.user, tg.password(tc.user))
	}
	acct += ";audio_codecs=" + tc.codec
	if tc.srtp == SRTPRequired || strings.Contains(tc.name, "SRTP") {
		acct += ";mediaenc=srtp-mand"
	}

	phone := startBaresip(t, baresipConfig{Account: acct, ToneHz: phoneTone})
	ap := tg.g.Addr(tc.transport)
	uri := fmt.Sprintf("sip:conclave@%s", ap)
	if tc.transport != "udp" {
		uri += ";transport=" + tc.transport
	}
	phone.Command("dial", uri)
	phone.WaitEvent(15*time.Second, "CALL_ESTABLISHED")

	// The enter-code prompt plays; then dial the code.
	waitFor(t, 10*time.Second, "the enter-code prompt", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, 660, meetingTone) >= 3 && toneSpans(pcm, rate, 880, meetingTone) >= 3
	})
	phone.Command("sndcode", tg.code+"#")

	// Waiting tone in the lobby, then the meeting's tone.
	waitFor(t, 15*time.Second, "the waiting tone", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, 425, 660, 880, meetingTone) >= 10
	})
	waitFor(t, 15*time.Second, "the meeting's tone at the phone", func() bool {
		pcm, rate := phone.Recording()
		return toneSpans(pcm, rate, meetingTone, 425, 660, 880) >= 25
	})
	waitFor(t, 10*time.Second, "the phone's tone in the meeting", func() bool {
		return toneSpans(m.phoneAudio(), 48000, phoneTone, meetingTone, 425) >= 25
	})
	// Before admission nothing of the phone reached the meeting, and
	// nothing of the meeting reached the phone (the recording up to the
	// waiting tone has no meeting tone).
	pcm, rate := phone.Recording()
	first425 := firstSpan(pcm, rate, 425)
	if first425 < 0 || toneSpans(pcm[:first425], rate, meetingTone, 660, 880, 425) > 0 {
		t.Errorf("meeting audio heard before the lobby ended (first waiting tone at %d)", first425)
	}
	m.mu.Lock()
	caller := m.joined[0]
	m.mu.Unlock()
	wantID := "+4930123456"
	if tc.user != "" {
		wantID = "sip:" + tc.user
	}
	if got, want := caller.DisplayName(), "Phone caller ("+wantID+"), via gateway test-gw"; got != want {
		t.Errorf("member label %q, want %q", got, want)
	}

	if tc.user == "desk1" {
		// *6 mutes: the meeting stops getting the phone's audio; *6
		// again unmutes.
		phone.Command("sndcode", "*6")
		waitFor(t, 5*time.Second, "mute", func() bool {
			tg.g.mu.Lock()
			defer tg.g.mu.Unlock()
			for _, c := range tg.g.calls {
				c.mu.Lock()
				muted := c.muted
				c.mu.Unlock()
				return muted
			}
			return false
		})
		n := len(m.phoneAudio())
		waitFor(t, 5*time.Second, "the muted tone at the phone", func() bool {
			pcm, rate := phone.Recording()
			return toneSpans(pcm, rate, 350, meetingTone) >= 3
		})
		if got := len(m.phoneAudio()); got > n+960 {
			t.Fatalf("muted phone still sent %d samples", got-n)
		}
		phone.Command("sndcode", "*6")
		waitFor(t, 5*time.Second, "audio after unmute", func() bool { return len(m.phoneAudio()) > n+24000 })
	}

	// The meeting goes away: the phone is told and hung up.
	m.leg(0).end()
	phone.WaitEvent(15*time.Second, "CALL_CLOSED")
	waitFor(t, 5*time.Second, "the call to end", func() bool { return tg.g.Calls() == 0 })
}

func firstSpan(pcm []int16, rate int, freq float64) int {
	win := rate / 50
	for i := 0; i+win <= len(pcm); i += win {
		if toneSpans(pcm[i:i+win], rate, freq) > 0 {
			return i
		}
	}
	return -1
}
