package srtp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

// From RFC 4568, Section 9.1 (the key is the RFC's example).
const rfcExample = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"

func TestParseCrypto(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"rfc example with MKI", rfcExample, ErrCrypto},
		{"lifetime only", "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31", nil},
		{"plain 32", "2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", nil},
		{"unknown suite", "3 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", ErrNoSuite},
		{"short key", "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkp", ErrCrypto},
		{"unencrypted", "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP", ErrCrypto},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", ErrCrypto},
		{"not inline", "1 AES_CM_128_HMAC_SHA1_80 uri:x", ErrCrypto},
		{"bad tag", "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", ErrCrypto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCrypto(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && len(c.Key) != 30 {
				t.Fatalf("key of %d bytes", len(c.Key))
			}
		})
	}
}

func TestChoosePrefersStrongest(t *testing.T) {
	remote, local, err := Choose(nil, []string{
		"1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"3 NOPE inline:x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if remote.Tag != 2 || local.Tag != 2 || local.Suite != remote.Suite {
		t.Fatalf("chose %v / %v", remote, local)
	}
	if bytes.Equal(local.Key, remote.Key) {
		t.Fatal("local key copies the remote one")
	}
	if _, _, err := Choose(nil, []string{"3 NOPE inline:x"}); !errors.Is(err, ErrNoSuite) {
		t.Fatalf("no supported suite: %v", err)
	}
}

func TestSessionRoundTripAndTamper(t *testing.T) {
	for _, suite := range []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AES_256_CM_HMAC_SHA1_80"} {
		t.Run(suite, func(t *testing.T) {
			a, _ := NewLocal(nil, 1, suite)
			b, _ := NewLocal(nil, 1, suite)
			alice, err := NewSession(a, b)
			if err != nil {
				t.Fatal(err)
			}
			bob, err := NewSession(b, a)
			if err != nil {
				t.Fatal(err)
			}
			pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 42}, Payload: []byte("hello audio")}).Marshal()
			enc, err := alice.ProtectRTP(nil, pkt)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte("hello")) {
				t.Fatal("payload in the clear")
			}
			tampered := append([]byte(nil), enc...)
			tampered[len(tampered)-1] ^= 1
			if _, err := bob.UnprotectRTP(nil, tampered); err == nil {
				t.Fatal("tampered packet accepted")
			}
			dec, err := bob.UnprotectRTP(nil, enc)
			if err != nil || !bytes.Equal(dec, pkt) {
				t.Fatalf("decrypt: %v", err)
			}
			if _, err := bob.UnprotectRTP(nil, enc); err == nil {
				t.Fatal("replayed packet accepted")
			}
		})
	}
}

func FuzzParseCrypto(f *testing.F) {
	f.Add(rfcExample)
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
	f.Add("1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBRMTIzNDU=")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCrypto(s)
		if err != nil {
			return
		}
		// What we accept round-trips through our own encoding.
		c2, err := ParseCrypto(c.String())
		if err != nil || c2.Tag != c.Tag || c2.Suite != c.Suite || !bytes.Equal(c2.Key, c.Key) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
