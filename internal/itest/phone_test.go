package itest

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/clients/bot"
	"conclave/clients/phone"
	"conclave/clients/phone/dialin"
	"conclave/clients/phone/media/opus"
	"conclave/clients/phone/phonetest"
	sipauth "conclave/clients/phone/sip"
)

// Tones of the phone gateway test: the phone's microphone plays phoneHz in
// bursts (on for half of each phoneBurst), the member bot plays memberHz.
const (
	phoneHz    = 700.0
	memberHz   = 1000.0
	phoneBurst = 400 * time.Millisecond
)

// toneSource is a bot.AudioSource playing a continuous sine as Opus.
type toneSource struct {
	enc   *opus.Encoder
	phase int
	freq  float64
	pcm   []int16
	buf   []byte
}

func newToneSource(t *testing.T, freq float64) *toneSource {
	enc, err := opus.NewEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	return &toneSource{enc: enc, freq: freq, pcm: make([]int16, 960)}
}

// next is called by the bot's media loop only.
func (s *toneSource) next() []byte {
	for i := range s.pcm {
		s.pcm[i] = int16(6000 * math.Sin(2*math.Pi*s.freq*float64(s.phase)/48000))
		s.phase++
	}
	b, err := s.enc.Encode(s.buf[:0], s.pcm)
	if err != nil {
		return nil
	}
	s.buf = b
	return b
}

// heard is a bot.AudioSink decoding each sender's Opus and noting when the
// phone's tone bursts start.
type heard struct {
	mu     sync.Mutex
	decs   map[string]*opus.Decoder
	frames map[string]int
	toneOn map[string]bool
	onsets map[string][]time.Time
}

func newHeard(t *testing.T) *heard {
	h := &heard{decs: map[string]*opus.Decoder{}, frames: map[string]int{}, toneOn: map[string]bool{}, onsets: map[string][]time.Time{}}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, d := range h.decs {
			d.Close()
		}
		h.decs = nil
	})
	return h
}

func (h *heard) sink(f bot.AudioFrame) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.decs == nil {
		return
	}
	d := h.decs[f.From]
	if d == nil {
		var err error
		if d, err = opus.NewDecoder(); err != nil {
			return
		}
		h.decs[f.From] = d
	}
	pcm, err := d.Decode(nil, f.Opus)
	if err != nil {
		return
	}
	on := phonetest.ToneSpans(pcm, 48000, phoneHz, memberHz, 425, 660, 880) > 0
	if on {
		h.frames[f.From]++
		if !h.toneOn[f.From] {
			h.onsets[f.From] = append(h.onsets[f.From], now)
		}
	}
	h.toneOn[f.From] = on
}

// toneFrames returns how many 20 ms frames of the phone's tone each sender
// delivered.
func (h *heard) toneFrames() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.frames {
		out[k] = v
	}
	return out
}

func (h *heard) onsetsOf(from string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.onsets[from])
}

type phoneCase struct {
	name, transport, codec string
	srtp                   bool
	// forbid: the meeting forbids phones; the member refuses the gateway.
	forbid bool
}

// TestPhoneGatewayEndToEnd: a real softphone calls the gateway, enters the
// meeting's dial-in code by DTMF, waits in the lobby of a real E2EE
// meeting until a member bot admits the gateway member, and then each side
// hears the other's tone through MLS-keyed SFrame; the member's report
// shows the phone member (the banner state); when the member leaves, the
// phone is told and hung up.
func TestPhoneGatewayEndToEnd(t *testing.T) {
	for _, tc := range []phoneCase{
		{name: "G722/UDP", transport: "udp", codec: "G722/16000/1"},
		{name: "PCMU/TLS/SRTP", transport: "tls", codec: "PCMU/8000/1", srtp: true},
		{name: "phones-forbidden", transport: "udp", codec: "PCMA/8000/1", forbid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runPhone(t, tc)
		})
	}
}

