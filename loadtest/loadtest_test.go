package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"conclave/e2ee/mls"
	"conclave/internal/servetest"
	"conclave/signaling"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/store"
	"conclave/signaling/token"
)

const (
	testKey    = "loadtest"
	testSecret = "loadtest secret of at least thirty-two bytes"
)

// startServer runs Conclave's /rtc handler and SFU in this process on
// loopback, verifying tokens minted with testKey and testSecret the way a
// LiveKit server would: the load test's token path drives it.
func startServer(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := servetest.LoopbackEngine(t, log, nil)
	ver := token.NewVerifier(testKey, []byte(testSecret))
	h := rtc.NewHandler(rtc.Config{}, func(tok string) (*token.Claims, error) { return ver.Verify(tok, time.Now()) }, eng, log)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// startConclave runs a whole Conclave server in this process on loopback:
// the HTTP API, /rtc with the media gate, the /e2ee delivery service and
// the SFU, with a join rate limit loose enough for the bots and a short
// leave grace, so that departures are committed within a tiny window. It
// returns the server's http:// URL.
func startConclave(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	issuer, verifier := token.NewIssuer("conclave", key), token.NewVerifier("conclave", key)
	verify := func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }
	eng := servetest.LoopbackEngine(t, log, nil)
	dsKey, err := mls.GenerateSignatureKey(ds.CipherSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var rtcHandler *rtc.Handler
	dsServer, err := ds.New(ds.Config{
		LeaveGrace:  300 * time.Millisecond,
		OnAdmission: func(room, identity string) { rtcHandler.Readmit(room, identity) },
	}, dsKey, verify, log)
	if err != nil {
		t.Fatalf("delivery service: %v", err)
	}
	rtcHandler = rtc.NewHandler(rtc.Config{Gate: dsServer}, verify, eng, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := signaling.DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Data = t.TempDir()
	cfg.Join.RateBurst = 1000
	cfg.Join.RateInterval = time.Millisecond
	srv, err := signaling.NewServer(signaling.Options{Config: cfg, Logger: log, Store: st, Issuer: issuer, RTC: rtcHandler, E2EE: dsServer})
	if err != nil {
		t.Fatalf("signaling server: %v", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rtcHandler.Shutdown(sctx); err != nil {
			t.Errorf("rtc shutdown: %v", err)
		}
		if err := dsServer.Shutdown(sctx); err != nil {
			t.Errorf("ds shutdown: %v", err)
		}
		_ = hs.Shutdown(sctx)
		<-served
	})
	return "http://" + ln.Addr().String()
}

// TestChurnAgainstConclave is a tiny churn run against a whole Conclave
// server with MLS-keyed bots: replacements join, no frame fails to
// decrypt while the epoch changes (frames of a new epoch that overtake
// its commit are held, not failed), and the key rotations are measured.
// Correctness only, never timings.
func TestChurnAgainstConclave(t *testing.T) {
	url := startConclave(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Options{
		URL: url, Scenario: ScenarioChurn, Publishers: 3, Subscribers: 0,
		Warmup: time.Second, Duration: 2500 * time.Millisecond, ChurnInterval: 700 * time.Millisecond,
		ServerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.Keying != KeyingMLS {
		t.Errorf("keying %q, want %q", r.Keying, KeyingMLS)
	}
	if r.JoinFailures != 0 || r.ChurnJoinFailures != 0 || r.ChurnLeaves == 0 || r.ChurnJoins != r.ChurnLeaves {
		t.Errorf("join failures %d, churn: %d leaves, %d joins, %d join failures", r.JoinFailures, r.ChurnLeaves, r.ChurnJoins, r.ChurnJoinFailures)
	}
	if r.DecryptFailures != 0 {
		t.Errorf("%d decrypt failures", r.DecryptFailures)
	}
	if r.FramesDecrypted == 0 {
		t.Error("no frame decrypted")
	}
	if r.KeyRotationMS == nil || r.KeyRotationMS.Count == 0 {
		t.Fatalf("key rotation not measured: %+v (pending %d)", r.KeyRotationMS, r.KeyRotationPending)
	}
	if r.KeyRotationByEventMS[eventJoin] == nil {
		t.Errorf("no key rotation measured after a join: %v", r.KeyRotationByEventMS)
	}
	md := MarkdownResult(r)
	if !strings.Contains(md, "| key rotation (ms), changes x receivers / median / p95 / max |") {
		t.Errorf("report lacks the key rotation row:\n%s", md)
	}
}

// TestRunAgainstSFU is a tiny load test of the tool itself: small counts,
// checks of correctness only (never of speed).
func TestRunAgainstSFU(t *testing.T) {
	url := startServer(t)
	tests := []struct {
		name  string
		o     Options
		check func(t *testing.T, r *Result)
	}{
		{
			name: "video: every subscriber receives every publisher",
			o:    Options{Scenario: ScenarioVideo, Publishers: 2, Subscribers: 1},
			check: func(t *testing.T, r *Result) {
				if r.Participants != 3 || r.Publishers != 2 || r.Subscribers != 1 {
					t.Errorf("participants %d (%d + %d), want 3 (2 + 1)", r.Participants, r.Publishers, r.Subscribers)
				}
				if r.VideoFramesByLayer[2] == 0 {
					t.Errorf("no high-layer video frames received: %v", r.VideoFramesByLayer)
				}
			},
		},
		{
			name: "churn: replacements join and receive",
			o:    Options{Scenario: ScenarioChurn, Publishers: 3, Subscribers: 0, ChurnInterval: 700 * time.Millisecond},
			check: func(t *testing.T, r *Result) {
				if r.ChurnLeaves == 0 || r.ChurnJoins != r.ChurnLeaves {
					t.Errorf("churn: %d leaves, %d joins; want as many joins as leaves, at least one", r.ChurnLeaves, r.ChurnJoins)
				}
				// Each replacement's subscriptions start on a keyframe the
				// server asks the publishers for.
				if r.KeyframeRequests == 0 || r.KeyframesSent == 0 {
					t.Errorf("churn: %d keyframe requests, %d keyframes sent in the window; want some of each", r.KeyframeRequests, r.KeyframesSent)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.URL, o.Server, o.LiveKitKey, o.LiveKitSecret = url, ServerLiveKit, testKey, testSecret
			o.Warmup, o.Duration = time.Second, 2*time.Second
			o.ServerPID = os.Getpid() // the SFU runs in this process
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := Run(ctx, o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if r.JoinFailures != 0 || r.ChurnJoinFailures != 0 {
				t.Errorf("join failures: %d, churn join failures %d", r.JoinFailures, r.ChurnJoinFailures)
			}
			if r.DecryptFailures != 0 {
				t.Errorf("%d decrypt failures", r.DecryptFailures)
			}
			if r.MissingStreams != 0 {
				t.Errorf("%d (receiver, publisher, kind) streams missing", r.MissingStreams)
			}
			if r.BotsWithoutFrames != 0 {
				t.Errorf("%d bots received no frame", r.BotsWithoutFrames)
			}
			if r.ForwardedPackets == 0 || r.FramesDecrypted == 0 {
				t.Errorf("nothing forwarded: %d packets, %d frames", r.ForwardedPackets, r.FramesDecrypted)
			}
			if r.ServerRSSBytes == 0 {
				t.Error("server RSS not read from /proc")
			}
			if r.Keying != KeyingBench {
				t.Errorf("keying %q, want %q", r.Keying, KeyingBench)
			}
			if r.KeyRotationMS != nil {
				t.Errorf("key rotation %+v measured without MLS", r.KeyRotationMS)
			}
			if md := MarkdownResult(r); !strings.Contains(md, "n/a (no MLS)") {
				t.Errorf("report does not say key rotation is n/a:\n%s", md)
			}
			tc.check(t, r)
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"ws://127.0.0.5:7880", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"http://192.0.2.1:8080", false},
		{"wss://203.0.113.7", false},
		{"ftp://127.0.0.1", false},
		{"http://", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			_, err := checkLoopback(context.Background(), tc.url)
			if (err == nil) != tc.ok {
				t.Fatalf("checkLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
			if !tc.ok && strings.Contains(tc.url, "192.0.2.1") && !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("error %v is not ErrNotLoopback", err)
			}
		})
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	const remoteURL = "http://192.0.2.1:8080"
	tests := []struct {
		name string
		o    Options
	}{
		// Refused by Run's look at the URL; every other case is refused by
		// the options check itself (normalize), before any network.
		{"remote URL", Options{URL: remoteURL, Scenario: ScenarioVideo, Publishers: 1, Subscribers: 0, Duration: time.Second}},
		{"unknown scenario", Options{URL: "http://127.0.0.1:1", Scenario: "party", Publishers: 1, Duration: time.Second}},
		{"too many", Options{URL: "http://127.0.0.1:1", Scenario: ScenarioVideo, Publishers: maxParticipants + 1, Duration: time.Second}},
		{"no duration", Options{URL: "http://127.0.0.1:1", Scenario: ScenarioVideo, Publishers: 1}},
		{"mls on livekit", Options{URL: "ws://127.0.0.1:1", Server: ServerLiveKit, Keying: KeyingMLS, LiveKitKey: "k", LiveKitSecret: "s", Scenario: ScenarioVideo, Publishers: 1, Duration: time.Second}},
		// Refused before any bot joins: against a running Conclave server
		// such bots would be kept out by the media gate and measure nothing.
		{"bench on conclave", Options{URL: "http://127.0.0.1:1", Keying: KeyingBench, Scenario: ScenarioVideo, Publishers: 1, Duration: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.o); err == nil {
				t.Fatal("Run accepted it")
			}
			if _, err := tc.o.normalize(); err == nil && tc.o.URL != remoteURL {
				t.Fatal("normalize accepted it: Run refused it only for want of a server")
			}
		})
	}
}

func TestProcParsers(t *testing.T) {
	stat := []byte("1234 (conclave (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0")
	user, cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3*time.Second || user != 2500*time.Millisecond {
		t.Fatalf("parseStatCPU = %v, %v, %v; want 2.5s user of 3s (250+50 ticks)", user, cpu, err)
	}
	if _, _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("parseStatCPU accepted garbage")
	}
	rss, err := parseStatusRSS([]byte("Name:\tconclave\nVmRSS:\t  2048 kB\nThreads:\t9\n"))
	if err != nil || rss != 2048*1024 {
		t.Fatalf("parseStatusRSS = %d, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseStatusRSS accepted a status without VmRSS")
	}
	self, err := readProc(os.Getpid())
	if err != nil || self.rss == 0 {
		t.Fatalf("readProc(self) = %+v, %v", self, err)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.5, 3}, {0.95, 5}, {1, 5}} {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

func TestCompareAndPlot(t *testing.T) {
	mk := func(server string, pps, perCPU, p99 float64, n int) *Result {
		return &Result{Server: server, Scenario: ScenarioVideo, Publishers: n, Participants: n,
			ForwardedPacketsPerSecond: pps, ForwardedPacketsPerCPUSecond: perCPU, P99LatencyMS: p99, ServerCPUCores: pps / perCPU}
	}
	results := []*Result{
		mk(ServerConclave, 1000, 30000, 4, 4), mk(ServerConclave, 1000, 40000, 6, 4), mk(ServerConclave, 1000, 50000, 5, 4),
		mk(ServerLiveKit, 1000, 20000, 5, 4), mk(ServerLiveKit, 1000, 20000, 5, 4),
	}
	md := Compare("t", ServerLiveKit, results, nil)
	// Medians: 40000 and 20000, ratio 2.00; range and counts shown. Every
	// Conclave run beats every LiveKit run, but with 3 + 2 runs two of the
	// ten splits are that extreme: p 0.20.
	for _, want := range []string{"| forwarded packets per CPU-second (+) | 40000 [30000-50000] n=3 | 20000 [20000-20000] n=2 | 2.00 (p 0.20) |", "## video: 4 publishers + 0 subscribers"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	sweeps := []*Sweep{
		{Server: ServerConclave, Scenario: ScenarioVideo, Points: []*Result{mk(ServerConclave, 100, 1000, 3, 2), mk(ServerConclave, 400, 2000, 7, 4)}},
		{Server: ServerLiveKit, Scenario: ScenarioVideo, Points: []*Result{mk(ServerLiveKit, 100, 1000, 4, 2)}},
	}
	// Repeated sweeps: per size, the ratio of medians and, where both
	// servers repeated, the p-value; a size only one server ran has no row.
	repeated := append(sweeps,
		&Sweep{Server: ServerConclave, Scenario: ScenarioVideo, Points: []*Result{mk(ServerConclave, 100, 3000, 5, 2)}},
		&Sweep{Server: ServerLiveKit, Scenario: ScenarioVideo, Points: []*Result{mk(ServerLiveKit, 100, 500, 6, 2)}})
	md = Compare("t", ServerLiveKit, nil, repeated)
	// Nearest-rank medians, as everywhere in the report: Conclave 1000 of
	// 1000, 3000 and 3 of 3, 5; LiveKit 500 of 500, 1000 and 4 of 4, 6.
	for _, want := range []string{"| conclave | 2 | 2 vs 2 | 2.00 (p 0.67) | 0.75 (p 0.67) |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| conclave | 4 | 1 vs") {
		t.Errorf("report has a ratio at a size LiveKit did not run:\n%s", md)
	}
	svg := PlotSVG(sweeps)
	dec := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 4 { // two charts, two servers each
		t.Errorf("%d lines plotted, want 4", lines)
	}
	for _, name := range []string{ServerConclave, ServerLiveKit} {
		if !strings.Contains(svg, ">"+name+"<") {
			t.Errorf("legend lacks %s", name)
		}
	}
}

func TestSweepLabelledResultsBecomeCurves(t *testing.T) {
	results := []*Result{
		{Server: ServerConclave, Scenario: ScenarioVideo, Label: SweepLabel, Participants: 2},
		{Server: ServerLiveKit, Scenario: ScenarioVideo, Label: SweepLabel, Participants: 2},
		{Server: ServerConclave, Scenario: ScenarioVideo, Label: SweepLabel, Participants: 4},
		{Server: ServerConclave, Scenario: ScenarioAudio, Participants: 20},
	}
	rest, sweeps := sweepLabelled(results, nil)
	if len(rest) != 1 || rest[0].Scenario != ScenarioAudio {
		t.Fatalf("unlabelled results = %v, want the audio run only", rest)
	}
	points := map[string]int{}
	for _, s := range sweeps {
		points[s.Server] += len(s.Points)
	}
	if len(sweeps) != 2 || points[ServerConclave] != 2 || points[ServerLiveKit] != 1 {
		t.Fatalf("sweeps = %v (points %v), want conclave with 2 points and livekit with 1", sweeps, points)
	}
}
