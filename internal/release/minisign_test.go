package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A throw-away key pair and signature made with the stock minisign 0.11
// (Debian's package), to show that the formats agree:
//
//	minisign -G -W -p k.pub -s k.sec
//	printf 'abc  file\n' > SHA256SUMS
//	minisign -S -s k.sec -m SHA256SUMS -t 'conclave test vector'
//
// The reverse direction was checked by hand: `minisign -V` accepts the
// signatures Sign makes, and `minisign -S` signs with keys Marshal writes.
const (
	minisignPub = "untrusted comment: minisign public key 276413CF2EEE2B3D\n" +
		"RWQ9K+4uzxNkJ7DKZWt7eBD5iusCrGEpuJREiXoIl62KLLUuJMHvTzwk\n"
	minisignSec = "untrusted comment: minisign encrypted secret key\n" +
		"RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPSvuLs8TZCdFtmeDOuPHWLrwR/XBfVMRyY9jsOLpA8wJX9WCIgtlDbDKZWt7eBD5iusCrGEpuJREiXoIl62KLLUuJMHvTzwkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	minisignMsg = "abc  file\n"
	minisignSig = "untrusted comment: signature from minisign secret key\n" +
		"RUQ9K+4uzxNkJ7ZR4AQI+KdPyq96Bp/TAGM3G7KtUfkgtBhDyWcWrBflz4vRMkbYhs3MDMpzD9zQ8DKY5LrwnNetlGPhSXq2ygU=\n" +
		"trusted comment: conclave test vector\n" +
		"WlA/BqGiRrMbDNCK7SeEAaOrUWI0tdQB1t47XmWnYosGGxCAIi7ndIlouYNOtcSzVtRTpU2/a1Olh1CTJu+UAw==\n"
)

func TestMinisignVector(t *testing.T) {
	pub, err := ParsePublicKey([]byte(minisignPub))
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID.String() != "276413CF2EEE2B3D" {
		t.Fatalf("key id %s", pub.ID)
	}
	comment, err := Verify(pub, []byte(minisignMsg), []byte(minisignSig))
	if err != nil || comment != "conclave test vector" {
		t.Fatalf("minisign's signature: %q %v", comment, err)
	}
	if _, err := Verify(pub, []byte("abd  file\n"), []byte(minisignSig)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed message: %v", err)
	}
	sec, err := ParseSecretKey([]byte(minisignSec))
	if err != nil {
		t.Fatalf("minisign -W secret key: %v", err)
	}
	if sec.ID != pub.ID || !bytes.Equal(sec.Public().Key, pub.Key) {
		t.Fatal("secret key does not match its public key")
	}
	// Our signature with minisign's key verifies with minisign's public key.
	sig, err := Sign(sec, []byte(minisignMsg), "ours")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := Verify(pub, []byte(minisignMsg), sig); err != nil || c != "ours" {
		t.Fatalf("%q %v", c, err)
	}
	if string(pub.Marshal()) != minisignPub || pub.Base64()+"\n" != strings.SplitN(minisignPub, "\n", 2)[1] {
		t.Fatalf("public key file differs from minisign's:\n%s", pub.Marshal())
	}
}

