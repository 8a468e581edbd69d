package sdp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// baresipOffer is the shape of baresip 1.0.0's offer with every codec.
const baresipOffer = "v=0\r\n" +
	"o=- 2890844526 2890844526 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 10002 RTP/SAVP 96 9 0 8 101\r\n" +
	"b=AS:96\r\n" +
	"a=rtpmap:96 opus/48000/2\r\n" +
	"a=fmtp:96 stereo=1;sprop-stereo=1\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\n" +
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n" +
	"a=sendrecv\r\n" +
	"a=ptime:20\r\n"

func TestParseAndNegotiate(t *testing.T) {
	o, err := Parse([]byte(baresipOffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != netip.MustParseAddrPort("127.0.0.1:10002") || !o.Secure || len(o.Crypto) != 1 || o.Ptime != 20 {
		t.Fatalf("offer %+v", o)
	}
	for _, tc := range []struct {
		name  string
		prefs []Codec
		want  Choice
	}{
		{"default prefers opus, 8k events", nil, Choice{Codec: Opus, PT: 96, DTMF: 101, DTMFClock: 8000, Ptime: 20}},
		{"g722 with 8k events", []Codec{G722}, Choice{Codec: G722, PT: 9, DTMF: 101, DTMFClock: 8000, Ptime: 20}},
		{"pcma static", []Codec{PCMA}, Choice{Codec: PCMA, PT: 8, DTMF: 101, DTMFClock: 8000, Ptime: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := Negotiate(o, tc.prefs)
			if err != nil || ch != tc.want {
				t.Fatalf("got %+v, %v; want %+v", ch, err, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, sdp string
		err       error
	}{
		{"garbage", "hello", ErrMalformed},
		{"video only", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", ErrNoAudio},
		{"dtls", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 UDP/TLS/RTP/SAVPF 111\r\n", ErrNoAudio},
		{"no c line", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", ErrMalformed},
		{"bad pt", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 300\r\n", ErrMalformed},
		{"too large", strings.Repeat("a", MaxSize+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.sdp)); !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestNoCommonCodec(t *testing.T) {
	o, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18 96\r\na=rtpmap:96 G726-32/8000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Negotiate(o, nil); !errors.Is(err, ErrNoCodec) {
		t.Fatalf("err %v", err)
	}
}

func TestAnswerParsesBack(t *testing.T) {
	a := Answer{
		Choice:    Choice{Codec: G722, PT: 9, DTMF: 101, DTMFClock: 8000, Ptime: 20},
		Addr:      netip.MustParseAddrPort("127.0.0.1:20000"),
		SessionID: 7, Version: 1,
		Crypto: "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
	}
	o, err := Parse(a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Negotiate(o, []Codec{G722})
	if err != nil || ch != a.Choice || o.Addr != a.Addr || !o.Secure || o.Crypto[0] != a.Crypto {
		t.Fatalf("answer parsed back as %+v / %+v, %v", o, ch, err)
	}
}

// Offers from the network: parsing never panics, and what is accepted
// yields an answer that parses back to the same choice.
func FuzzParse(f *testing.F) {
	f.Add([]byte(baresipOffer))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Parse(b)
		if err != nil {
			return
		}
		ch, err := Negotiate(o, nil)
		if err != nil {
			return
		}
		a := Answer{Choice: ch, Addr: netip.MustParseAddrPort("127.0.0.1:4000")}
		o2, err := Parse(a.Marshal())
		if err != nil {
			t.Fatalf("own answer: %v", err)
		}
		ch2, err := Negotiate(o2, []Codec{ch.Codec})
		if err != nil || ch2 != ch {
			t.Fatalf("answer round trip %+v -> %+v, %v", ch, ch2, err)
		}
	})
}

func TestEventsAtCodecClockPreferred(t *testing.T) {
	o, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 111 101 102\r\n" +
		"a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:102 telephone-event/48000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Negotiate(o, nil)
	if err != nil || ch.DTMF != 102 || ch.DTMFClock != 48000 {
		t.Fatalf("choice %+v, %v", ch, err)
	}
}
