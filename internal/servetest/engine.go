package servetest

import (
	"log/slog"
	"testing"

	"conclave/sfu"
)

// LoopbackEngine starts an SFU engine for a server run inside the test
// process: ICE on loopback (127.0.0.1, loopback candidates announced) over
// one UDP port the system picks, without TURN or ICE-TCP. tune, if not nil,
// adjusts the configuration before the engine starts. The engine is closed
// when the test ends, after the cleanups registered later (the servers
// that use it) have run.
func LoopbackEngine(t testing.TB, log *slog.Logger, tune func(*sfu.Config)) *sfu.Engine {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.ListenIP = "127.0.0.1"
	cfg.IncludeLoopback = true
	cfg.TURN.Enabled = false
	cfg.TCPPort = -1
	cfg.UDPPort = 0
	if tune != nil {
		tune(&cfg)
	}
	eng, err := sfu.NewEngine(cfg, log)
	if err != nil {
		t.Fatalf("sfu engine: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}
