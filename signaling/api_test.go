package signaling

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"conclave/signaling/store"
	"conclave/signaling/token"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

type apiHarness struct {
	srv   *Server
	h     http.Handler
	clock time.Time
}

// openStore opens a SQLite store in a temporary folder, closed when the test
// ends.
func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newAPIHarness(t *testing.T, mutate func(*Config)) *apiHarness {
	t.Helper()
	st := openStore(t)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:9999"
	if mutate != nil {
		mutate(&cfg)
	}
	a := &apiHarness{clock: time.Now()}
	srv, err := NewServer(Options{
		Config: cfg, Store: st, Issuer: token.NewIssuer("conclave", testSecret),
		Web:        fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>Conclave</title>")}, "app.js": {Data: []byte("//js")}},
		BundleHash: "abc", Version: "test",
		Now: func() time.Time { return a.clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	a.srv, a.h = srv, srv.Handler()
	return a
}

// do sends a request from a source address and returns status and body.
func (a *apiHarness) do(method, path, from string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = from
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (a *apiHarness) create(t *testing.T) string {
	t.Helper()
	code, body := a.do("POST", "/api/meetings", "192.0.2.1:1000", nil)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var r createMeetingResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRoomID(r.Room); err != nil {
		t.Fatalf("created room id %q: %v", r.Room, err)
	}
	return r.Room
}

func TestJoinIssuesTokenForRoomKey(t *testing.T) {
	a := newAPIHarness(t, nil)
	room := a.create(t)
	code, body := a.do("POST", "/api/join", "192.0.2.2:1000", joinRequest{Room: room, Name: "Ada", Kind: "bot"})
	if code != http.StatusOK {
		t.Fatalf("join: %d %s", code, body)
	}
	var jr joinResponse
	if err := json.Unmarshal(body, &jr); err != nil {
		t.Fatal(err)
	}
	want := RoomID(room).Hash().Key()
	if jr.Room != string(want) {
		t.Fatalf("room key %q, want %q", jr.Room, want)
	}
	if strings.Contains(string(body), room) {
		t.Fatal("join answer repeats the raw room id")
	}
	if jr.URL != "ws://127.0.0.1:9999" {
		t.Fatalf("url %q", jr.URL)
	}
	c, err := token.NewVerifier("conclave", testSecret).Verify(jr.Token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != string(want) || c.Name != "Ada" || c.Identity != jr.Identity || c.Metadata != `{"kind":"bot"}` {
		t.Fatalf("claims %+v", c)
	}
	if ttl := time.Until(c.ExpiresAt); ttl > 11*time.Minute || ttl < 5*time.Minute {
		t.Fatalf("token lives %v, want the configured 10m", ttl)
	}
	// Two joins get different identities.
	_, body2 := a.do("POST", "/api/join", "192.0.2.2:1000", joinRequest{Room: room, Name: "Ada"})
	var jr2 joinResponse
	json.Unmarshal(body2, &jr2)
	if jr2.Identity == jr.Identity || jr2.Identity == "" {
		t.Fatalf("identities %q and %q", jr.Identity, jr2.Identity)
	}
}

// TestUnknownRoomsAnswerLikeWrongOnes: an unknown well-formed room, a
// malformed one and an empty one get byte-identical answers.
func TestUnknownRoomsAnswerLikeWrongOnes(t *testing.T) {
	a := newAPIHarness(t, func(c *Config) { c.Join.RateBurst = 100 })
	a.create(t)
	unknown, _ := NewRoomID(strings.NewReader(strings.Repeat("x", 16)))
	var first []byte
	for i, room := range []string{string(unknown), "short", "", strings.Repeat("A", 22) + "!", strings.Repeat("é", 11)} {
		code, body := a.do("POST", "/api/join", "192.0.2.3:1000", joinRequest{Room: room, Name: "Eve"})
		if code != http.StatusNotFound {
			t.Fatalf("room %q: status %d, want 404", room, code)
		}
		if i == 0 {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Fatalf("room %q answered %q, unknown room answered %q", room, body, first)
		}
	}
}

// TestGuessingRoomsIsRateLimited: a source that guesses gets RateBurst tries,
// then 429 even for a correct room, while other sources are unaffected; its
// budget comes back at the configured rate.
func TestGuessingRoomsIsRateLimited(t *testing.T) {
	a := newAPIHarness(t, nil) // defaults: burst 10, one every 6s
	room := a.create(t)
	guesser := "198.51.100.9:4444"
	for i := 0; i < 10; i++ {
		g, _ := NewRoomID(bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 16)))
		if code, _ := a.do("POST", "/api/join", guesser, joinRequest{Room: string(g), Name: "x"}); code != http.StatusNotFound {
			t.Fatalf("guess %d: %d, want 404", i, code)
		}
	}
	if code, _ := a.do("POST", "/api/join", guesser, joinRequest{Room: room, Name: "x"}); code != http.StatusTooManyRequests {
		t.Fatalf("guess past the burst: %d, want 429 even for a real room", code)
	}
	if code, _ := a.do("POST", "/api/meetings", guesser, nil); code != http.StatusTooManyRequests {
		t.Fatalf("create from a limited source: %d, want 429", code)
	}
	// Another source is not affected.
	if code, _ := a.do("POST", "/api/join", "203.0.113.5:1", joinRequest{Room: room, Name: "y"}); code != http.StatusOK {
		t.Fatalf("other source: %d", code)
	}
	// One more attempt after one interval.
	a.clock = a.clock.Add(6 * time.Second)
	if code, _ := a.do("POST", "/api/join", guesser, joinRequest{Room: room, Name: "x"}); code != http.StatusOK {
		t.Fatalf("after refill: %d", code)
	}
	if code, _ := a.do("POST", "/api/join", guesser, joinRequest{Room: room, Name: "x"}); code != http.StatusTooManyRequests {
		t.Fatalf("second attempt after one refill: %d", code)
	}
	// What this means: at 10 per minute per address, even a million
	// addresses guessing for a year try about 5.3e12 IDs; with one meeting
	// among 2^128 IDs the chance of a hit is about 1.5e-26.
}

func TestJoinRejectsBadInput(t *testing.T) {
	a := newAPIHarness(t, func(c *Config) { c.Join.RateBurst = 100 })
	room := a.create(t)
	cases := []struct {
		name string
		body string
	}{
		{"not-json", "{"},
		{"unknown-field", `{"room":"` + room + `","name":"a","admin":true}`},
		{"no-name", `{"room":"` + room + `"}`},
		{"blank-name", `{"room":"` + room + `","name":"   "}`},
		{"control-chars", `{"room":"` + room + `","name":"a\u0007b"}`},
		{"bidi", `{"room":"` + room + `","name":"a\u202eb"}`},
		{"long-name", `{"room":"` + room + `","name":"` + strings.Repeat("n", 65) + `"}`},
		{"bad-kind", `{"room":"` + room + `","name":"a","kind":"server"}`},
		{"huge", `{"room":"` + room + `","name":"` + strings.Repeat("n", 5000) + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/join", strings.NewReader(tc.body))
			req.RemoteAddr = "192.0.2.50:1"
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("error body %q", rec.Body)
			}
		})
	}
}

func TestPagesAndHeaders(t *testing.T) {
	a := newAPIHarness(t, nil)
	for _, p := range []string{"/", "/m/AAAAAAAAAAAAAAAAAAAAAA", "/app.js"} {
		req := httptest.NewRequest("GET", p, nil)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", p, rec.Code)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
		if rec.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("%s: no Referrer-Policy", p)
		}
	}
	for _, p := range []string{"/nope.js", "/etc/passwd", "/..%2f..%2fetc/passwd"} {
		req := httptest.NewRequest("GET", p, nil)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", p, rec.Code)
		}
	}
	// Dot segments are cleaned by a redirect, never served.
	req := httptest.NewRequest("GET", "/../../etc/passwd", nil)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		t.Fatalf("dot-dot path served: %s", rec.Body)
	}
	code, body := a.do("GET", "/api/version", "192.0.2.1:1", nil)
	if code != 200 || !strings.Contains(string(body), `"bundle_sha256":"abc"`) {
		t.Fatalf("version: %d %s", code, body)
	}
	code, _ = a.do("GET", "/rtc", "192.0.2.1:1", nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/rtc without a media plane: %d", code)
	}
}

