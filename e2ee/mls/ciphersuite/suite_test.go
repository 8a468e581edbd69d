package ciphersuite

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"testing/cryptotest"

	chpke "github.com/cloudflare/circl/hpke"
)

// detReader is a deterministic byte stream for key generation in tests.
type detReader struct{ n byte }

func (r *detReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n * 31
	}
	return len(p), nil
}

func suites(t *testing.T) []*Suite {
	t.Helper()
	var out []*Suite
	for _, id := range Supported() {
		s, err := New(id)
		if err != nil {
			t.Fatalf("New(%v): %v", id, err)
		}
		out = append(out, s)
	}
	return out
}

func TestNewRejectsUnknown(t *testing.T) {
	for _, id := range []ID{0, 8, 0x0A0A, 0xF000} {
		if _, err := New(id); !errors.Is(err, ErrUnsupportedSuite) {
			t.Errorf("New(%v) err = %v, want ErrUnsupportedSuite", id, err)
		}
	}
}

func TestSuiteParameters(t *testing.T) {
	want := map[ID][3]int{ // Nh, Nk, Nn
		1: {32, 16, 12}, 2: {32, 16, 12}, 3: {32, 32, 12},
		4: {64, 32, 12}, 5: {64, 32, 12}, 6: {64, 32, 12}, 7: {48, 32, 12},
	}
	for _, s := range suites(t) {
		w := want[s.ID()]
		if s.Nh() != w[0] || s.AEADKeySize() != w[1] || s.AEADNonceSize() != w[2] {
			t.Errorf("%v: Nh=%d Nk=%d Nn=%d, want %v", s, s.Nh(), s.AEADKeySize(), s.AEADNonceSize(), w)
		}
	}
}

