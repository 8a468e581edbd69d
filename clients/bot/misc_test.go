package bot

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

func TestSignalURL(t *testing.T) {
	cases := []struct {
		name, base string
		reconnect  bool
		want       map[string]string
		prefix     string
	}{
		{"join", "ws://127.0.0.1:7880", false, map[string]string{"access_token": "T", "protocol": "17", "auto_subscribe": "1", "reconnect": ""}, "ws://127.0.0.1:7880/rtc?"},
		{"http origin", "http://h:1/", false, map[string]string{"protocol": "17"}, "ws://h:1/rtc?"},
		{"https origin", "https://h", false, nil, "wss://h/rtc?"},
		{"resume", "wss://h", true, map[string]string{"reconnect": "1", "sid": "PA_1", "reconnect_reason": "1"}, "wss://h/rtc?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signalURL(tc.base, "T", tc.reconnect, "PA_1", livekit.ReconnectReason_RR_SIGNAL_DISCONNECTED)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, tc.prefix) {
				t.Errorf("%s, want prefix %s", s, tc.prefix)
			}
			u, _ := url.Parse(s)
			for k, v := range tc.want {
				if got := u.Query().Get(k); got != v {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
		})
	}
	if _, err := signalURL("ftp://h", "T", false, "", 0); err == nil {
		t.Error("accepted an ftp URL")
	}
}

func TestBrowserLikeSDP(t *testing.T) {
	in := strings.Join([]string{
		"v=0", "s=-",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=ssrc:1 cname:x", "a=sendonly",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "a=ssrc-group:FID 2 3", "a=ssrc:2 cname:x", "a=ssrc:4 cname:x",
		"a=rid:q send", "a=rid:h send", "a=simulcast:send q;h", "a=sendonly", "",
	}, "\r\n")
	out := browserLikeSDP(in)
	if !strings.Contains(out, "a=ssrc:1 cname:x\r\n") {
		t.Error("dropped the audio SSRC, which is not simulcast")
	}
	for _, gone := range []string{"a=ssrc:2", "a=ssrc:4", "a=ssrc-group"} {
		if strings.Contains(out, gone) {
			t.Errorf("kept %q in the simulcast section", gone)
		}
	}
	for _, kept := range []string{"a=rid:q send\r\n", "a=simulcast:send q;h\r\n", "m=video", "a=mid:1\r\n"} {
		if !strings.Contains(out, kept) {
			t.Errorf("lost %q", kept)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.1 {
			t.Errorf("q%.2f = %v, want within 10%% above %v", tc.q, got, tc.want)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	var o histogram
	o.add(-time.Second) // clock skew: counted as zero
	h.merge(&o)
	if h.n != 1001 || h.quantile(0.0001) > time.Microsecond*2 {
		t.Errorf("merge: n=%d, min quantile %v", h.n, h.quantile(0.0001))
	}
}

func TestCommandFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want error
	}{
		{"no target", []string{"--duration", "1s"}, nil},
		{"bad quality", []string{"--link", "http://h/m/" + testRoom + "#" + testSecret, "--quality", "ultra"}, nil},
		{"bad publish", []string{"--link", "http://h/m/" + testRoom + "#" + testSecret, "--publish", "smell"}, nil},
		{"bad link", []string{"--link", "http://h/x"}, ErrBadLink},
		{"url without secret", []string{"--url", "ws://h", "--token", "T"}, nil},
		{"bad secret", []string{"--url", "ws://h", "--token", "T", "--secret", "xx", "--room", testRoom}, ErrBadLink},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Command(t.Context(), tc.args, &out, &errOut)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed a report: %q", out.String())
			}
		})
	}
}

func TestParseQualityAndPublish(t *testing.T) {
	for s, want := range map[string]Layer{"low": LayerLow, "medium": LayerMedium, "high": LayerHigh, "HIGH": LayerHigh} {
		if got, err := ParseQuality(s); err != nil || got != want {
			t.Errorf("ParseQuality(%q) = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string][2]bool{"audio,video": {true, true}, "audio": {true, false}, "video": {false, true}, "none": {false, false}} {
		a, v, err := parsePublish(s)
		if err != nil || [2]bool{a, v} != want {
			t.Errorf("parsePublish(%q) = %v %v %v", s, a, v, err)
		}
	}
}
