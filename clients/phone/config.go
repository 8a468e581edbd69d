package phone

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/sdp"
)

// SRTPPolicy says when calls must use SRTP.
type SRTPPolicy string

// Policies.
const (
	// SRTPOptional answers RTP/SAVP with SDES-SRTP and RTP/AVP with RTP.
	SRTPOptional SRTPPolicy = "optional"
	// SRTPRequired refuses (488) offers without SRTP, and SRTP offers that
	// did not arrive over TLS: SDES keys sent over UDP or TCP in the clear
	// protect nothing.
	SRTPRequired SRTPPolicy = "required"
)

// Config of a gateway.
type Config struct {
	// Name is the gateway's name in its members' labels.
	Name string `yaml:"name"`
	// Realm of digest challenges.
	Realm string `yaml:"realm"`
	// Listen addresses, "IP:port"; empty disables a transport. TLS needs
	// CertFile and KeyFile.
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
	TLS string `yaml:"tls"`
	// CertFile and KeyFile are the TLS certificate and key (PEM).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MediaIP is the address put in SDP answers and bound for RTP.
	MediaIP string `yaml:"media_ip"`
	// DigestSHA256 also offers SHA-256 digests (RFC 8760); off by default
	// because some phones refuse a challenge naming an unknown algorithm.
	DigestSHA256 bool `yaml:"digest_sha256"`
	// Trunks are addresses or CIDR prefixes allowed to call without
	// digest authentication.
	Trunks []string `yaml:"trunks"`
	// SRTP is the SRTP policy (default optional).
	SRTP SRTPPolicy `yaml:"srtp"`
	// Codecs in order of preference (default opus, G722, PCMU, PCMA).
	Codecs []string `yaml:"codecs"`
	// KeyFile of the gateway (32 bytes, 0600, created if missing), the
	// credentials file of desk phones, and the dial-in directory file.
	GatewayKeyFile string `yaml:"gateway_key_file"`
	PhonesFile     string `yaml:"phones_file"`
	DirectoryFile  string `yaml:"directory_file"`
	// MaxCalls bounds concurrent calls (default 100).
	MaxCalls int `yaml:"max_calls"`
	// CodeTimeout bounds the time to enter a code (default 30 s),
	// LobbyTimeout the wait for admission (default 5 min), and
	// SessionExpires the session timer we ask for (RFC 4028; default 30
	// min, 0 disables).
	CodeTimeout    time.Duration `yaml:"code_timeout"`
	LobbyTimeout   time.Duration `yaml:"lobby_timeout"`
	SessionExpires time.Duration `yaml:"session_expires"`
	// Limits on wrong codes.
	Limits dialin.LimitConfig `yaml:"limits"`
}

// ErrConfig: the configuration is not usable.
var ErrConfig = errors.New("phone: invalid configuration")

func (c *Config) validate() (prefs []sdp.Codec, mediaIP netip.Addr, err error) {
	if c.Name == "" {
		c.Name = "phone"
	}
	if c.Realm == "" {
		c.Realm = "conclave"
	}
	if c.SRTP == "" {
		c.SRTP = SRTPOptional
	}
	if c.SRTP != SRTPOptional && c.SRTP != SRTPRequired {
		return nil, mediaIP, fmt.Errorf("%w: srtp %q", ErrConfig, c.SRTP)
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 100
	}
	if c.CodeTimeout <= 0 {
		c.CodeTimeout = 30 * time.Second
	}
	if c.LobbyTimeout <= 0 {
		c.LobbyTimeout = 5 * time.Minute
	}
	if c.UDP == "" && c.TCP == "" && c.TLS == "" {
		return nil, mediaIP, fmt.Errorf("%w: no SIP listener", ErrConfig)
	}
	if c.TLS != "" && (c.CertFile == "" || c.KeyFile == "") {
		return nil, mediaIP, fmt.Errorf("%w: tls needs cert_file and key_file", ErrConfig)
	}
	mediaIP, err = netip.ParseAddr(c.MediaIP)
	if err != nil {
		return nil, mediaIP, fmt.Errorf("%w: media_ip: %w", ErrConfig, err)
	}
	names := map[string]sdp.Codec{"opus": sdp.Opus, "g722": sdp.G722, "pcmu": sdp.PCMU, "pcma": sdp.PCMA}
	for _, n := range c.Codecs {
		cd, ok := names[lower(n)]
		if !ok {
			return nil, mediaIP, fmt.Errorf("%w: codec %q", ErrConfig, n)
		}
		prefs = append(prefs, cd)
	}
	if len(prefs) == 0 {
		prefs = sdp.DefaultPreference
	}
	return prefs, mediaIP, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
