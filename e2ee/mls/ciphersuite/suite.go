package ciphersuite

import (
	"crypto"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	chpke "github.com/cloudflare/circl/hpke"
)

// ID is an MLS CipherSuite value (RFC 9420, Section 17.1).
type ID uint16

// The cipher suites of RFC 9420, Section 17.1.
const (
	MLS128DHKEMX25519AES128GCMSHA256Ed25519        ID = 0x0001
	MLS128DHKEMP256AES128GCMSHA256P256             ID = 0x0002
	MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519 ID = 0x0003
	MLS256DHKEMX448AES256GCMSHA512Ed448            ID = 0x0004
	MLS256DHKEMP521AES256GCMSHA512P521             ID = 0x0005
	MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448     ID = 0x0006
	MLS256DHKEMP384AES256GCMSHA384P384             ID = 0x0007
)

// Supported returns every cipher suite this package implements, in ID order.
func Supported() []ID {
	return []ID{
		MLS128DHKEMX25519AES128GCMSHA256Ed25519,
		MLS128DHKEMP256AES128GCMSHA256P256,
		MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519,
		MLS256DHKEMX448AES256GCMSHA512Ed448,
		MLS256DHKEMP521AES256GCMSHA512P521,
		MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448,
		MLS256DHKEMP384AES256GCMSHA384P384,
	}
}

// String returns the registry name of the suite (RFC 9420, Section 17.1).
func (id ID) String() string {
	switch id {
	case MLS128DHKEMX25519AES128GCMSHA256Ed25519:
		return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
	case MLS128DHKEMP256AES128GCMSHA256P256:
		return "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
	case MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519:
		return "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
	case MLS256DHKEMX448AES256GCMSHA512Ed448:
		return "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"
	case MLS256DHKEMP521AES256GCMSHA512P521:
		return "MLS_256_DHKEMP521_AES256GCM_SHA512_P521"
	case MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448:
		return "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"
	case MLS256DHKEMP384AES256GCMSHA384P384:
		return "MLS_256_DHKEMP384_AES256GCM_SHA384_P384"
	default:
		return fmt.Sprintf("CipherSuite(0x%04x)", uint16(id))
	}
}

// HPKE algorithm identifiers (RFC 9180, Section 7).
const (
	kemP256   uint16 = 0x0010
	kemP384   uint16 = 0x0011
	kemP521   uint16 = 0x0012
	kemX25519 uint16 = 0x0020
	kemX448   uint16 = 0x0021

	aeadAES128GCM        uint16 = 0x0001
	aeadAES256GCM        uint16 = 0x0002
	aeadChaCha20Poly1305 uint16 = 0x0003
)

// sigScheme is the suite's TLS signature scheme (RFC 9420, Section 17.1).
type sigScheme int

const (
	sigEd25519 sigScheme = iota + 1
	sigECDSAP256SHA256
	sigECDSAP384SHA384
	sigECDSAP521SHA512
	sigEd448
)

// Suite holds the algorithms of one MLS cipher suite. It is immutable and safe
// for concurrent use; get one with New.
type Suite struct {
	id      ID
	hash    crypto.Hash
	newHash func() hash.Hash
	kemID   uint16
	aeadID  uint16
	sig     sigScheme

	// Standard-library HPKE (X25519, P-256, P-384, P-521); goKEM is nil for
	// X448.
	goKEM  hpke.KEM
	goKDF  hpke.KDF
	goAEAD hpke.AEAD
	// circl HPKE, used only for X448.
	circl chpke.Suite
	// ecdh curve for the KEM (nil for X448).
	curve ecdh.Curve
}

// New returns the Suite for id, or ErrUnsupportedSuite.
func New(id ID) (*Suite, error) {
	s := &Suite{id: id}
	switch id {
	case MLS128DHKEMX25519AES128GCMSHA256Ed25519, MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519:
		s.hash, s.newHash = crypto.SHA256, sha256.New
		s.kemID, s.curve, s.goKDF = kemX25519, ecdh.X25519(), hpke.HKDFSHA256()
		s.sig = sigEd25519
		if id == MLS128DHKEMX25519AES128GCMSHA256Ed25519 {
			s.aeadID, s.goAEAD = aeadAES128GCM, hpke.AES128GCM()
		} else {
			s.aeadID, s.goAEAD = aeadChaCha20Poly1305, hpke.ChaCha20Poly1305()
		}
	case MLS128DHKEMP256AES128GCMSHA256P256:
		s.hash, s.newHash = crypto.SHA256, sha256.New
		s.kemID, s.curve, s.goKDF = kemP256, ecdh.P256(), hpke.HKDFSHA256()
		s.aeadID, s.goAEAD = aeadAES128GCM, hpke.AES128GCM()
		s.sig = sigECDSAP256SHA256
	case MLS256DHKEMX448AES256GCMSHA512Ed448, MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448:
		s.hash, s.newHash = crypto.SHA512, sha512.New
		s.kemID = kemX448
		s.sig = sigEd448
		if id == MLS256DHKEMX448AES256GCMSHA512Ed448 {
			s.aeadID = aeadAES256GCM
			s.circl = chpke.NewSuite(chpke.KEM_X448_HKDF_SHA512, chpke.KDF_HKDF_SHA512, chpke.AEAD_AES256GCM)
		} else {
			s.aeadID = aeadChaCha20Poly1305
			s.circl = chpke.NewSuite(chpke.KEM_X448_HKDF_SHA512, chpke.KDF_HKDF_SHA512, chpke.AEAD_ChaCha20Poly1305)
		}
	case MLS256DHKEMP521AES256GCMSHA512P521:
		s.hash, s.newHash = crypto.SHA512, sha512.New
		s.kemID, s.curve, s.goKDF = kemP521, ecdh.P521(), hpke.HKDFSHA512()
		s.aeadID, s.goAEAD = aeadAES256GCM, hpke.AES256GCM()
		s.sig = sigECDSAP521SHA512
	case MLS256DHKEMP384AES256GCMSHA384P384:
		s.hash, s.newHash = crypto.SHA384, sha512.New384
		s.kemID, s.curve, s.goKDF = kemP384, ecdh.P384(), hpke.HKDFSHA384()
		s.aeadID, s.goAEAD = aeadAES256GCM, hpke.AES256GCM()
		s.sig = sigECDSAP384SHA384
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedSuite, id)
	}
	if s.curve != nil {
		s.goKEM = hpke.DHKEM(s.curve)
	}
	return s, nil
}

// ID returns the suite's identifier.
func (s *Suite) ID() ID { return s.id }

// String returns the suite's registry name.
func (s *Suite) String() string { return s.id.String() }

// HashSize returns the output size of the suite's hash in bytes.
func (s *Suite) HashSize() int { return s.hash.Size() }

// NewHash returns a new hash.Hash of the suite's hash function, for example
// to compute a transcript hash incrementally (RFC 9420, Section 8.2).
func (s *Suite) NewHash() hash.Hash { return s.newHash() }

// Hash returns the suite's hash of data.
func (s *Suite) Hash(data []byte) []byte {
	h := s.newHash()
	h.Write(data)
	return h.Sum(nil)
}
