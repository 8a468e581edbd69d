package signaling

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/acme"
	"gopkg.in/yaml.v3"
)

// Config is everything `conclave serve` can be told. The zero value is not
// useful; start from DefaultConfig, overlay a file with LoadConfigFile, then
// flags. deploy/conclave.example.yaml documents every field.
type Config struct {
	// Listen is the HTTP address (web app, API, /rtc).
	Listen string `yaml:"listen"`
	// PublicURL is the base URL put in meeting links and join answers, e.g.
	// https://meet.example.org. Empty means http://<Listen>.
	PublicURL string `yaml:"public_url"`
	// Data is the folder for the SQLite database and the token key.
	Data string `yaml:"data"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text (logfmt-style key=value) or json (one object a line).
	LogFormat string `yaml:"log_format"`

	Media     MediaConfig     `yaml:"media"`
	TURN      TURNConfig      `yaml:"turn"`
	Join      JoinConfig      `yaml:"join"`
	Retention RetentionConfig `yaml:"retention"`
	Node      NodeConfig      `yaml:"node"`
	Redis     RedisConfig     `yaml:"redis"`
	Admin     AdminConfig     `yaml:"admin"`
	TLS       TLSConfig       `yaml:"tls"`
}

// NodeConfig names this node within a cluster.
type NodeConfig struct {
	// ID names the node in the cluster's registry and the admin API. Empty:
	// a random ID at each start (a restarted node is a new node).
	ID string `yaml:"id"`
	// URL is this node's own base URL, given in join answers to the
	// participants of meetings placed here. Empty: public_url.
	URL string `yaml:"url"`
}

// RedisConfig joins this node to a cluster. Without a URL the node runs
// alone with SQLite.
type RedisConfig struct {
	// URL of the shared Redis, e.g. redis://:PASSWORD@10.0.0.5:6379/0
	// (rediss:// for TLS). Empty: no cluster.
	URL string `yaml:"url"`
	// Prefix starts every key, so that several clusters can share a Redis.
	Prefix string `yaml:"prefix"`
	// Heartbeat is how often the node renews its record and checks others.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// DeadAfter: a node that has not renewed its record for this long is
	// dead; its meetings are placed on other nodes.
	DeadAfter time.Duration `yaml:"dead_after"`
}

// AdminConfig places the admin API.
type AdminConfig struct {
	// Listen is the admin API's own address (never the public one), also
	// serving /metrics, /healthz and /readyz. Empty: no admin API.
	Listen string `yaml:"listen"`
	// SessionTTL is how long a password+TOTP login lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// MediaConfig places the SFU's sockets.
type MediaConfig struct {
	// UDPPort is the one UDP port all ICE traffic shares (0 = pick one).
	UDPPort int `yaml:"udp_port"`
	// TCPPort is the ICE-TCP fallback port (0 = pick one, -1 = off).
	TCPPort int `yaml:"tcp_port"`
	// PublicIPs are the addresses announced in ICE candidates when the node
	// is behind 1:1 NAT. Empty: the host's own addresses.
	PublicIPs []string `yaml:"public_ips"`
	// Procs is how many CPUs the server runs Go code on at once
	// (GOMAXPROCS). 0: as many as the load needs, from one up to all the
	// process may use (package internal/procs), unless the GOMAXPROCS
	// environment variable fixes it.
	Procs int `yaml:"procs"`
}

// TURNConfig controls the embedded TURN server (pion/turn).
type TURNConfig struct {
	Enabled bool `yaml:"enabled"`
	// UDPPort is TURN's UDP listener (0 = pick one).
	UDPPort int `yaml:"udp_port"`
}

// JoinConfig bounds joining.
type JoinConfig struct {
	// TokenTTL is how long an access token from /api/join is valid.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// RateBurst join attempts at once per source address, then one every
	// RateInterval. Meeting creation shares the same budget.
	RateBurst    int           `yaml:"rate_burst"`
	RateInterval time.Duration `yaml:"rate_interval"`
}

// RetentionConfig bounds how long metadata is kept (DESIGN.md P5).
type RetentionConfig struct {
	// IdleMeetings: a meeting nobody joined for this long is forgotten.
	IdleMeetings time.Duration `yaml:"idle_meetings"`
}

// DefaultConfig is what `conclave serve` runs with when told nothing.
func DefaultConfig() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		Data:      "./data",
		LogLevel:  "info",
		LogFormat: "text",
		Media:     MediaConfig{UDPPort: 7882, TCPPort: 7881},
		TURN:      TURNConfig{Enabled: true, UDPPort: 3478},
		Join: JoinConfig{
			TokenTTL:     10 * time.Minute,
			RateBurst:    10,
			RateInterval: 6 * time.Second,
		},
		Retention: RetentionConfig{IdleMeetings: 30 * 24 * time.Hour},
		Redis:     RedisConfig{Prefix: "conclave:", Heartbeat: time.Second, DeadAfter: 3 * time.Second},
		Admin:     AdminConfig{SessionTTL: 15 * time.Minute},
		TLS:       TLSConfig{ACMEDirectory: acme.LetsEncryptURL},
	}
}

// LoadConfigFile overlays the YAML file at path onto c. Unknown fields are
// errors, so a typo cannot silently leave a default in force.
func LoadConfigFile(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: no changes.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q: %w", c.Listen, err)
	}
	if c.Data == "" {
		return errors.New("config: data folder is empty")
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("config: log_format %q: want text or json", c.LogFormat)
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("config: public_url %q must start with http:// or https://", c.PublicURL)
	}
	if c.Media.UDPPort < 0 || c.Media.UDPPort > 65535 || c.Media.TCPPort < -1 || c.Media.TCPPort > 65535 {
		return errors.New("config: media ports out of range")
	}
	if c.Media.Procs < 0 {
		return fmt.Errorf("config: media.procs %d: want 0 (follow the load) or a number of CPUs", c.Media.Procs)
	}
	for _, ip := range c.Media.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("config: media.public_ips: %q is not an IP address", ip)
		}
	}
	if c.TURN.UDPPort < 0 || c.TURN.UDPPort > 65535 {
		return errors.New("config: turn.udp_port out of range")
	}
	if c.Join.TokenTTL < 10*time.Second || c.Join.TokenTTL > 24*time.Hour {
		return fmt.Errorf("config: join.token_ttl %v must be between 10s and 24h", c.Join.TokenTTL)
	}
	if c.Join.RateBurst < 1 || c.Join.RateInterval <= 0 {
		return errors.New("config: join.rate_burst must be >= 1 and join.rate_interval > 0")
	}
	if c.Retention.IdleMeetings < time.Hour {
		return errors.New("config: retention.idle_meetings must be at least 1h")
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	return c.validateCluster()
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func (c *Config) validateCluster() error {
	if c.Node.ID != "" && !nodeIDPattern.MatchString(c.Node.ID) {
		return fmt.Errorf("config: node.id %q: use 1-64 of A-Z a-z 0-9 _ . -", c.Node.ID)
	}
	if c.Node.URL != "" && !strings.HasPrefix(c.Node.URL, "http://") && !strings.HasPrefix(c.Node.URL, "https://") {
		return fmt.Errorf("config: node.url %q must start with http:// or https://", c.Node.URL)
	}
	if c.Redis.URL != "" {
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			// The URL may hold a password: never repeat it.
			return errors.New("config: redis.url is not a redis:// or rediss:// URL")
		}
	}
	if c.Redis.Prefix == "" {
		return errors.New("config: redis.prefix must not be empty")
	}
	if c.Redis.Heartbeat < 100*time.Millisecond || c.Redis.DeadAfter < 2*c.Redis.Heartbeat {
		return errors.New("config: redis.heartbeat must be at least 100ms and redis.dead_after at least twice that")
	}
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			return fmt.Errorf("config: admin.listen %q: %w", c.Admin.Listen, err)
		}
	}
	if c.Admin.SessionTTL < time.Minute || c.Admin.SessionTTL > 24*time.Hour {
		return errors.New("config: admin.session_ttl must be between 1m and 24h")
	}
	return nil
}

// NodeURL is the base URL of this node's own API and /rtc.
func (c *Config) NodeURL() string {
	if c.Node.URL != "" {
		return strings.TrimRight(c.Node.URL, "/")
	}
	return c.BaseURL()
}

// ParseLogLevel maps a level name to slog's.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("config: log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// BaseURL is the URL that links and join answers start with: public_url,
// else https://<first ACME domain> with ACME, else http(s)://<listen>.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if len(c.TLS.ACMEDomains) > 0 {
		host := c.TLS.ACMEDomains[0]
		if _, port, err := net.SplitHostPort(c.Listen); err == nil && port != "443" {
			host = net.JoinHostPort(host, port)
		}
		return "https://" + host
	}
	if c.TLS.Enabled() {
		return "https://" + c.Listen
	}
	return "http://" + c.Listen
}