// TestAssetsGzipAndETag: large assets go out gzipped to clients that accept
// it and plain to others, with the same strong ETag, and revalidate to 304.
func TestAssetsGzipAndETag(t *testing.T) {
	a := newAPIHarness(t, nil)
	big := strings.Repeat("console.log('conclave');\n", 400)
	a.srv.web = fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "assets/app.js": {Data: []byte(big)}}
	a.srv.assets = newAssets(a.srv.web)
	a.h = a.srv.Handler()
	get := func(hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/assets/app.js", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		return rec
	}
	plain := get(nil)
	if plain.Code != 200 || plain.Body.String() != big || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d %q", plain.Code, plain.Header().Get("Content-Encoding"))
	}
	gz := get(map[string]string{"Accept-Encoding": "br, gzip"})
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Body.Len() >= len(big)/4 {
		t.Fatalf("gzip: encoding %q, %d bytes for %d", gz.Header().Get("Content-Encoding"), gz.Body.Len(), len(big))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(zr)
	if string(back) != big {
		t.Fatal("gzip body does not decompress to the file")
	}
	etag := plain.Header().Get("ETag")
	if etag == "" || gz.Header().Get("ETag") != etag || !strings.Contains(plain.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("etag %q/%q, type %q", etag, gz.Header().Get("ETag"), plain.Header().Get("Content-Type"))
	}
	if nm := get(map[string]string{"If-None-Match": etag}); nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Fatalf("revalidation: %d", nm.Code)
	}
}

