package itest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"conclave/clients/bot"
	"conclave/e2ee/mls"
	"conclave/internal/servetest"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/store"
	"conclave/signaling/token"
	"conclave/web"
)

// apiKey names the token key of the test server, as `conclave serve` does.
const apiKey = "conclave"

// server is a whole Conclave server on loopback: HTTP API, /rtc, the /e2ee
// delivery service with the media gate, and SFU.
type server struct {
	t      *testing.T
	base   string // http://127.0.0.1:PORT
	issuer *token.Issuer
	key    []byte
	api    *webrtc.API // shared by the test's bots
	log    *slog.Logger
	ds     *ds.Server
	dsKey  *mls.SignatureKey
	// e2ee, if set, serves /e2ee instead of the delivery service (a test's
	// man in the middle, which reaches the DS at /e2ee-direct).
	e2ee atomic.Pointer[http.Handler]
	// sfuObserve, if set, sees every RTP packet the SFU receives.
	sfuObserve atomic.Pointer[func(direction string, b []byte)]
}

// testLogger writes server and bot logs to the test log when
// CONCLAVE_ITEST_LOG names a level (debug, info, warn, error); it discards
// them otherwise.
func testLogger(t *testing.T) *slog.Logger {
	lv := os.Getenv("CONCLAVE_ITEST_LOG")
	if lv == "" {
		return slog.New(slog.DiscardHandler)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lv)); err != nil {
		t.Fatalf("CONCLAVE_ITEST_LOG=%q: %v", lv, err)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer starts a server whose join rate limit is loose enough for the
// test's bots (the limit itself is tested in package signaling).
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWithWeb(t, false)
}

// startWebServer is startServer also serving the embedded web app, for the
// tests that drive Chromium. The bundle must be built (`make build`).
func startWebServer(t *testing.T) *server {
	t.Helper()
	return startServerWithWeb(t, true)
}

func startServerWithWeb(t *testing.T, withWeb bool) *server {
	t.Helper()
	opts := signaling.Options{}
	if withWeb {
		hash, err := web.Hash()
		if err != nil {
			t.Fatalf("the web bundle is not in this test binary (run `make build` first, which builds web/dist): %v", err)
		}
		opts.Web, opts.BundleHash = web.FS(), hash
	}
	ctx := context.Background()
	log := testLogger(t)

	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	issuer, verifier := token.NewIssuer(apiKey, key), token.NewVerifier(apiKey, key)

	s := &server{t: t, issuer: issuer, key: key, log: log}
	engine := servetest.LoopbackEngine(t, log, func(scfg *sfu.Config) {
		scfg.Observe = func(direction string, b []byte) {
			if fn := s.sfuObserve.Load(); fn != nil {
				(*fn)(direction, b)
			}
		}
	})
	verify := func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }
	var rtcHandler *rtc.Handler
	dsKey, err := mls.GenerateSignatureKey(ds.CipherSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dsServer, err := ds.New(ds.Config{
		LeaveGrace:  2 * time.Second,
		OnAdmission: func(room, identity string) { rtcHandler.Readmit(room, identity) },
	}, dsKey, verify, log)
	if err != nil {
		t.Fatalf("delivery service: %v", err)
	}
	s.ds, s.dsKey = dsServer, dsKey
	rtcHandler = rtc.NewHandler(rtc.Config{ReconnectGrace: 5 * time.Second, Gate: dsServer}, verify, engine, log)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := signaling.DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Data = t.TempDir()
	cfg.Join.RateBurst = 1000
	cfg.Join.RateInterval = time.Millisecond
	opts.Config, opts.Logger, opts.Store, opts.Issuer, opts.RTC = cfg, log, st, issuer, rtcHandler
	srv, err := signaling.NewServer(opts)
	if err != nil {
		t.Fatalf("signaling server: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/e2ee-direct", dsServer)
	mux.Handle("/e2ee", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.e2ee.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		dsServer.ServeHTTP(w, r)
	}))
	mux.Handle("/", srv.Handler())
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rtcHandler.Shutdown(sctx); err != nil {
			t.Errorf("rtc shutdown: %v", err)
		}
		if err := dsServer.Shutdown(sctx); err != nil {
			t.Errorf("ds shutdown: %v", err)
		}
		hs.Close()
	})

	api, err := bot.NewAPI(bot.WithSettingEngine(bot.LoopbackSettings()))
	if err != nil {
		t.Fatal(err)
	}
	s.base, s.api = hs.URL, api
	return s
}

