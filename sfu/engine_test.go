package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"conclave/sfu/turn"
)

func TestEngineConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"bad port", func(c *Config) { c.UDPPort = 70000 }},
		{"bad NAT address", func(c *Config) { c.NAT1To1IPs = []string{"example.org"} }},
		{"empty realm", func(c *Config) { c.TURN.Realm = "" }},
		{"bad relay address", func(c *Config) { c.TURN.RelayIP = "relay" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			if _, err := NewEngine(cfg, quiet()); !errors.Is(err, ErrConfig) {
				t.Fatalf("NewEngine = %v, want ErrConfig", err)
			}
		})
	}
}

func TestEnginePortsAndTURN(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ListenIP = "127.0.0.1"
	e, err := NewEngine(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if e.UDPPort() == 0 || e.TCPPort() == 0 || e.TURNPort() == 0 {
		t.Fatalf("ports udp %d tcp %d turn %d", e.UDPPort(), e.TCPPort(), e.TURNPort())
	}
	servers := e.ICEServers("P_x", time.Now())
	if len(servers) != 1 || len(servers[0].URLs) != 2 || !strings.HasPrefix(servers[0].URLs[0], "turn:127.0.0.1:") {
		t.Fatalf("ICE servers %+v", servers)
	}
	if !turn.ValidUsername(servers[0].Username, time.Now()) || turn.ValidUsername(servers[0].Username, time.Now().Add(13*time.Hour)) {
		t.Fatal("TURN credentials do not expire as configured")
	}
	// A second engine cannot take the same UDP port.
	cfg2 := cfg
	cfg2.UDPPort = e.UDPPort()
	if _, err := NewEngine(cfg2, quiet()); err == nil {
		t.Fatal("second engine bound the same UDP port")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.NewSubscriber(quiet()); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewSubscriber after Close = %v", err)
	}
}

func TestEngineWithoutTURN(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ListenIP = "127.0.0.1"
	cfg.TURN.Enabled = false
	cfg.TCPPort = -1
	e, err := NewEngine(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.TURNPort() != 0 || e.ICEServers("P", time.Now()) != nil || e.TCPPort() != 0 {
		t.Fatal("TURN or ICE-TCP running while disabled")
	}
}
