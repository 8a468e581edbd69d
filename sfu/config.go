package sfu

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config configures an Engine. The zero value is not usable: start from
// DefaultConfig.
type Config struct {
	// UDPPort is the single UDP port for ICE traffic; 0 picks a free port
	// (see Engine.UDPPort).
	UDPPort int
	// TCPPort is the ICE-TCP fallback port; 0 picks a free port, -1 disables
	// ICE-TCP.
	TCPPort int
	// ListenIP is the address the media ports bind to ("" = all addresses).
	ListenIP string
	// NAT1To1IPs are public addresses to announce as host candidates in place
	// of the machine's own (for a host behind a 1:1 NAT).
	NAT1To1IPs []string
	// IncludeLoopback announces loopback candidates (for tests and a server
	// used from the same machine).
	IncludeLoopback bool

	// TURN configures the embedded TURN server.
	TURN TURNConfig

	// Limits on what one participant can make the SFU do.
	MaxTracksPerPublisher int

	// Observe, if set, sees every RTP packet the SFU receives from a
	// publisher (after SRTP, before forwarding): a test hook for the
	// tripwire that scans every byte the server handles. It runs on the
	// forwarding path, must be safe for concurrent use and must not keep b.
	Observe func(direction string, b []byte)
}

// TURNConfig configures the embedded TURN server (package sfu/turn).
type TURNConfig struct {
	Enabled bool
	// Port is its UDP and TCP port; 0 picks a free one.
	Port int
	// Realm is the TURN realm.
	Realm string
	// Host is the host name or address clients use in turn: URLs; if empty
	// the first NAT1To1 IP, else the relay IP.
	Host string
	// RelayIP is the address relayed candidates carry; if empty the first
	// NAT1To1 IP, else 127.0.0.1.
	RelayIP string
	// CredentialTTL is how long credentials handed to a participant stay
	// valid.
	CredentialTTL time.Duration
	// Secret keys the credentials; empty means a random per-process secret.
	Secret []byte
}

// DefaultConfig is a single-port configuration with TURN on.
func DefaultConfig() Config {
	return Config{
		UDPPort:               0,
		TCPPort:               0,
		MaxTracksPerPublisher: 8,
		TURN: TURNConfig{
			Enabled:       true,
			Realm:         "conclave",
			CredentialTTL: 12 * time.Hour,
		},
	}
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("sfu: invalid configuration")

func (c *Config) validate() error {
	if c.UDPPort < 0 || c.UDPPort > 65535 || c.TCPPort < -1 || c.TCPPort > 65535 {
		return fmt.Errorf("%w: port out of range", ErrConfig)
	}
	for _, ip := range c.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%w: NAT 1:1 address %q is not an IP address", ErrConfig, ip)
		}
	}
	if c.TURN.Enabled {
		if c.TURN.Realm == "" {
			return fmt.Errorf("%w: TURN realm is empty", ErrConfig)
		}
		if c.TURN.RelayIP != "" && net.ParseIP(c.TURN.RelayIP) == nil {
			return fmt.Errorf("%w: TURN relay address %q is not an IP address", ErrConfig, c.TURN.RelayIP)
		}
		if c.TURN.CredentialTTL <= 0 {
			return fmt.Errorf("%w: TURN credential lifetime must be positive", ErrConfig)
		}
	}
	if c.MaxTracksPerPublisher <= 0 {
		c.MaxTracksPerPublisher = 8
	}
	return nil
}
