package rtctest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
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

// bindAttempts is how many times NewEngine tries to bind kernel-chosen
// ports that another socket took first.
const bindAttempts = 5

// NewEngine starts an SFU engine with cfg and closes it when the test ends
// (after cleanups registered later, such as a handler's shutdown).
//
// Where cfg leaves every port to the kernel (0, or -1 for no ICE-TCP), a
// bind failing with EADDRINUSE is a race, not a configuration error:
// sfu/turn binds its TCP listener on the number the kernel gave its UDP
// socket, and TCP and UDP ports are separate spaces, so any TCP socket on
// the machine (a parallel test's listener or outgoing connection) may hold
// that number. NewEngine then tries again with fresh ports.
func NewEngine(t testing.TB, cfg sfu.Config, log *slog.Logger) *sfu.Engine {
	t.Helper()
	kernelPorts := cfg.UDPPort == 0 && cfg.TCPPort <= 0 && (!cfg.TURN.Enabled || cfg.TURN.Port == 0)
	for attempt := 1; ; attempt++ {
		eng, err := sfu.NewEngine(cfg, log)
		if err == nil {
			t.Cleanup(func() { _ = eng.Close() })
			return eng
		}
		if !kernelPorts || !errors.Is(err, syscall.EADDRINUSE) || attempt == bindAttempts {
			t.Fatalf("rtctest: engine (attempt %d): %v", attempt, err)
		}
		t.Logf("rtctest: engine: %v; trying again with fresh ports", err)
	}
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
