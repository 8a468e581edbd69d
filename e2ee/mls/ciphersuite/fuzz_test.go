package ciphersuite

import (
	"bytes"
	"errors"
	"testing"

	"conclave/internal/vectors"
)

// fuzzSuite maps a fuzzed byte to a suite.
func fuzzSuite(t *testing.T, b uint8) *Suite {
	ids := Supported()
	s, err := New(ids[int(b)%len(ids)])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzVerifyWithLabel feeds network-controlled public keys, contents and
// signatures to VerifyWithLabel. It must never panic, must fail only with
// ErrVerify, and must accept a vector signature only for its exact inputs.
func FuzzVerifyWithLabel(f *testing.F) {
	var vs []cryptoBasics
	vectors.Load(f, "mls", "crypto-basics.json", &vs)
	for _, v := range vs {
		e := v.SignWithLabel
		f.Add(uint8(v.CipherSuite-1), []byte(e.Pub), []byte(e.Content), []byte(e.Signature))
	}
	f.Add(uint8(1), []byte{0x04}, []byte{}, []byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, suite uint8, pub, content, sig []byte) {
		s := fuzzSuite(t, suite)
		err := s.VerifyWithLabel(pub, "SignWithLabel", content, sig)
		if err != nil && !errors.Is(err, ErrVerify) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err != nil {
			return
		}
		// It verified: it must be a vector signature on its own content
		// (suites 1 and 3, and 4 and 6, share a signature scheme).
		for _, v := range vs {
			e := v.SignWithLabel
			if bytes.Equal(pub, e.Pub) && bytes.Equal(content, e.Content) {
				return
			}
		}
		t.Fatalf("%v: a signature verified for inputs no key signed", s)
	})
}

// FuzzDecryptWithLabel feeds network-controlled kem_output and ciphertext to
// DecryptWithLabel under the vector keys. It must never panic, must fail only
// with ErrDecrypt, and may succeed only on the vector's own ciphertext.
func FuzzDecryptWithLabel(f *testing.F) {
	var vs []cryptoBasics
	vectors.Load(f, "mls", "crypto-basics.json", &vs)
	type keyed struct {
		s    *Suite
		priv *HPKEPrivateKey
		v    cryptoBasics
	}
	var keys []keyed
	for _, v := range vs {
		s, err := New(ID(v.CipherSuite))
		if err != nil {
			f.Fatal(err)
		}
		priv, err := s.NewHPKEPrivateKey(v.EncryptWithLabel.Priv)
		if err != nil {
			f.Fatal(err)
		}
		keys = append(keys, keyed{s, priv, v})
		f.Add(uint8(len(keys)-1), []byte(v.EncryptWithLabel.KEMOutput), []byte(v.EncryptWithLabel.Ciphertext))
	}
	f.Fuzz(func(t *testing.T, which uint8, kemOutput, ciphertext []byte) {
		k := keys[int(which)%len(keys)]
		e := k.v.EncryptWithLabel
		pt, err := k.s.DecryptWithLabel(k.priv, e.Label, e.Context, kemOutput, ciphertext)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if !bytes.Equal(kemOutput, e.KEMOutput) || !bytes.Equal(ciphertext, e.Ciphertext) || !bytes.Equal(pt, e.Plaintext) {
			t.Fatalf("%v: forged ciphertext decrypted", k.s)
		}
	})
}
