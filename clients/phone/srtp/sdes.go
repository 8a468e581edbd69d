package srtp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pionsrtp "github.com/pion/srtp/v3"
)

// Errors.
var (
	// ErrCrypto: an a=crypto attribute is malformed or uses a feature we
	// do not support (MKI, several keys, session parameters we must obey).
	ErrCrypto = errors.New("srtp: unusable crypto attribute")
	// ErrNoSuite: none of the offered suites is supported.
	ErrNoSuite = errors.New("srtp: no supported crypto suite")
)

// suites the gateway accepts, most preferred first (RFC 4568, Section 6.2;
// RFC 6188; RFC 7714, Section 14.2).
var suites = []struct {
	name    string
	profile pionsrtp.ProtectionProfile
}{
	{"AEAD_AES_128_GCM", pionsrtp.ProtectionProfileAeadAes128Gcm},
	{"AES_CM_128_HMAC_SHA1_80", pionsrtp.ProtectionProfileAes128CmHmacSha1_80},
	{"AES_256_CM_HMAC_SHA1_80", pionsrtp.ProtectionProfileAes256CmHmacSha1_80},
	{"AES_CM_128_HMAC_SHA1_32", pionsrtp.ProtectionProfileAes128CmHmacSha1_32},
}

func profileOf(name string) (pionsrtp.ProtectionProfile, bool) {
	for _, s := range suites {
		if s.name == name {
			return s.profile, true
		}
	}
	return 0, false
}

// maxAttr bounds an a=crypto value.
const maxAttr = 512

// Crypto is one a=crypto attribute (RFC 4568, Section 9.1):
// "tag suite inline:key||salt[|lifetime][|MKI:length] [session-params]".
type Crypto struct {
	Tag   int
	Suite string
	// Key is the master key followed by the master salt.
	Key []byte
}

// LogValue keeps the key out of logs.
func (c Crypto) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("tag", c.Tag), slog.String("suite", c.Suite))
}

// ParseCrypto decodes an a=crypto attribute value. Suites we do not know
// are returned with ErrNoSuite so the caller can try the next attribute.
func ParseCrypto(v string) (Crypto, error) {
	if len(v) > maxAttr {
		return Crypto{}, fmt.Errorf("%w: %d bytes", ErrCrypto, len(v))
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("%w: %d fields", ErrCrypto, len(f))
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, fmt.Errorf("%w: tag %q", ErrCrypto, f[0])
	}
	c := Crypto{Tag: tag, Suite: f[1]}
	profile, ok := profileOf(c.Suite)
	if !ok {
		return c, fmt.Errorf("%w: %q", ErrNoSuite, c.Suite)
	}
	// Session parameters (Section 6.3) change how SRTP runs; refuse the
	// ones we would have to obey rather than ignore them silently.
	for _, p := range f[3:] {
		switch {
		case strings.HasPrefix(p, "UNENCRYPTED_SRTP"), strings.HasPrefix(p, "UNENCRYPTED_SRTCP"),
			strings.HasPrefix(p, "UNAUTHENTICATED_SRTP"), strings.HasPrefix(p, "KDR="),
			strings.HasPrefix(p, "FEC_ORDER"), strings.HasPrefix(p, "FEC_KEY"), strings.HasPrefix(p, "WSH="):
			return Crypto{}, fmt.Errorf("%w: session parameter %q", ErrCrypto, strings.SplitN(p, "=", 2)[0])
		}
	}
	keyParams := f[2]
	if strings.Contains(keyParams, ";") {
		return Crypto{}, fmt.Errorf("%w: several keys", ErrCrypto)
	}
	inline, ok := strings.CutPrefix(keyParams, "inline:")
	if !ok {
		return Crypto{}, fmt.Errorf("%w: key method", ErrCrypto)
	}
	parts := strings.Split(inline, "|")
	if len(parts) > 3 {
		return Crypto{}, fmt.Errorf("%w: key parameters", ErrCrypto)
	}
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			return Crypto{}, fmt.Errorf("%w: MKI not supported", ErrCrypto)
		}
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some phones omit the padding.
		key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	}
	if err != nil {
		return Crypto{}, fmt.Errorf("%w: key encoding", ErrCrypto)
	}
	kl, _ := profile.KeyLen()
	sl, _ := profile.SaltLen()
	if len(key) != kl+sl {
		return Crypto{}, fmt.Errorf("%w: %d key bytes for %s", ErrCrypto, len(key), c.Suite)
	}
	c.Key = key
	return c, nil
}