func TestSignVerify(t *testing.T) {
	sk, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("0123  conclave-linux-amd64\n")
	sig, err := Sign(sk, msg, "conclave 0.1.0 commit abc")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Sign(sk, msg, "conclave 0.1.0 commit abc")
	if !bytes.Equal(sig, again) {
		t.Fatal("signing is not deterministic")
	}
	lines := strings.Split(string(sig), "\n")
	swapComment := strings.Join([]string{lines[0], lines[1], "trusted comment: conclave 9.9.9", lines[3], ""}, "\n")
	legacy := func() []byte { // an "Ed" (not prehashed) signature, as older minisign makes
		s := ed25519.Sign(sk.Key, msg)
		g := ed25519.Sign(sk.Key, append(bytes.Clone(s), "legacy"...))
		line := append(append([]byte("Ed"), sk.ID[:]...), s...)
		return []byte("untrusted comment: x\n" + base64.StdEncoding.EncodeToString(line) + "\ntrusted comment: legacy\n" + base64.StdEncoding.EncodeToString(g) + "\n")
	}()
	cases := []struct {
		name string
		key  PublicKey
		msg  []byte
		sig  []byte
		want error
	}{
		{"good", sk.Public(), msg, sig, nil},
		{"legacy Ed", sk.Public(), msg, legacy, nil},
		{"changed message", sk.Public(), []byte("0124  conclave-linux-amd64\n"), sig, ErrBadSignature},
		{"changed trusted comment", sk.Public(), msg, []byte(swapComment), ErrBadSignature},
		{"other key", other.Public(), msg, sig, ErrKeyMismatch},
		{"other key, same id", PublicKey{ID: sk.ID, Key: other.Public().Key}, msg, sig, ErrBadSignature},
		{"truncated", sk.Public(), msg, sig[:len(sig)/2], ErrMalformed},
		{"empty", sk.Public(), msg, nil, ErrMalformed},
		{"huge", sk.Public(), msg, bytes.Repeat([]byte("a"), MaxFile+1), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.key, c.msg, c.sig)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
	if _, err := Sign(sk, msg, "two\nlines"); err == nil {
		t.Fatal("multi-line trusted comment accepted")
	}
	// Key files round trip; a tampered checksum or an encrypted key is refused.
	back, err := ParseSecretKey(sk.Marshal())
	if err != nil || back.ID != sk.ID || !bytes.Equal(back.Key, sk.Key) {
		t.Fatalf("secret key round trip: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.Split(string(sk.Marshal()), "\n")[1])
	bad := bytes.Clone(raw)
	bad[len(bad)-1] ^= 1
	if _, err := ParseSecretKey([]byte("untrusted comment: x\n" + base64.StdEncoding.EncodeToString(bad) + "\n")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad checksum: %v", err)
	}
	enc := bytes.Clone(raw)
	copy(enc[2:4], "Sc")
	if _, err := ParseSecretKey([]byte("untrusted comment: x\n" + base64.StdEncoding.EncodeToString(enc) + "\n")); !errors.Is(err, ErrEncryptedKey) {
		t.Fatalf("encrypted key: %v", err)
	}
}

func TestSignVerifyDir(t *testing.T) {
	sk, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		for name, body := range map[string]string{"conclave-linux-amd64": "binary a", "conclave-linux-arm64": "binary b", "BUILDINFO": "commit x\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := SignDir(dir, sk, "conclave test"); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("good", func(t *testing.T) {
		dir := setup(t)
		comment, names, err := VerifyDir(dir, sk.Public())
		if err != nil || comment != "conclave test" || strings.Join(names, ",") != "BUILDINFO,conclave-linux-amd64,conclave-linux-arm64" {
			t.Fatalf("%q %v %v", comment, names, err)
		}
		sums, _ := os.ReadFile(filepath.Join(dir, SumsFile))
		// sha256sum's own format: "<hex>  <name>".
		if !strings.Contains(string(sums), "  conclave-linux-amd64\n") {
			t.Fatalf("sums:\n%s", sums)
		}
	})
	tamper := []struct {
		name string
		do   func(dir string) error
		want error
	}{
		{"changed binary", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "conclave-linux-amd64"), []byte("binary A"), 0o644)
		}, ErrSumMismatch},
		{"changed sums", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Repeat("0", 64)+"  BUILDINFO\n"), 0o644)
		}, ErrBadSignature},
		{"unlisted file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "extra"), []byte("x"), 0o644)
		}, nil},
		{"missing file", func(dir string) error { return os.Remove(filepath.Join(dir, "BUILDINFO")) }, os.ErrNotExist},
	}
	for _, c := range tamper {
		t.Run(c.name, func(t *testing.T) {
			dir := setup(t)
			if err := c.do(dir); err != nil {
				t.Fatal(err)
			}
			_, _, err := VerifyDir(dir, sk.Public())
			if err == nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("VerifyDir after %s: %v, want %v", c.name, err, c.want)
			}
		})
	}
}

// FuzzVerify: no input panics, and only the exact signature verifies: a
// fuzzed file that verifies carries the original signatures and comment.
func FuzzVerify(f *testing.F) {
	pub, err := ParsePublicKey([]byte(minisignPub))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(minisignSig))
	f.Add([]byte(minisignPub))
	f.Add([]byte(minisignSec))
	f.Add([]byte(strings.ReplaceAll(minisignSig, "\n", "\r\n")))
	f.Fuzz(func(t *testing.T, sig []byte) {
		comment, err := Verify(pub, []byte(minisignMsg), sig)
		if err != nil {
			return
		}
		want := strings.Split(minisignSig, "\n")
		got := strings.Split(strings.ReplaceAll(string(sig), "\r\n", "\n"), "\n")
		if comment != "conclave test vector" || got[1] != want[1] || got[3] != want[3] {
			t.Fatalf("a different signature file verified: %q", sig)
		}
	})
}

// FuzzParseKeys: no input panics, and parsed keys marshal back to what
// parses to the same key.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(minisignPub))
	f.Add([]byte(minisignSec))
	f.Add([]byte(strings.SplitN(minisignPub, "\n", 2)[1]))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParsePublicKey(b); err == nil {
			q, err := ParsePublicKey(p.Marshal())
			if err != nil || q.ID != p.ID || !bytes.Equal(q.Key, p.Key) {
				t.Fatalf("public key round trip: %v", err)
			}
		}
		if s, err := ParseSecretKey(b); err == nil {
			q, err := ParseSecretKey(s.Marshal())
			if err != nil || q.ID != s.ID || !bytes.Equal(q.Key, s.Key) {
				t.Fatalf("secret key round trip: %v", err)
			}
		}
	})
}
