package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHOTPVectors checks RFC 4226, Appendix D.
func TestHOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		t.Run(fmt.Sprint("count ", i), func(t *testing.T) {
			if got := HOTP(sha1.New, secret, uint64(i), 6); got != w {
				t.Fatalf("HOTP(%d) = %s, want %s", i, got, w)
			}
		})
	}
}

// TestTOTPVectors checks RFC 6238, Appendix B (8 digits, three hashes, each
// with its own seed).
func TestTOTPVectors(t *testing.T) {
	seeds := map[string]struct {
		h    func() hash.Hash
		seed string
	}{
		"SHA1":   {sha1.New, "12345678901234567890"},
		"SHA256": {sha256.New, "12345678901234567890123456789012"},
		"SHA512": {sha512.New, "1234567890123456789012345678901234567890123456789012345678901234"},
	}
	vectors := []struct {
		unix int64
		mode string
		code string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		t.Run(fmt.Sprintf("%d %s", v.unix, v.mode), func(t *testing.T) {
			s := seeds[v.mode]
			if got := HOTP(s.h, []byte(s.seed), Counter(time.Unix(v.unix, 0)), 8); got != v.code {
				t.Fatalf("got %s, want %s", got, v.code)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1234567890, 0)
	c := Counter(now)
	code := Code(secret, now)
	cases := []struct {
		name     string
		code     string
		at       time.Time
		lastUsed uint64
		ok       bool
	}{
		{"now", code, now, 0, true},
		{"one step late", code, now.Add(Step), 0, true},
		{"one step early", code, now.Add(-Step), 0, true},
		{"two steps late", code, now.Add(2 * Step), 0, false},
		{"replayed", code, now, c, false},
		{"after a later code", code, now, c + 1, false},
		{"wrong", code[:5] + strconv.Itoa(int(code[5]-'0'+1)%10), now, 0, false},
		{"short", code[:5], now, 0, false},
		{"letters", "12345a", now, 0, false},
		{"empty", "", now, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(secret, tc.code, tc.at, tc.lastUsed)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && got != c {
				t.Fatalf("matched counter %d, want %d", got, c)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestSecretEncoding(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	enc := EncodeSecret(s)
	got, err := DecodeSecret(strings.ToLower(enc[:8]) + " " + enc[8:])
	if err != nil || string(got) != string(s) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := DecodeSecret("!!"); err == nil {
		t.Fatal("accepted garbage")
	}
	u := URI("Conclave", "ada", s)
	if !strings.HasPrefix(u, "otpauth://totp/Conclave:ada?") || !strings.Contains(u, "secret="+enc) {
		t.Fatalf("uri %s", u)
	}
}