// newMeeting creates a meeting with POST /api/meetings and returns its link
// with a fresh fragment secret, as the browser that creates a link does.
func (s *server) newMeeting() string {
	s.t.Helper()
	resp, err := http.Post(s.base+"/api/meetings", "application/json", bytes.NewReader(nil))
	if err != nil {
		s.t.Fatalf("create meeting: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		s.t.Fatalf("create meeting: HTTP %d: %s", resp.StatusCode, body)
	}
	var m struct {
		Room string `json:"room"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Room == "" {
		s.t.Fatalf("create meeting: answer %q: %v", body, err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		s.t.Fatal(err)
	}
	return s.base + "/m/" + m.Room + "#" + base64.RawURLEncoding.EncodeToString(secret)
}

// config returns a bot configuration for this server.
func (s *server) config(name string) bot.Config {
	return bot.Config{
		Name:           name,
		API:            s.api,
		Logger:         s.log.With("bot", name),
		ConnectTimeout: 15 * time.Second,
	}
}

// join starts a bot from link and closes it when the test ends.
func (s *server) join(link string, cfg bot.Config) *bot.Bot {
	s.t.Helper()
	b, err := bot.Join(context.Background(), link, cfg)
	if err != nil {
		s.t.Fatalf("bot %s: join: %v", cfg.Name, err)
	}
	s.t.Cleanup(b.Close)
	return b
}

// waitFor polls cond every 20 ms until it holds or timeout passes; on a
// timeout it logs the reports of bots before failing.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, bots ...*bot.Bot) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			for _, b := range bots {
				t.Log(describe(b.Report()))
			}
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// tracksFrom returns the report's received tracks from identity, by kind.
func tracksFrom(r bot.Report, identity string) map[string]bot.TrackReport {
	out := map[string]bot.TrackReport{}
	for _, tr := range r.Tracks {
		if tr.Participant == identity {
			out[tr.Kind] = tr
		}
	}
	return out
}

// receivedFrom reports whether r holds at least minAudio decrypted audio
// frames and minVideo video frames from identity.
func receivedFrom(r bot.Report, identity string, minAudio, minVideo uint64) bool {
	ts := tracksFrom(r, identity)
	return ts["audio"].FramesDecrypted >= minAudio && ts["video"].FramesDecrypted >= minVideo
}

// allReceive is a waitFor condition: every bot has decrypted at least
// minAudio audio and minVideo video frames from each of the others.
func allReceive(minAudio, minVideo uint64, bots ...*bot.Bot) func() bool {
	return func() bool {
		for _, b := range bots {
			r := b.Report()
			for _, o := range bots {
				if b != o && !receivedFrom(r, identity(o), minAudio, minVideo) {
					return false
				}
			}
		}
		return true
	}
}

func identity(b *bot.Bot) string {
	id, _ := b.Identity()
	return id
}

func describe(r bot.Report) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: sent %d, decrypted %d, failures %d, lost %d, incomplete %d", r.Identity,
		r.FramesSent, r.FramesDecrypted, r.DecryptFailures, r.FramesLost, r.IncompleteFrames)
	for _, tr := range r.Tracks {
		fmt.Fprintf(&sb, "\n  %s %s from %s: decrypted %d lost %d incomplete %d layer %s %v switches %d off-key %d first-key %v decodable %v PLIs %d",
			tr.Kind, tr.TrackSID, tr.Participant, tr.FramesDecrypted, tr.FramesLost, tr.IncompleteFrames,
			tr.Layer, tr.LayerFrames, tr.LayerSwitches, tr.SwitchesOffKeyframe, tr.FirstFrameKeyframe, tr.Decodable, tr.PLIsSent)
	}
	return sb.String()
}
