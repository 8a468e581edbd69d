package sframe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strconv"
)

// CipherSuite is an SFrame cipher suite identifier (RFC 9605, Section 4.5 and
// the IANA registry of Section 8.1).
type CipherSuite uint16

// The five cipher suites of RFC 9605, Section 4.5.
const (
	AES128CTRHMACSHA256_80 CipherSuite = 0x0001
	AES128CTRHMACSHA256_64 CipherSuite = 0x0002
	AES128CTRHMACSHA256_32 CipherSuite = 0x0003
	AES128GCMSHA256_128    CipherSuite = 0x0004
	AES256GCMSHA512_128    CipherSuite = 0x0005
)

// nonceSize is AEAD.Nn, 12 bytes for every suite of RFC 9605, Section 4.5.
const nonceSize = 12

// suiteParams holds the constants of RFC 9605, Section 4.5, Table 2.
type suiteParams struct {
	name string
	nh   int // Hash.Nh
	nka  int // AEAD.Nka, 0 for GCM suites
	nk   int // AEAD.Nk
	nt   int // AEAD.Nt
}

func (s CipherSuite) params() (suiteParams, bool) {
	switch s {
	case AES128CTRHMACSHA256_80:
		return suiteParams{"AES_128_CTR_HMAC_SHA256_80", 32, 16, 48, 10}, true
	case AES128CTRHMACSHA256_64:
		return suiteParams{"AES_128_CTR_HMAC_SHA256_64", 32, 16, 48, 8}, true
	case AES128CTRHMACSHA256_32:
		return suiteParams{"AES_128_CTR_HMAC_SHA256_32", 32, 16, 48, 4}, true
	case AES128GCMSHA256_128:
		return suiteParams{"AES_128_GCM_SHA256_128", 32, 0, 16, 16}, true
	case AES256GCMSHA512_128:
		return suiteParams{"AES_256_GCM_SHA512_128", 64, 0, 32, 16}, true
	}
	return suiteParams{}, false
}

// String returns the RFC 9605 name of the suite.
func (s CipherSuite) String() string {
	if p, ok := s.params(); ok {
		return p.name
	}
	return "CipherSuite(0x" + strconv.FormatUint(uint64(s), 16) + ")"
}

// Valid reports whether s is one of the five suites of RFC 9605, Section 4.5.
func (s CipherSuite) Valid() bool { _, ok := s.params(); return ok }

// KeySize is AEAD.Nk, the length of the base keys and SFrame keys of s.
func (s CipherSuite) KeySize() int { p, _ := s.params(); return p.nk }

// TagSize is AEAD.Nt, the bytes the AEAD adds to each frame.
func (s CipherSuite) TagSize() int { p, _ := s.params(); return p.nt }

// Overhead is the most an encrypted frame can exceed its plaintext by:
// the longest header plus the tag.
func (s CipherSuite) Overhead() int { return MaxHeaderSize + s.TagSize() }

// hash returns the suite's hash for HKDF (RFC 9605, Section 4.4.2).
func (s CipherSuite) hash() func() hash.Hash {
	if s == AES256GCMSHA512_128 {
		return sha512.New
	}
	return sha256.New
}

// newAEAD builds the suite's AEAD from an sframe_key of KeySize bytes.
// For the CTR suites the key splits into enc_key || auth_key (Section 4.5.1).
func (s CipherSuite) newAEAD(key []byte) (cipher.AEAD, error) {
	p, ok := s.params()
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedSuite, s)
	}
	if len(key) != p.nk {
		return nil, fmt.Errorf("%w: %v key is %d bytes, want %d", ErrBadKey, s, len(key), p.nk)
	}
	if p.nka == 0 {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("sframe: %v: %w", s, err)
		}
		return cipher.NewGCM(block)
	}
	return newCTRHMAC(key[:p.nka], key[p.nka:], p.nt)
}
