package ciphersuite

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// AEADKeySize returns AEAD.Nk in bytes.
func (s *Suite) AEADKeySize() int {
	if s.aeadID == aeadAES128GCM {
		return 16
	}
	return 32
}

// AEADNonceSize returns AEAD.Nn in bytes (12 for every suite).
func (s *Suite) AEADNonceSize() int { return 12 }

// AEADOverhead returns the tag size in bytes (16 for every suite).
func (s *Suite) AEADOverhead() int { return 16 }

// NewAEAD returns the suite's AEAD keyed with key, for callers that encrypt
// several messages under one key.
func (s *Suite) NewAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != s.AEADKeySize() {
		return nil, fmt.Errorf("%w: key of %d bytes, want %d", ErrKeySize, len(key), s.AEADKeySize())
	}
	switch s.aeadID {
	case aeadChaCha20Poly1305:
		a, err := chacha20poly1305.New(key)
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: ChaCha20-Poly1305: %w", err)
		}
		return a, nil
	default:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: AES: %w", err)
		}
		a, err := cipher.NewGCM(b)
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: GCM: %w", err)
		}
		return a, nil
	}
}

// Seal encrypts and authenticates plaintext with aad under key and nonce,
// returning ciphertext||tag in a new slice.
func (s *Suite) Seal(key, nonce, aad, plaintext []byte) ([]byte, error) {
	a, err := s.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrKeySize, len(nonce))
	}
	return a.Seal(nil, nonce, plaintext, aad), nil
}

// Open authenticates and decrypts ciphertext||tag. Any failure to
// authenticate is ErrDecrypt; a wrong key or nonce size is ErrKeySize.
func (s *Suite) Open(key, nonce, aad, ciphertext []byte) ([]byte, error) {
	a, err := s.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrKeySize, len(nonce))
	}
	pt, err := a.Open(nil, nonce, ciphertext, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
