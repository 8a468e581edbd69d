package sip

import (
	"crypto/md5" //nolint:gosec // digest test
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func digestResponse(h func() hash.Hash, user, realm, pass, method, uri, nonce, nc, cnonce string) string {
	H := func(s string) string { x := h(); x.Write([]byte(s)); return hex.EncodeToString(x.Sum(nil)) }
	ha1 := H(user + ":" + realm + ":" + pass)
	ha2 := H(method + ":" + uri)
	return H(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
}

func nonceOf(t *testing.T, chal string) string {
	t.Helper()
	_, after, ok := strings.Cut(chal, `nonce="`)
	if !ok {
		t.Fatalf("no nonce in %q", chal)
	}
	n, _, _ := strings.Cut(after, `"`)
	return n
}

func TestDigestAuthentication(t *testing.T) {
	dir := t.TempDir()
	phones, err := LoadPhones(filepath.Join(dir, "phones.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phones.Add("desk1"); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	a := &Authenticator{Realm: "conclave", Keys: DeriveKeys([]byte("k0123456789abcdef0123456789abcde")), Phones: phones, SHA256: true, Now: func() time.Time { return now }}
	src := netip.MustParseAddr("192.0.2.10")
	pass := a.Keys.Password("desk1", 1)
	chals := a.Challenges(src, false)
	if len(chals) != 2 || !strings.Contains(chals[0], "MD5") || !strings.Contains(chals[1], "SHA-256") {
		t.Fatalf("challenges %q", chals)
	}
	nonce := nonceOf(t, chals[0])
	hdr := func(alg string, h func() hash.Hash, user, pass, nonce, method string) string {
		r := digestResponse(h, user, "conclave", pass, method, "sip:gw@127.0.0.1", nonce, "00000001", "abc")
		return fmt.Sprintf(`Digest username="%s", realm="conclave", nonce="%s", uri="sip:gw@127.0.0.1", response="%s", algorithm=%s, cnonce="abc", qop=auth, nc=00000001`, user, nonce, r, alg)
	}
	for _, tc := range []struct {
		name string
		hdr  string
		src  netip.Addr
		err  error
	}{
		{"md5", hdr("MD5", md5.New, "desk1", pass, nonce, "INVITE"), src, nil},
		{"sha256", hdr("SHA-256", sha256.New, "desk1", pass, nonce, "INVITE"), src, nil},
		{"wrong password", hdr("MD5", md5.New, "desk1", pass+"x", nonce, "INVITE"), src, ErrUnauthorized},
		{"wrong method", hdr("MD5", md5.New, "desk1", pass, nonce, "BYE") + "", src, nil},
		{"unknown user", hdr("MD5", md5.New, "desk2", a.Keys.Password("desk2", 1), nonce, "INVITE"), src, ErrUnauthorized},
		{"nonce from another address", hdr("MD5", md5.New, "desk1", pass, nonce, "INVITE"), netip.MustParseAddr("192.0.2.11"), ErrUnauthorized},
		{"forged nonce", hdr("MD5", md5.New, "desk1", pass, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "INVITE"), src, ErrUnauthorized},
		{"garbage", "Basic Zm9vOmJhcg==", src, ErrUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "INVITE"
			if tc.name == "wrong method" {
				method = "BYE"
			}
			user, err := a.Verify(method, tc.hdr, tc.src)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && user != "desk1" {
				t.Fatalf("user %q", user)
			}
		})
	}
	t.Run("method bound", func(t *testing.T) {
		if _, err := a.Verify("BYE", hdr("MD5", md5.New, "desk1", pass, nonce, "INVITE"), src); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("INVITE response accepted for BYE: %v", err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		now = now.Add(NonceLifetime + time.Second)
		defer func() { now = now.Add(-NonceLifetime - time.Second) }()
		if _, err := a.Verify("INVITE", hdr("MD5", md5.New, "desk1", pass, nonce, "INVITE"), src); !errors.Is(err, ErrStale) {
			t.Fatalf("old nonce: %v", err)
		}
	})
	t.Run("reset changes password", func(t *testing.T) {
		if _, err := phones.Add("desk1"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify("INVITE", hdr("MD5", md5.New, "desk1", pass, nonce, "INVITE"), src); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("old password after reset: %v", err)
		}
	})
	b, _ := os.ReadFile(filepath.Join(dir, "phones.json"))
	if strings.Contains(string(b), pass) || strings.Contains(string(b), a.Keys.Password("desk1", 2)) {
		t.Fatal("credentials file holds a password")
	}
}

func TestParseCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"full", `Digest username="a", realm="r", nonce="n", uri="sip:x", response="00", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"`, true},
		{"escaped quote", `Digest username="a\"b", realm="r", nonce="n", uri="sip:x", response="00"`, true},
		{"comma in quotes", `Digest username="a,b", realm="r", nonce="n", uri="sip:x;a=b,c", response="00"`, true},
		{"missing response", `Digest username="a", realm="r", nonce="n", uri="sip:x"`, false},
		{"duplicate", `Digest username="a", username="b", realm="r", nonce="n", uri="sip:x", response="00"`, false},
		{"unterminated", `Digest username="a, realm="r`, false},
		{"basic", `Basic abc`, false},
		{"oversized", "Digest username=\"" + strings.Repeat("a", 3000) + "\"", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCredentials(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="desk1", realm="conclave", nonce="AAAA", uri="sip:gw@127.0.0.1", response="0123", algorithm=MD5, cnonce="abc", qop=auth, nc=00000001`)
	f.Add(`Digest username="a\"b", realm="r", nonce="n", uri="sip:x", response="00"`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCredentials(s)
		if err != nil {
			return
		}
		// Re-encoding the parsed fields parses back to the same fields.
		q := func(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }
		if strings.Contains(c.Username+c.Realm+c.Nonce+c.URI+c.Response+c.CNonce+c.Algorithm+c.QOP+c.NC, `\`) {
			return // backslashes are not re-escaped by this simple encoder
		}
		re := fmt.Sprintf("Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s, cnonce=%s, algorithm=%s, qop=%s, nc=%s",
			q(c.Username), q(c.Realm), q(c.Nonce), q(c.URI), q(c.Response), q(c.CNonce), q(c.Algorithm), q(c.QOP), q(c.NC))
		c2, err := ParseCredentials(re)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", re, err)
		}
		c.Opaque = ""
		if c2 != c {
			t.Fatalf("round trip %+v -> %+v", c, c2)
		}
	})
}

func TestAllowList(t *testing.T) {
	l, err := ParseAllowList([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a  string
		ok bool
	}{{"10.1.2.3", true}, {"192.0.2.7", true}, {"192.0.2.8", false}, {"::ffff:10.0.0.1", true}, {"2001:db8::1", true}, {"2001:db9::1", false}} {
		if got := l.Contains(netip.MustParseAddr(tc.a)); got != tc.ok {
			t.Errorf("%s: %v", tc.a, got)
		}
	}
	if _, err := ParseAllowList([]string{"nonsense"}); err == nil {
		t.Error("bad entry accepted")
	}
}

func TestFloodLimit(t *testing.T) {
	now := time.Unix(0, 0)
	f := &FloodLimit{Rate: 1, Burst: 3, MaxSources: 2, Now: func() time.Time { return now }}
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	for i := 0; i < 3; i++ {
		if !f.Allow(a) {
			t.Fatalf("burst %d refused", i)
		}
	}
	if f.Allow(a) {
		t.Fatal("4th INVITE in a burst allowed")
	}
	if !f.Allow(b) {
		t.Fatal("other source limited")
	}
	if f.Allow(c) {
		t.Fatal("source table not bounded")
	}
	now = now.Add(3 * time.Second)
	if !f.Allow(a) || !f.Allow(c) {
		t.Fatal("no refill")
	}
}
