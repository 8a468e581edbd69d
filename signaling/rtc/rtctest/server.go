package rtctest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"conclave/sfu"
	"conclave/signaling/rtc"
	"conclave/signaling/token"
)

// Server is a running /rtc handler on loopback.
type Server struct {
	URL     string // ws://127.0.0.1:PORT
	HTTP    *httptest.Server
	Handler *rtc.Handler
	Engine  *sfu.Engine
	Issuer  *token.Issuer
	// Verifier checks tokens as the handler does.
	Verifier *token.Verifier
}

// testSecret keys test tokens only.
var testSecret = []byte("rtctest secret of at least thirty-two bytes")

// Logger returns a logger for tests: quiet unless RTCTEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("RTCTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start starts an engine (loopback candidates, TURN on) and the handler, and
// stops both when the test ends.
func Start(t testing.TB, cfg rtc.Config) *Server {
	t.Helper()
	log := Logger()
	ecfg := sfu.DefaultConfig()
	ecfg.ListenIP = "127.0.0.1"
	ecfg.IncludeLoopback = true
	eng := NewEngine(t, ecfg, log)
	ver := token.NewVerifier("rtctest", testSecret)
	h := rtc.NewHandler(cfg, func(tok string) (*token.Claims, error) { return ver.Verify(tok, time.Now()) }, eng, log)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("rtctest: shutdown: %v", err)
		}
		srv.Close()
	})
	return &Server{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http"), HTTP: srv, Handler: h, Engine: eng,
		Issuer: token.NewIssuer("rtctest", testSecret), Verifier: ver,
	}
}

// NewEngine starts an SFU engine with cfg and closes it when the test ends
// (after cleanups registered later, such as a handler's shutdown).
func NewEngine(t testing.TB, cfg sfu.Config, log *slog.Logger) *sfu.Engine {
	t.Helper()
	eng, err := sfu.NewEngine(cfg, log)
	if err != nil {
		t.Fatalf("rtctest: engine: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// Token issues a token for identity in room (a room key).
func (s *Server) Token(t testing.TB, room, identity string) string {
	t.Helper()
	tok, err := s.Issuer.Issue(token.Claims{
		Identity: identity, Name: identity, Room: room, Metadata: `{"kind":"bot"}`,
		CanPublish: true, CanSubscribe: true,
	}, time.Hour)
	if err != nil {
		t.Fatalf("rtctest: token: %v", err)
	}
	return tok
}

// Eventually polls check until it returns "" or the deadline passes, and
// fails with the last reason check gave.
func Eventually(t testing.TB, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var why string
	for {
		if why = check(); why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %v: %s", d, why)
		}
		<-tick.C
	}
}