// TestRoundTrips generates keys for each suite and checks signing, HPKE,
// export and AEAD end to end, with negative cases.
func TestRoundTrips(t *testing.T) {
	for _, s := range suites(t) {
		t.Run(s.String(), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, 1)
			sk, err := s.GenerateSignatureKeyPair(&detReader{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ValidateSignaturePublicKey(sk.PublicKey()); err != nil {
				t.Fatal(err)
			}
			sig, err := s.SignWithLabel(sk, "LeafNodeTBS", []byte("content"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey(), "LeafNodeTBS", []byte("content"), sig); err != nil {
				t.Fatal(err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if err := s.VerifyWithLabel(sk.PublicKey(), "LeafNodeTBS", []byte("content"), bad); !errors.Is(err, ErrVerify) {
				t.Fatalf("flipped signature: %v", err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey()[:5], "LeafNodeTBS", []byte("content"), sig); !errors.Is(err, ErrVerify) {
				t.Fatalf("short key: %v", err)
			}
			// Same reader state gives the same key.
			sk2, err := s.GenerateSignatureKeyPair(&detReader{})
			if err != nil || !bytes.Equal(sk2.PublicKey(), sk.PublicKey()) {
				t.Fatalf("key generation is not deterministic in its reader")
			}

			hk, err := s.GenerateHPKEKeyPair(&detReader{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ValidateHPKEPublicKey(hk.PublicKey()); err != nil {
				t.Fatal(err)
			}
			raw, err := hk.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			hk2, err := s.NewHPKEPrivateKey(raw)
			if err != nil || !bytes.Equal(hk2.PublicKey(), hk.PublicKey()) {
				t.Fatalf("HPKE key does not survive Bytes/NewHPKEPrivateKey: %v", err)
			}
			enc, ct, err := s.EncryptWithLabel(hk.PublicKey(), "UpdatePathNode", []byte("ctx"), []byte("path secret"))
			if err != nil {
				t.Fatal(err)
			}
			pt, err := s.DecryptWithLabel(hk2, "UpdatePathNode", []byte("ctx"), enc, ct)
			if err != nil || string(pt) != "path secret" {
				t.Fatalf("DecryptWithLabel: %q, %v", pt, err)
			}
			ct[0] ^= 1
			if _, err := s.DecryptWithLabel(hk, "UpdatePathNode", []byte("ctx"), enc, ct); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("flipped ciphertext: %v", err)
			}
			if _, err := s.DecryptWithLabel(hk, "UpdatePathNode", []byte("ctx"), enc[:3], ct); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("short kem output: %v", err)
			}

			enc, secretS, err := s.ExportBaseS(hk.PublicKey(), nil, []byte("MLS 1.0 external init secret"), s.Nh())
			if err != nil {
				t.Fatal(err)
			}
			secretR, err := s.ExportBaseR(enc, hk, nil, []byte("MLS 1.0 external init secret"), s.Nh())
			if err != nil || !bytes.Equal(secretS, secretR) || len(secretS) != s.Nh() {
				t.Fatalf("HPKE export mismatch: %x vs %x, %v", secretS, secretR, err)
			}

			key := make([]byte, s.AEADKeySize())
			nonce := make([]byte, s.AEADNonceSize())
			sealed, err := s.Seal(key, nonce, []byte("aad"), []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Open(key, nonce, []byte("aad"), sealed); err != nil || string(got) != "hello" {
				t.Fatalf("Open: %q, %v", got, err)
			}
			if _, err := s.Open(key, nonce, []byte("aaD"), sealed); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong aad: %v", err)
			}
			if _, err := s.Seal(key[:5], nonce, nil, nil); !errors.Is(err, ErrKeySize) {
				t.Fatalf("short key: %v", err)
			}
		})
	}
}

func TestKeysFromOtherSuiteRejected(t *testing.T) {
	s1, _ := New(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	s2, _ := New(MLS128DHKEMP256AES128GCMSHA256P256)
	hk, err := s1.GenerateHPKEKeyPair(&detReader{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.DecryptWithLabel(hk, "x", nil, make([]byte, 65), make([]byte, 20)); !errors.Is(err, ErrPrivateKey) {
		t.Fatalf("foreign HPKE key: %v", err)
	}
	sk, err := s1.GenerateSignatureKeyPair(&detReader{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.SignWithLabel(sk, "x", nil); !errors.Is(err, ErrPrivateKey) {
		t.Fatalf("foreign signature key: %v", err)
	}
}

// TestX448DeriveMatchesCircl checks our X448 DeriveKeyPair against circl's on
// the one input length circl accepts.
func TestX448DeriveMatchesCircl(t *testing.T) {
	s, _ := New(MLS256DHKEMX448AES256GCMSHA512Ed448)
	seed := bytes.Repeat([]byte{7}, 56)
	pub, _ := chpke.KEM_X448_HKDF_SHA512.Scheme().DeriveKeyPair(seed)
	want, _ := pub.MarshalBinary()
	k, err := s.DeriveKeyPair(seed)
	if err != nil || !bytes.Equal(k.PublicKey(), want) {
		t.Fatalf("got %x, %v; want %x", k.PublicKey(), err, want)
	}
	// 64-byte node secrets (KDF.Nh of SHA-512) must work too.
	if _, err := s.DeriveKeyPair(bytes.Repeat([]byte{7}, sha512.Size)); err != nil {
		t.Fatal(err)
	}
}

func TestExpandLimits(t *testing.T) {
	s, _ := New(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	for _, n := range []int{-1, 255*32 + 1, 70000} {
		if _, err := s.ExpandWithLabel(make([]byte, 32), "x", nil, n); !errors.Is(err, ErrLength) {
			t.Errorf("length %d: err = %v, want ErrLength", n, err)
		}
	}
	if out, err := s.ExpandWithLabel(make([]byte, 32), "x", nil, 255*32); err != nil || len(out) != 255*32 {
		t.Errorf("max length: %d bytes, %v", len(out), err)
	}
}

func TestMAC(t *testing.T) {
	for _, s := range suites(t) {
		tag := s.MAC([]byte("key"), []byte("data"))
		if len(tag) != s.HashSize() || !s.VerifyMAC([]byte("key"), []byte("data"), tag) {
			t.Fatalf("%v: MAC does not verify", s)
		}
		tag[0] ^= 1
		if s.VerifyMAC([]byte("key"), []byte("data"), tag) {
			t.Fatalf("%v: flipped MAC verifies", s)
		}
	}
}

// TestPrivateKeysRedact checks that no fmt verb or slog handler prints key
// material.
func TestPrivateKeysRedact(t *testing.T) {
	s, _ := New(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	hk, _ := s.GenerateHPKEKeyPair(&detReader{})
	sk, _ := s.GenerateSignatureKeyPair(&detReader{})
	hraw, _ := hk.Bytes()
	sraw, _ := sk.Bytes()
	for _, tc := range []struct {
		name string
		key  any
		raw  []byte
	}{{"hpke", hk, hraw}, {"signature", sk, sraw}} {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("k", "key", tc.key)
			outs := []string{
				fmt.Sprint(tc.key), fmt.Sprintf("%v %+v %#v %x %X %s %q", tc.key, tc.key, tc.key, tc.key, tc.key, tc.key, tc.key),
				logged.String(),
			}
			for _, out := range outs {
				for _, enc := range []string{fmt.Sprintf("%x", tc.raw), fmt.Sprintf("%X", tc.raw), fmt.Sprint(tc.raw)} {
					if strings.Contains(out, enc) {
						t.Fatalf("secret leaked in %q", out)
					}
				}
				if !strings.Contains(out, "REDACTED") {
					t.Fatalf("output %q does not say REDACTED", out)
				}
			}
		})
	}
}

// TestShortP521Scalars checks that P-521 private keys whose leading zero
// bytes were stripped parse as the same key, for HPKE and ECDSA alike, and
// that other suites keep insisting on the exact size.
func TestShortP521Scalars(t *testing.T) {
	s, err := New(MLS256DHKEMP521AES256GCMSHA512P521)
	if err != nil {
		t.Fatal(err)
	}
	// Find keys whose serialization starts with a zero byte (half of all
	// P-521 scalars do), drawing from a seeded deterministic stream.
	r := mrand.NewChaCha8([32]byte{'p', '5', '2', '1'})
	var hk *HPKEPrivateKey
	var hraw []byte
	for hk == nil {
		k, err := s.GenerateHPKEKeyPair(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 66 {
			t.Fatalf("HPKE P-521 key serialized as %d bytes, want 66", len(b))
		}
		if b[0] == 0 {
			hk, hraw = k, b
		}
	}
	var sk *SignaturePrivateKey
	var sraw []byte
	for sk == nil {
		k, err := s.GenerateSignatureKeyPair(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 66 {
			t.Fatalf("ECDSA P-521 key serialized as %d bytes, want 66", len(b))
		}
		if b[0] == 0 {
			sk, sraw = k, b
		}
	}
	trimmed := func(b []byte) []byte {
		i := 0
		for i < len(b)-1 && b[i] == 0 {
			i++
		}
		return b[i:]
	}
	t.Run("hpke", func(t *testing.T) {
		short := trimmed(hraw)
		if len(short) >= 66 {
			t.Fatalf("trimmed key still %d bytes", len(short))
		}
		got, err := s.NewHPKEPrivateKey(short)
		if err != nil {
			t.Fatalf("NewHPKEPrivateKey(%d bytes): %v", len(short), err)
		}
		if !bytes.Equal(got.PublicKey(), hk.PublicKey()) {
			t.Fatal("short HPKE key parsed as a different key")
		}
		if b, _ := got.Bytes(); !bytes.Equal(b, hraw) {
			t.Fatal("short HPKE key does not serialize back to 66 bytes")
		}
		if _, err := s.NewHPKEPrivateKey(nil); !errors.Is(err, ErrPrivateKey) {
			t.Fatalf("empty key: %v", err)
		}
		if _, err := s.NewHPKEPrivateKey(append([]byte{0}, hraw...)); !errors.Is(err, ErrPrivateKey) {
			t.Fatalf("67-byte key: %v", err)
		}
	})
	t.Run("ecdsa", func(t *testing.T) {
		short := trimmed(sraw)
		got, err := s.NewSignaturePrivateKey(short)
		if err != nil {
			t.Fatalf("NewSignaturePrivateKey(%d bytes): %v", len(short), err)
		}
		if !bytes.Equal(got.PublicKey(), sk.PublicKey()) {
			t.Fatal("short ECDSA key parsed as a different key")
		}
		if _, err := s.NewSignaturePrivateKey(nil); !errors.Is(err, ErrPrivateKey) {
			t.Fatalf("empty key: %v", err)
		}
	})
	t.Run("other suites exact", func(t *testing.T) {
		p256, err := New(MLS128DHKEMP256AES128GCMSHA256P256)
		if err != nil {
			t.Fatal(err)
		}
		k, err := p256.GenerateHPKEKeyPair(&detReader{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.Bytes()
		if _, err := p256.NewHPKEPrivateKey(b[1:]); !errors.Is(err, ErrPrivateKey) {
			t.Fatalf("31-byte P-256 key: %v", err)
		}
	})
}
