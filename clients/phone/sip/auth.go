package sip

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // RFC 3261 digest: MD5 is what desk phones implement.
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors.
var (
	// ErrUnauthorized: no or wrong credentials; the caller answers 401
	// with a fresh challenge.
	ErrUnauthorized = errors.New("sip: unauthorized")
	// ErrStale: the credentials were right for an expired nonce (answer
	// 401 with stale=true, RFC 3261 Section 22.4 via RFC 2617 3.2.1).
	ErrStale = errors.New("sip: stale nonce")
	// ErrUnknownUser: no such phone.
	ErrUnknownUser = errors.New("sip: unknown user")
)

// Keys holds the keys derived from the gateway key.
type Keys struct {
	password [32]byte
	nonce    [32]byte
}

// DeriveKeys derives the SIP keys from the 32-byte gateway key.
func DeriveKeys(gatewayKey []byte) Keys {
	var k Keys
	m := hmac.New(sha256.New, gatewayKey)
	m.Write([]byte("conclave sip passwords v1"))
	copy(k.password[:], m.Sum(nil))
	m = hmac.New(sha256.New, gatewayKey)
	m.Write([]byte("conclave sip nonces v1"))
	copy(k.nonce[:], m.Sum(nil))
	return k
}

// Password derives the password of user at generation gen.
func (k Keys) Password(user string, gen int) string {
	m := hmac.New(sha256.New, k.password[:])
	m.Write([]byte("conclave sip password v1\x00"))
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(strconv.Itoa(gen)))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)))[:26]
}

// Phone is one desk phone's entry in the credentials file; nothing in it
// is secret.
type Phone struct {
	Generation int `json:"generation"`
}

// Phones is the credentials file: user name -> entry. Safe for concurrent
// use.
type Phones struct {
	path string
	mu   sync.Mutex
	m    map[string]Phone
}

// maxUser bounds user names.
const maxUser = 64

// ValidUser reports whether name is a usable SIP user name (RFC 3261
// "user" characters we accept: letters, digits, - . _ +).
func ValidUser(name string) bool {
	if name == "" || len(name) > maxUser {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._+", c)) {
			return false
		}
	}
	return true
}

// LoadPhones reads the credentials file at path (empty: memory only; a
// missing file is an empty list).
func LoadPhones(path string) (*Phones, error) {
	p := &Phones{path: path, m: map[string]Phone{}}
	if path == "" {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sip: read phones: %w", err)
	}
	if err := json.Unmarshal(b, &p.m); err != nil {
		return nil, fmt.Errorf("sip: parse phones %s: %w", path, err)
	}
	return p, nil
}

// Get returns the entry of user.
func (p *Phones) Get(user string) (Phone, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph, ok := p.m[user]
	return ph, ok
}

// Len returns the number of phones.
func (p *Phones) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// Add adds user, or bumps its generation (which changes its password), and
// saves the file.
func (p *Phones) Add(user string) (Phone, error) {
	if !ValidUser(user) {
		return Phone{}, fmt.Errorf("sip: invalid user name %q", user)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.m[user]
	ph.Generation++
	p.m[user] = ph
	return ph, p.saveLocked()
}

// Remove deletes user.
func (p *Phones) Remove(user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[user]; !ok {
		return ErrUnknownUser
	}
	delete(p.m, user)
	return p.saveLocked()
}

func (p *Phones) saveLocked() error {
	if p.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(p.m, "", "  ")
	if err != nil {
		return fmt.Errorf("sip: save phones: %w", err)
	}
	if err := os.WriteFile(p.path+".tmp", b, 0o600); err != nil {
		return fmt.Errorf("sip: save phones: %w", err)
	}
	if err := os.Rename(p.path+".tmp", p.path); err != nil {
		return fmt.Errorf("sip: save phones: %w", err)
	}
	return nil
}

// NonceLifetime is how long a challenge's nonce is accepted.
const NonceLifetime = 5 * time.Minute

// Authenticator checks digest credentials of desk phones.
type Authenticator struct {
	Realm  string
	Keys   Keys
	Phones *Phones
	// SHA256 also offers RFC 8760's SHA-256 algorithm.
	SHA256 bool
	Now    func() time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// nonce is base64url(issued unix seconds (8 bytes) || HMAC(Kn, issued ||
// source address)[:16]): stateless, bound to the caller's address, and
// expiring.
func (a *Authenticator) nonce(issued int64, src netip.Addr) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(issued))
	m := hmac.New(sha256.New, a.Keys.nonce[:])
	m.Write(ts[:])
	b, _ := src.MarshalBinary()
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(append(ts[:], m.Sum(nil)[:16]...))
}

