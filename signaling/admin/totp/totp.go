package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"
)

// Step is the time step X of RFC 6238, Section 4.1 (30 seconds).
const Step = 30 * time.Second

// Digits is the length of a code.
const Digits = 6

// SecretSize is the size of a fresh shared secret: 160 bits, the length of
// an HMAC-SHA-1 output, as RFC 4226, Section 4 recommends.
const SecretSize = 20

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// HOTP computes the HOTP value of RFC 4226, Section 5.3: HMAC over the
// 8-byte big-endian counter, dynamic truncation, then modulo 10^digits.
func HOTP(newHash func() hash.Hash, secret []byte, counter uint64, digits int) string {
	if digits < 6 || digits > 9 {
		panic("totp: digits must be 6 to 9") // programming error: callers pass constants
	}
	mac := hmac.New(newHash, secret)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	mac.Write(c[:])
	sum := mac.Sum(nil)
	// Dynamic truncation (RFC 4226, Section 5.4): the low 4 bits of the last
	// byte pick an offset; 31 bits from there are the value.
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", digits, v%pow10[digits])
}

// Counter is T of RFC 6238, Section 4.2: whole steps since the Unix epoch
// (T0 = 0).
func Counter(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s) / uint64(Step/time.Second)
}

// Code is the 6-digit HMAC-SHA-1 TOTP of secret at t.
func Code(secret []byte, t time.Time) string {
	return HOTP(sha1.New, secret, Counter(t), Digits)
}

// ErrInvalid is returned for a wrong, malformed or replayed code.
var ErrInvalid = errors.New("totp: invalid code")

// Skew is how many steps either side of now a code is accepted, for clock
// drift between server and phone (RFC 6238, Section 5.2 suggests at most one).
const Skew = 1

// Verify checks code against secret at now and returns the counter it
// matched. Codes for counters at or below lastUsed are refused, so that a
// code seen once (over a shoulder, in a proxy log) cannot be replayed
// (RFC 6238, Section 5.2). Every candidate is compared in constant time.
func Verify(secret []byte, code string, now time.Time, lastUsed uint64) (uint64, error) {
	if len(code) != Digits {
		return 0, ErrInvalid
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return 0, ErrInvalid
		}
	}
	c := Counter(now)
	var (
		matched uint64
		ok      int
	)
	for d := -Skew; d <= Skew; d++ {
		ctr := c + uint64(d)
		if d < 0 && c < uint64(-d) {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(HOTP(sha1.New, secret, ctr, Digits)), []byte(code))
		if eq == 1 && ok == 0 {
			matched, ok = ctr, 1
		}
	}
	if ok == 0 || matched <= lastUsed {
		return 0, ErrInvalid
	}
	return matched, nil
}

// NewSecret draws a fresh shared secret.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return s, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret is the base32 form authenticator apps take.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses the base32 form, ignoring case, spaces and padding.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 16 {
		return nil, errors.New("totp: malformed secret")
	}
	return b, nil
}

// URI is the otpauth:// URI that authenticator apps import (often shown as a
// QR code), naming the issuer and account.
func URI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", EncodeSecret(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(int(Step/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}
