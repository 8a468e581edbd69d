package ciphersuite

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"

	"github.com/cloudflare/circl/sign/ed448"

	"conclave/e2ee/mls/internal/tls"
)

// SignaturePrivateKey is a signing key of one suite's signature scheme
// (RFC 9420, Section 5.1.2). It never prints its secret: fmt and log/slog show
// only that it is redacted.
type SignaturePrivateKey struct {
	scheme  sigScheme
	pub     []byte
	ed25519 ed25519.PrivateKey
	ed448   ed448.PrivateKey
	ecdsa   *ecdsa.PrivateKey
}

// PublicKey returns the SignaturePublicKey (RFC 9420, Section 5.1.1): the
// RFC 8032 encoding for EdDSA, the uncompressed point for ECDSA.
func (k *SignaturePrivateKey) PublicKey() []byte { return append([]byte(nil), k.pub...) }

// Bytes returns the private key in the form NewSignaturePrivateKey accepts
// (the RFC 8032 seed for EdDSA, the big-endian scalar for ECDSA), for saving
// state. Treat the result as a secret.
func (k *SignaturePrivateKey) Bytes() ([]byte, error) {
	switch k.scheme {
	case sigEd25519:
		return append([]byte(nil), k.ed25519.Seed()...), nil
	case sigEd448:
		return append([]byte(nil), k.ed448.Seed()...), nil
	default:
		b, err := k.ecdsa.Bytes()
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: serialize ECDSA key: %w", err)
		}
		return b, nil
	}
}

// String redacts the key.
func (k *SignaturePrivateKey) String() string { return "SignaturePrivateKey(REDACTED)" }

// Format redacts the key for every fmt verb, including %#v and %x.
func (k *SignaturePrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue redacts the key in log/slog output.
func (k *SignaturePrivateKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

var (
	_ fmt.Stringer   = (*SignaturePrivateKey)(nil)
	_ fmt.Formatter  = (*SignaturePrivateKey)(nil)
	_ slog.LogValuer = (*SignaturePrivateKey)(nil)
)

// ecdsaCurve returns the curves of the ECDSA schemes.
func (s *Suite) ecdsaCurve() (elliptic.Curve, ecdh.Curve) {
	switch s.sig {
	case sigECDSAP256SHA256:
		return elliptic.P256(), ecdh.P256()
	case sigECDSAP384SHA384:
		return elliptic.P384(), ecdh.P384()
	default:
		return elliptic.P521(), ecdh.P521()
	}
}

// scalarSize is the byte length of an ECDSA private scalar.
func (s *Suite) scalarSize() int {
	switch s.sig {
	case sigECDSAP256SHA256:
		return 32
	case sigECDSAP384SHA384:
		return 48
	default:
		return 66
	}
}

// NewSignaturePrivateKey parses a signature private key: a 32-byte Ed25519
// seed, a 57-byte Ed448 seed (RFC 8032) or an ECDSA big-endian scalar of the
// curve's size. A P-521 scalar shorter than 66 bytes is left-padded with
// zeros (encoders that strip leading zero bytes produce them).
func (s *Suite) NewSignaturePrivateKey(raw []byte) (*SignaturePrivateKey, error) {
	switch s.sig {
	case sigEd25519:
		if len(raw) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: Ed25519 seed of %d bytes", ErrPrivateKey, len(raw))
		}
		k := ed25519.NewKeyFromSeed(raw)
		return &SignaturePrivateKey{scheme: s.sig, ed25519: k, pub: append([]byte(nil), k[32:]...)}, nil
	case sigEd448:
		if len(raw) != ed448.SeedSize {
			return nil, fmt.Errorf("%w: Ed448 seed of %d bytes", ErrPrivateKey, len(raw))
		}
		k := ed448.NewKeyFromSeed(raw)
		pub, ok := k.Public().(ed448.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: Ed448 public key", ErrPrivateKey)
		}
		return &SignaturePrivateKey{scheme: s.sig, ed448: k, pub: append([]byte(nil), pub...)}, nil
	default:
		curve, _ := s.ecdsaCurve()
		if s.sig == sigECDSAP521SHA512 {
			raw = leftPad(raw, s.scalarSize())
		}
		k, err := ecdsa.ParseRawPrivateKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrivateKey, err)
		}
		pub, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrivateKey, err)
		}
		return &SignaturePrivateKey{scheme: s.sig, ecdsa: k, pub: pub}, nil
	}
}