// String encodes the attribute value (without "a=crypto:").
func (c Crypto) String() string {
	return fmt.Sprintf("%d %s inline:%s", c.Tag, c.Suite, base64.StdEncoding.EncodeToString(c.Key))
}

// Choose picks the first supported attribute among the offered values,
// in our order of preference, and returns it with a fresh local key for
// the answer (same tag and suite; RFC 4568, Section 7.1.2).
func Choose(rand io.Reader, offered []string) (remote, local Crypto, err error) {
	var parsed []Crypto
	var firstErr error
	for _, v := range offered {
		c, err := ParseCrypto(v)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		parsed = append(parsed, c)
	}
	for _, s := range suites {
		for _, c := range parsed {
			if c.Suite == s.name {
				local, err := NewLocal(rand, c.Tag, c.Suite)
				return c, local, err
			}
		}
	}
	if firstErr == nil {
		firstErr = ErrNoSuite
	}
	return Crypto{}, Crypto{}, fmt.Errorf("srtp: choose among %d attributes: %w", len(offered), firstErr)
}

// NewLocal returns a fresh master key and salt for suite.
func NewLocal(r io.Reader, tag int, suite string) (Crypto, error) {
	if r == nil {
		r = rand.Reader
	}
	p, ok := profileOf(suite)
	if !ok {
		return Crypto{}, fmt.Errorf("%w: %q", ErrNoSuite, suite)
	}
	kl, _ := p.KeyLen()
	sl, _ := p.SaltLen()
	key := make([]byte, kl+sl)
	if _, err := io.ReadFull(r, key); err != nil {
		return Crypto{}, fmt.Errorf("srtp: new key: %w", err)
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, nil
}

// replayWindow is the replay protection window, in packets (RFC 3711,
// Section 3.3.2 recommends at least 64).
const replayWindow = 128

// Session protects outgoing and checks incoming RTP and RTCP of one call.
// Not safe for concurrent use in one direction; Protect and Unprotect may
// run concurrently (they use separate contexts).
type Session struct {
	tx, rx *pionsrtp.Context
}

// NewSession builds the contexts: local keys what we send, remote what we
// receive.
func NewSession(local, remote Crypto) (*Session, error) {
	mk := func(c Crypto, opts ...pionsrtp.ContextOption) (*pionsrtp.Context, error) {
		p, ok := profileOf(c.Suite)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrNoSuite, c.Suite)
		}
		kl, _ := p.KeyLen()
		return pionsrtp.CreateContext(c.Key[:kl], c.Key[kl:], p, opts...)
	}
	tx, err := mk(local)
	if err != nil {
		return nil, fmt.Errorf("srtp: send context: %w", err)
	}
	rx, err := mk(remote, pionsrtp.SRTPReplayProtection(replayWindow), pionsrtp.SRTCPReplayProtection(replayWindow))
	if err != nil {
		return nil, fmt.Errorf("srtp: receive context: %w", err)
	}
	return &Session{tx: tx, rx: rx}, nil
}

// ProtectRTP encrypts and authenticates a marshalled RTP packet.
func (s *Session) ProtectRTP(dst, pkt []byte) ([]byte, error) {
	var h rtp.Header
	if _, err := h.Unmarshal(pkt); err != nil {
		return nil, fmt.Errorf("srtp: protect: %w", err)
	}
	return s.tx.EncryptRTP(dst, pkt, &h)
}

// UnprotectRTP authenticates and decrypts an SRTP packet.
func (s *Session) UnprotectRTP(dst, pkt []byte) ([]byte, error) {
	var h rtp.Header
	return s.rx.DecryptRTP(dst, pkt, &h)
}

// ProtectRTCP encrypts and authenticates a compound RTCP packet.
func (s *Session) ProtectRTCP(dst, pkt []byte) ([]byte, error) {
	return s.tx.EncryptRTCP(dst, pkt, nil)
}

// UnprotectRTCP authenticates and decrypts an SRTCP packet.
func (s *Session) UnprotectRTCP(dst, pkt []byte) ([]byte, error) {
	var h rtcp.Header
	return s.rx.DecryptRTCP(dst, pkt, &h)
}
