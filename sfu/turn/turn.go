package turn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 is what the TURN REST credential scheme defines.
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	pionturn "github.com/pion/turn/v4"
)

// Config configures the TURN server.
type Config struct {
	// Port is the UDP and TCP port (0 picks a free UDP port and uses the same
	// number for TCP if it is free).
	Port int
	// ListenIP is the address to listen on ("" = all).
	ListenIP string
	// Realm is the TURN realm (RFC 8656, Section 9.2.1).
	Realm string
	// RelayIP is the address given to clients for their relayed candidates:
	// the host's public address. Required.
	RelayIP net.IP
	// AllowPeer reports whether the relay may forward to a peer IP. The engine
	// allows only the SFU's own addresses. Required.
	AllowPeer func(net.IP) bool
	// Secret keys credentials; if empty a random one is made.
	Secret []byte
}

// Server is a running TURN server.
type Server struct {
	srv    *pionturn.Server
	secret []byte
	realm  string
	port   int
	log    *slog.Logger
}

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("turn: invalid configuration")

// Start listens and serves until Close.
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.RelayIP == nil || cfg.AllowPeer == nil || cfg.Realm == "" {
		return nil, fmt.Errorf("%w: relay IP, peer filter and realm are required", ErrConfig)
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("turn: secret: %w", err)
		}
	}
	udp, tcp, err := listenBoth(cfg.ListenIP, cfg.Port)
	if err != nil {
		return nil, err
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	s := &Server{secret: secret, realm: cfg.Realm, port: port, log: log}
	perm := func(_ net.Addr, peer net.IP) bool { return cfg.AllowPeer(peer) }
	gen := &pionturn.RelayAddressGeneratorStatic{RelayAddress: cfg.RelayIP, Address: relayBindAddress(cfg.RelayIP)}
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm:       cfg.Realm,
		AuthHandler: s.authenticate,
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: udp, RelayAddressGenerator: gen, PermissionHandler: perm,
		}},
		ListenerConfigs: []pionturn.ListenerConfig{{
			Listener: tcp, RelayAddressGenerator: gen, PermissionHandler: perm,
		}},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("turn: start: %w", err)
	}
	s.srv = srv
	return s, nil
}

func relayBindAddress(ip net.IP) string {
	if ip.IsLoopback() {
		return ip.String()
	}
	return "0.0.0.0"
}

// listenBoth binds UDP and TCP on the same port number. With port 0 the
// kernel picks the UDP port, whose number may already be taken for TCP:
// another pick is tried then, a bounded number of times.
func listenBoth(ip string, port int) (net.PacketConn, net.Listener, error) {
	const attempts = 20
	for i := 0; ; i++ {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			return nil, nil, fmt.Errorf("turn: listen udp: %w", err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) || i+1 == attempts {
			return nil, nil, fmt.Errorf("turn: listen tcp on port %d: %w", p, err)
		}
	}
}

// Port is the UDP and TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Close stops the server.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("turn: close: %w", err)
	}
	return nil
}

// Credentials returns a username and password valid until now+ttl for label
// (a participant identity; it ends up in TURN logs only as part of the
// username).
func (s *Server) Credentials(label string, now time.Time, ttl time.Duration) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + label
	return username, s.password(username)
}

func (s *Server) password(username string) string {
	m := hmac.New(sha1.New, s.secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// authenticate is the pion AuthHandler: it accepts a username whose expiry
// has not passed and returns the long-term key (RFC 8489, Section 9.2.2)
// derived from the password the username implies.
func (s *Server) authenticate(username, realm string, src net.Addr) ([]byte, bool) {
	if ok := ValidUsername(username, time.Now()); !ok || realm != s.realm {
		s.log.Debug("turn: refused credentials", "src", src.String())
		return nil, false
	}
	return pionturn.GenerateAuthKey(username, realm, s.password(username)), true
}

// ValidUsername reports whether username has the "<expiry>:<label>" form and
// has not expired at now.
func ValidUsername(username string, now time.Time) bool {
	exp, _, ok := strings.Cut(username, ":")
	if !ok || len(username) > 256 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return false
	}
	return now.Unix() < t
}