// TestServeArgsOverrideFile: flags override the config file, which
// overrides the defaults, whatever their order on the command line.
func TestServeArgsOverrideFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := writeFile(p, "listen: 0.0.0.0:9000\ndata: /srv/conclave\nmedia:\n  udp_port: 9999\nturn:\n  enabled: true\n"); err != nil {
		t.Fatal(err)
	}
	cfg, opts, err := parseServeArgs([]string{"--udp-port", "0", "--config", p, "--no-turn", "--no-link", "--cpuprofile", "cpu.out", "--trace", "trace.out"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9000" || cfg.Data != "/srv/conclave" || cfg.Media.UDPPort != 0 || cfg.TURN.Enabled || !opts.noLink || cfg.Media.TCPPort != 7881 || opts.cpuProfile != "cpu.out" || opts.trace != "trace.out" {
		t.Fatalf("config %+v, options %+v", cfg, opts)
	}
	cfg, opts, err = parseServeArgs([]string{"--listen", "127.0.0.1:1"}, io.Discard)
	if err != nil || cfg.Listen != "127.0.0.1:1" || opts.noLink || opts.cpuProfile != "" || opts.trace != "" || !cfg.TURN.Enabled || cfg.Data != "./data" {
		t.Fatalf("without a file: %+v, %+v, %v", cfg, opts, err)
	}
	if _, _, err := parseServeArgs([]string{"--config", p, "--bogus"}, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if _, _, err := parseServeArgs([]string{"--config", p + ".missing"}, io.Discard); err == nil {
		t.Fatal("missing config file accepted")
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := dir + "/c.yaml"
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := DefaultConfig()
	if err := LoadConfigFile(&c, write("listen: 0.0.0.0:9000\nmedia:\n  udp_port: 0\njoin:\n  token_ttl: 2m\n")); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.Media.UDPPort != 0 || c.Join.TokenTTL != 2*time.Minute || c.Media.TCPPort != 7881 {
		t.Fatalf("config %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c = DefaultConfig()
	if err := LoadConfigFile(&c, write("listn: 0.0.0.0:9000\n")); err == nil {
		t.Fatal("typo in a field name accepted")
	}
	c = DefaultConfig()
	if err := LoadConfigFile(&c, write("")); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Listen = "nope" },
		func(c *Config) { c.LogLevel = "loud" },
		func(c *Config) { c.Join.TokenTTL = time.Second },
		func(c *Config) { c.Media.PublicIPs = []string{"example.org"} },
		func(c *Config) { c.PublicURL = "ftp://x" },
		func(c *Config) { c.Media.Procs = -1 },
	}
	for i, m := range bad {
		c := DefaultConfig()
		m(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

// TestExampleConfigIsDefaults keeps deploy/conclave.example.yaml true: it
// loads strictly and equals DefaultConfig.
func TestExampleConfigIsDefaults(t *testing.T) {
	c := DefaultConfig()
	if err := LoadConfigFile(&c, "../deploy/conclave.example.yaml"); err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	d.Media.PublicIPs = []string{}
	if c.Media.PublicIPs == nil {
		c.Media.PublicIPs = []string{}
	}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", d) {
		t.Fatalf("example config %+v\ndiffers from defaults %+v", c, d)
	}
}

// TestSizeScheduler: a number fixes GOMAXPROCS for the server's life; 0
// starts the adaptive controller at one P; both give the previous value back
// when the server stops.
func TestSizeScheduler(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Fatal("run this test without GOMAXPROCS in the environment: it checks what the server does by default")
	}
	before := runtime.GOMAXPROCS(0)
	log := slog.New(slog.DiscardHandler)
	busy, stop := sizeScheduler(context.Background(), before+2, log)
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Fatalf("procs %d: GOMAXPROCS %d", before+2, got)
	}
	busy() // a fixed count: nothing to do
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Fatalf("busy changed a fixed count: GOMAXPROCS %d", got)
	}
	stop()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("after stop: GOMAXPROCS %d, want %d", got, before)
	}
	busy, stop = sizeScheduler(context.Background(), 0, log)
	waitProcs := func(want int, why string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.GOMAXPROCS(0) != want {
			if time.Now().After(deadline) {
				t.Fatalf("procs 0, %s: GOMAXPROCS %d, want %d", why, runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitProcs(1, "idle")
	busy()
	waitProcs(min(2, before), "busy") // two Ps, where the machine has two
	stop()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("after the controller stopped: GOMAXPROCS %d, want %d", got, before)
	}
}

// TestStartTrace: --trace (startRecording with the tracer) writes a Go execution trace that go tool trace
// reads (its header names the format).
func TestStartTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.out")
	stop, err := startRecording("trace", path, trace.Start, trace.Stop)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	stop()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "go 1.") || !strings.Contains(string(data[:16]), "trace") {
		t.Fatalf("not an execution trace: %q", data[:min(len(data), 16)])
	}
	if _, err := startRecording("trace", filepath.Join(t.TempDir(), "no", "such", "dir"), trace.Start, trace.Stop); err == nil {
		t.Fatal("a trace file that cannot be created was accepted")
	}
}