func runPhone(t *testing.T, tc phoneCase) {
	s := startServer(t)
	link := s.newMeeting()
	l, err := bot.ParseLink(link)
	if err != nil {
		t.Fatal(err)
	}

	// The member: holds the link, admits whoever knocks (a person would
	// read the label first), plays memberHz, decodes what it hears.
	h := newHeard(t)
	cfg := s.config("member")
	cfg.NoVideo = true
	cfg.E2EE.AdmitAll = true
	cfg.E2EE.WaitJoined = true
	cfg.E2EE.ForbidPhones = tc.forbid
	cfg.AudioSource = newToneSource(t, memberHz).next
	cfg.AudioSink = h.sink
	member := s.join(link, cfg)

	// The gateway, dialling into this server's meeting by its code.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	dir, err := dialin.NewDirectory(key, "")
	if err != nil {
		t.Fatal(err)
	}
	code, err := dir.Assign(dialin.Room{Server: s.base, ID: l.RoomID}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	phones, err := sipauth.LoadPhones("")
	if err != nil {
		t.Fatal(err)
	}
	gcfg := phone.Config{Name: "gw-test", MediaIP: "127.0.0.1", Trunks: []string{"127.0.0.1"}}
	if tc.forbid {
		gcfg.LobbyTimeout = 3 * time.Second
	}
	switch tc.transport {
	case "udp":
		gcfg.UDP = "127.0.0.1:0"
	case "tls":
		gcfg.TLS = "127.0.0.1:0"
		gcfg.CertFile, gcfg.KeyFile = phonetest.SelfSigned(t)
		gcfg.SRTP = phone.SRTPRequired
	}
	meetings := phone.MemberMeetings{Dial: phone.BotDialer{API: s.api, Logger: s.log.With("bot", "gateway")}.Dial}
	g, err := phone.New(phone.Options{Config: gcfg, Logger: s.log.With("component", "phone"), Meetings: meetings, Directory: dir, Phones: phones, GatewayKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("gateway: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	select {
	case <-g.Ready():
	case err := <-served:
		t.Fatalf("gateway: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("gateway not ready")
	}

	const caller = "+4930555000"
	acct := fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;audio_codecs=%s", caller, tc.codec)
	if tc.srtp {
		acct += ";mediaenc=srtp-mand"
	}
	ph := phonetest.Start(t, phonetest.Config{Account: acct, ToneHz: phoneHz, BurstPeriod: phoneBurst})
	uri := fmt.Sprintf("sip:conclave@%s", g.Addr(tc.transport))
	if tc.transport != "udp" {
		uri += ";transport=" + tc.transport
	}
	ph.Command("dial", uri)
	ph.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	// The phone's audio (and its bursts) start with the call's media.
	established := time.Now()
	waitFor(t, 10*time.Second, "the enter-code prompt", func() bool {
		pcm, rate := ph.Recording()
		return phonetest.ToneSpans(pcm, rate, 660, memberHz) >= 3
	})
	ph.Command("sndcode", code+"#")

	if tc.forbid {
		// The member refuses the phone gateway from the lobby: the
		// caller hears the refusal and is hung up, and nothing of the
		// phone reached the meeting.
		ph.WaitEvent(20*time.Second, "CALL_CLOSED")
		waitFor(t, 5*time.Second, "the call to end", func() bool { return g.Calls() == 0 })
		if r := member.Report(); len(r.PhoneMembers) != 0 || len(h.toneFrames()) != 0 || len(member.E2EE().Roster()) != 1 {
			t.Fatalf("a meeting that forbids phones got one: phone members %+v, tone from %v, roster %d", r.PhoneMembers, h.toneFrames(), len(member.E2EE().Roster()))
		}
		if !member.E2EE().PhonesForbidden() {
			t.Fatal("the member's group does not forbid phones")
		}
		return
	}

	// Admitted: the member hears the phone's tone from the gateway member,
	// and the phone hears the member's tone.
	var gatewayID string
	waitFor(t, 20*time.Second, "the phone's tone at the member", func() bool {
		for id, n := range h.toneFrames() {
			if n >= 25 {
				gatewayID = id
				return true
			}
		}
		return false
	}, member)
	waitFor(t, 10*time.Second, "the member's tone at the phone", func() bool {
		pcm, rate := ph.Recording()
		return phonetest.ToneSpans(pcm, rate, memberHz, 425, 660, 880) >= 25
	}, member)

	// The banner state: the member's report lists the phone member, and
	// its MLS credential says which phone through which gateway.
	rep := member.Report()
	if len(rep.PhoneMembers) != 1 {
		t.Fatalf("phone members in the report: %+v", rep.PhoneMembers)
	}
	pm := rep.PhoneMembers[0]
	if pm.Participant != gatewayID {
		t.Errorf("phone member %q, but the phone's audio came from %q", pm.Participant, gatewayID)
	}
	if want := "Phone caller (" + caller + "), via gateway gw-test"; pm.Name != want {
		t.Errorf("phone member name %q, want %q", pm.Name, want)
	}
	if !strings.Contains(pm.Detail, caller) || !strings.Contains(pm.Detail, "gw-test") {
		t.Errorf("phone member detail %q names neither the phone nor the gateway", pm.Detail)
	}

	// Added mouth-to-ear latency, phone -> member: each burst starts at a
	// multiple of phoneBurst after the call's media started; where the
	// member hears it start, minus that, is the delay through baresip's
	// sender, the gateway (jitter buffer, transcoding, SFrame) and the SFU.
	waitFor(t, 10*time.Second, "six tone bursts at the member", func() bool { return len(h.onsetsOf(gatewayID)) >= 6 }, member)
	if on := h.onsetsOf(gatewayID); len(on) >= 3 {
		var d []time.Duration
		for _, o := range on[1:] { // the first may be the admission, mid-burst
			d = append(d, o.Sub(established)%phoneBurst)
		}
		slices.Sort(d)
		t.Logf("%s: phone -> member tone onset delay: median %v over %d bursts (min %v, max %v)", tc.name, d[len(d)/2], len(d), d[0], d[len(d)-1])
	}

	// The member leaves: the gateway is alone, leaves, and the phone is
	// told and hung up.
	member.Leave()
	ph.WaitEvent(20*time.Second, "CALL_CLOSED")
	waitFor(t, 5*time.Second, "the call to end", func() bool { return g.Calls() == 0 })
}