// checkNonce returns nil, ErrStale or ErrUnauthorized.
func (a *Authenticator) checkNonce(n string, src netip.Addr) error {
	raw, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(raw) != 24 {
		return ErrUnauthorized
	}
	issued := int64(binary.BigEndian.Uint64(raw[:8]))
	if subtle.ConstantTimeCompare([]byte(a.nonce(issued, src)), []byte(n)) != 1 {
		return ErrUnauthorized
	}
	age := a.now().Sub(time.Unix(issued, 0))
	if age < -time.Minute || age > NonceLifetime {
		return ErrStale
	}
	return nil
}

// Challenges returns the WWW-Authenticate values for a 401: MD5, and
// SHA-256 too when SHA256 is set (RFC 8760, Section 2.4: one header per
// algorithm). SHA-256 is off by default: some clients (baresip 1.0's
// libre) fail the whole challenge when any header names an algorithm they
// do not know, and desk phones mostly know only MD5. Either way the
// password is a 130-bit random string, so MD5's weakness does not make it
// guessable from a captured exchange; TLS hides the exchange altogether.
func (a *Authenticator) Challenges(src netip.Addr, stale bool) []string {
	n := a.nonce(a.now().Unix(), src)
	s := ""
	if stale {
		s = ", stale=true"
	}
	var out []string
	algs := []string{"MD5"}
	if a.SHA256 {
		algs = append(algs, "SHA-256")
	}
	for _, alg := range algs {
		out = append(out, fmt.Sprintf(`Digest realm=%q, nonce=%q, algorithm=%s, qop="auth"%s`, a.Realm, n, alg, s))
	}
	return out
}

// Verify checks an Authorization header of a request with method from
// src, and returns the authenticated user.
func (a *Authenticator) Verify(method, authorization string, src netip.Addr) (string, error) {
	c, err := ParseCredentials(authorization)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if c.Realm != a.Realm {
		return "", fmt.Errorf("%w: realm", ErrUnauthorized)
	}
	ph, ok := a.Phones.Get(c.Username)
	if !ok || !ValidUser(c.Username) {
		return "", ErrUnauthorized
	}
	var h func() hash.Hash
	switch strings.ToUpper(c.Algorithm) {
	case "", "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return "", fmt.Errorf("%w: algorithm", ErrUnauthorized)
	}
	nonceErr := a.checkNonce(c.Nonce, src)
	if errors.Is(nonceErr, ErrUnauthorized) {
		return "", nonceErr
	}
	H := func(parts ...string) string {
		x := h()
		x.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(x.Sum(nil))
	}
	ha1 := H(c.Username, a.Realm, a.Keys.Password(c.Username, ph.Generation))
	ha2 := H(method, c.URI)
	var want string
	switch c.QOP {
	case "auth":
		want = H(ha1, c.Nonce, c.NC, c.CNonce, "auth", ha2)
	case "":
		want = H(ha1, c.Nonce, ha2) // RFC 2069 compatibility (RFC 2617, 3.2.2.1)
	default:
		return "", fmt.Errorf("%w: qop", ErrUnauthorized)
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(c.Response)), []byte(want)) != 1 {
		return "", ErrUnauthorized
	}
	if nonceErr != nil {
		return "", nonceErr // right password, old nonce
	}
	return c.Username, nil
}