// GenerateSignatureKeyPair returns a fresh signing key whose secret is read
// from random: an RFC 8032 seed for EdDSA; for ECDSA a scalar drawn by
// rejection sampling as in RFC 9180, Section 7.1.3 (reading Ns bytes, masking
// P-521's top byte, retrying values that are zero or not below the order).
// A nil random means crypto/rand.Reader.
func (s *Suite) GenerateSignatureKeyPair(random io.Reader) (*SignaturePrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	switch s.sig {
	case sigEd25519:
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(random, seed); err != nil {
			return nil, fmt.Errorf("ciphersuite: generate signature key: %w", err)
		}
		return s.NewSignaturePrivateKey(seed)
	case sigEd448:
		seed := make([]byte, ed448.SeedSize)
		if _, err := io.ReadFull(random, seed); err != nil {
			return nil, fmt.Errorf("ciphersuite: generate signature key: %w", err)
		}
		return s.NewSignaturePrivateKey(seed)
	default:
		_, curve := s.ecdsaCurve()
		b := make([]byte, s.scalarSize())
		for range 255 {
			if _, err := io.ReadFull(random, b); err != nil {
				return nil, fmt.Errorf("ciphersuite: generate signature key: %w", err)
			}
			if s.sig == sigECDSAP521SHA512 {
				b[0] &= 0x01
			}
			// ecdh's NewPrivateKey rejects zero and values >= the order.
			if _, err := curve.NewPrivateKey(b); err != nil {
				continue
			}
			return s.NewSignaturePrivateKey(b)
		}
		return nil, fmt.Errorf("ciphersuite: generate signature key: no valid scalar after 255 tries")
	}
}

// ValidateSignaturePublicKey checks that pub is a well-formed public key of
// the suite's signature scheme.
func (s *Suite) ValidateSignaturePublicKey(pub []byte) error {
	switch s.sig {
	case sigEd25519:
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: Ed25519 key of %d bytes", ErrPublicKey, len(pub))
		}
	case sigEd448:
		if len(pub) != ed448.PublicKeySize {
			return fmt.Errorf("%w: Ed448 key of %d bytes", ErrPublicKey, len(pub))
		}
	default:
		curve, _ := s.ecdsaCurve()
		if _, err := ecdsa.ParseUncompressedPublicKey(curve, pub); err != nil {
			return fmt.Errorf("%w: %v", ErrPublicKey, err)
		}
	}
	return nil
}

// signContent encodes SignContent {opaque label<V> = "MLS 1.0 " + Label;
// opaque content<V>} (RFC 9420, Section 5.1.2).
func signContent(label string, content []byte) ([]byte, error) {
	w := tls.NewWriter(make([]byte, 0, 10+len(mlsLabelPrefix)+len(label)+len(content)))
	w.Varint(uint64(len(mlsLabelPrefix) + len(label)))
	w.Raw([]byte(mlsLabelPrefix))
	w.Raw([]byte(label))
	w.Opaque(content)
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: encode SignContent: %w", err)
	}
	return b, nil
}

// digest hashes msg with the hash of an ECDSA scheme (RFC 8446,
// Section 4.2.3: ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384,
// ecdsa_secp521r1_sha512). For these suites it is also the suite hash.
func (s *Suite) digest(msg []byte) []byte { return s.Hash(msg) }

// SignWithLabel is RFC 9420, Section 5.1.2:
//
//	SignWithLabel(SignatureKey, Label, Content) =
//	    Signature.Sign(SignatureKey, SignContent)
//
// EdDSA signatures are R||S (RFC 8032); ECDSA signatures are DER (RFC 8446).
// Label is given without "MLS 1.0 ".
func (s *Suite) SignWithLabel(priv *SignaturePrivateKey, label string, content []byte) ([]byte, error) {
	if priv == nil || priv.scheme != s.sig {
		return nil, fmt.Errorf("%w: not a signature key of %v", ErrPrivateKey, s.id)
	}
	msg, err := signContent(label, content)
	if err != nil {
		return nil, err
	}
	switch s.sig {
	case sigEd25519:
		return ed25519.Sign(priv.ed25519, msg), nil
	case sigEd448:
		return ed448.Sign(priv.ed448, msg, ""), nil
	default:
		sig, err := ecdsa.SignASN1(rand.Reader, priv.ecdsa, s.digest(msg))
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: ECDSA sign: %w", err)
		}
		return sig, nil
	}
}

// VerifyWithLabel is RFC 9420, Section 5.1.2:
//
//	VerifyWithLabel(VerificationKey, Label, Content, SignatureValue) =
//	    Signature.Verify(VerificationKey, SignContent, SignatureValue)
//
// It returns nil if the signature is valid and ErrVerify otherwise (including
// for a malformed key or signature).
func (s *Suite) VerifyWithLabel(pub []byte, label string, content, signature []byte) error {
	msg, err := signContent(label, content)
	if err != nil {
		return ErrVerify
	}
	ok := false
	switch s.sig {
	case sigEd25519:
		// ed25519.Verify panics on a wrong-size key; check first.
		ok = len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, signature)
	case sigEd448:
		ok = len(pub) == ed448.PublicKeySize && ed448.Verify(pub, msg, signature, "")
	default:
		curve, _ := s.ecdsaCurve()
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, pub)
		ok = err == nil && ecdsa.VerifyASN1(pk, s.digest(msg), signature)
	}
	if !ok {
		return ErrVerify
	}
	return nil
}
