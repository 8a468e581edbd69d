package ciphersuite

import (
	"testing"
)

// Benchmarks of the primitives that dominate commit creation and processing
// (one DeriveKeyPair and one HPKE seal/open per path node, one signature per
// commit) and message protection (AEAD).
func BenchmarkSuites(b *testing.B) {
	for _, id := range Supported() {
		s, err := New(id)
		if err != nil {
			b.Fatal(err)
		}
		secret := make([]byte, s.Nh())
		hk, err := s.DeriveKeyPair(secret)
		if err != nil {
			b.Fatal(err)
		}
		sk, err := s.GenerateSignatureKeyPair(&detReader{})
		if err != nil {
			b.Fatal(err)
		}
		content := make([]byte, 256)
		sig, err := s.SignWithLabel(sk, "FramedContentTBS", content)
		if err != nil {
			b.Fatal(err)
		}
		kemOut, ct, err := s.EncryptWithLabel(hk.PublicKey(), "UpdatePathNode", content, secret)
		if err != nil {
			b.Fatal(err)
		}
		name := func(op string) string { return op + "/" + id.String() }

		b.Run(name("ExpandWithLabel"), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ExpandWithLabel(secret, "tree", []byte("left"), s.Nh()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("DeriveKeyPair"), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.DeriveKeyPair(secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("EncryptWithLabel"), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.EncryptWithLabel(hk.PublicKey(), "UpdatePathNode", content, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("DecryptWithLabel"), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.DecryptWithLabel(hk, "UpdatePathNode", content, kemOut, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("SignWithLabel"), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SignWithLabel(sk, "FramedContentTBS", content); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name("VerifyWithLabel"), func(b *testing.B) {
			for b.Loop() {
				if err := s.VerifyWithLabel(sk.PublicKey(), "FramedContentTBS", content, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		key, nonce, msg := make([]byte, s.AEADKeySize()), make([]byte, s.AEADNonceSize()), make([]byte, 1024)
		b.Run(name("Seal1K"), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := s.Seal(key, nonce, nil, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
