package ciphersuite

import (
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"

	chpke "github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"

	"conclave/e2ee/mls/internal/tls"
)

// HPKEPrivateKey is an HPKE private key of one suite's KEM (RFC 9420,
// Section 5.1). It never prints its secret: fmt and log/slog show only that it
// is redacted.
type HPKEPrivateKey struct {
	kemID uint16
	pub   []byte
	goKey hpke.PrivateKey // X25519 and NIST curves
	x448  kem.PrivateKey  // X448
}

// PublicKey returns the serialized public key (RFC 9180, SerializePublicKey),
// the HPKEPublicKey of RFC 9420, Section 5.1.1.
func (k *HPKEPrivateKey) PublicKey() []byte { return append([]byte(nil), k.pub...) }

// Bytes returns the serialized private key (RFC 9180, SerializePrivateKey),
// for saving group state. Treat the result as a secret.
func (k *HPKEPrivateKey) Bytes() ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if k.x448 != nil {
		b, err = k.x448.MarshalBinary()
	} else {
		b, err = k.goKey.Bytes()
	}
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: serialize HPKE private key: %w", err)
	}
	return b, nil
}

// String redacts the key.
func (k *HPKEPrivateKey) String() string { return "HPKEPrivateKey(REDACTED)" }

// Format redacts the key for every fmt verb, including %#v and %x.
func (k *HPKEPrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue redacts the key in log/slog output.
func (k *HPKEPrivateKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

var (
	_ fmt.Stringer   = (*HPKEPrivateKey)(nil)
	_ fmt.Formatter  = (*HPKEPrivateKey)(nil)
	_ slog.LogValuer = (*HPKEPrivateKey)(nil)
)

// nsk is the KEM's Nsk, the size of a serialized private key (RFC 9180,
// Section 7.1).
func (s *Suite) nsk() int {
	switch s.kemID {
	case kemP256, kemX25519:
		return 32
	case kemP384:
		return 48
	case kemP521:
		return 66
	default: // X448
		return 56
	}
}

// leftPad returns a big-endian integer encoding raw as exactly size bytes
// when it is shorter (and not empty); other lengths are returned unchanged
// for the parser to reject.
func leftPad(raw []byte, size int) []byte {
	if len(raw) == 0 || len(raw) >= size {
		return raw
	}
	out := make([]byte, size)
	copy(out[size-len(raw):], raw)
	return out
}

func (s *Suite) x448Scheme() kem.Scheme { return chpke.KEM_X448_HKDF_SHA512.Scheme() }

func (s *Suite) wrapX448(sk kem.PrivateKey) (*HPKEPrivateKey, error) {
	pub, err := sk.Public().MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPrivateKey, err)
	}
	return &HPKEPrivateKey{kemID: s.kemID, pub: pub, x448: sk}, nil
}

func (s *Suite) wrapGo(sk hpke.PrivateKey) *HPKEPrivateKey {
	return &HPKEPrivateKey{kemID: s.kemID, pub: sk.PublicKey().Bytes(), goKey: sk}
}

// DeriveKeyPair is the KEM's DeriveKeyPair(ikm) (RFC 9180, Section 7.1.3),
// which MLS uses to turn node secrets into node key pairs (RFC 9420,
// Sections 5.1 and 7.4) and external_secret into the external key pair
// (Section 8). ikm may have any length.
func (s *Suite) DeriveKeyPair(ikm []byte) (*HPKEPrivateKey, error) {
	if s.goKEM != nil {
		sk, err := s.goKEM.DeriveKeyPair(ikm)
		if err != nil {
			return nil, fmt.Errorf("ciphersuite: DeriveKeyPair: %w", err)
		}
		return s.wrapGo(sk), nil
	}
	// circl's DeriveKeyPair only accepts an ikm of exactly Nsk bytes, but MLS
	// node secrets are KDF.Nh = 64 bytes, so derive X448 keys here
	// (RFC 9180, Section 7.1.3, X25519/X448 branch).
	raw, err := x448DeriveSecretKey(ikm)
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: DeriveKeyPair: %w", err)
	}
	sk, err := s.x448Scheme().UnmarshalBinaryPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: DeriveKeyPair: %w", err)
	}
	return s.wrapX448(sk)
}

// GenerateHPKEKeyPair returns a fresh key pair: DeriveKeyPair of Nsk bytes
// read from random (RFC 9180, Section 7.1.3 allows any uniform ikm of at least
// Nsk bytes). A nil random means crypto/rand.Reader.
func (s *Suite) GenerateHPKEKeyPair(random io.Reader) (*HPKEPrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	ikm := make([]byte, s.nsk())
	if _, err := io.ReadFull(random, ikm); err != nil {
		return nil, fmt.Errorf("ciphersuite: generate HPKE key: %w", err)
	}
	return s.DeriveKeyPair(ikm)
}

// NewHPKEPrivateKey parses a serialized private key (RFC 9180,
// DeserializePrivateKey) of the suite's KEM. A P-521 scalar shorter than
// its 66-byte serialization is left-padded with zeros: some encoders strip
// the leading zero bytes of the big-endian integer, and the top byte of a
// P-521 scalar is zero half the time.
func (s *Suite) NewHPKEPrivateKey(raw []byte) (*HPKEPrivateKey, error) {
	if s.kemID == kemP521 {
		raw = leftPad(raw, s.nsk())
	}
	if s.goKEM != nil {
		sk, err := s.goKEM.NewPrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPrivateKey, err)
		}
		return s.wrapGo(sk), nil
	}
	sk, err := s.x448Scheme().UnmarshalBinaryPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPrivateKey, err)
	}
	return s.wrapX448(sk)
}

// ValidateHPKEPublicKey checks that pub deserializes as a public key of the
// suite's KEM (RFC 9180, DeserializePublicKey). For X25519 and X448 any
// string of the right length is accepted here; low-order points are rejected
// when encapsulating (RFC 9180, Section 7.1.4).
func (s *Suite) ValidateHPKEPublicKey(pub []byte) error {
	if s.goKEM != nil {
		if _, err := s.goKEM.NewPublicKey(pub); err != nil {
			return fmt.Errorf("%w: %v", ErrPublicKey, err)
		}
		return nil
	}
	if _, err := s.x448Scheme().UnmarshalBinaryPublicKey(pub); err != nil {
		return fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	return nil
}

func (s *Suite) checkKey(priv *HPKEPrivateKey) error {
	if priv == nil || priv.kemID != s.kemID {
		return fmt.Errorf("%w: not a key of %v", ErrPrivateKey, s.id)
	}
	return nil
}

// hpkeContext is an HPKE base-mode context from either implementation.
type hpkeContext struct {
	goS   *hpke.Sender
	goR   *hpke.Recipient
	seal  chpke.Sealer
	open  chpke.Opener
	suite *Suite
}

// setupBaseS is SetupBaseS(pkR, info) of RFC 9180, Section 5.1.1. The
// ephemeral key comes from crypto/rand (see the package documentation).
func (s *Suite) setupBaseS(pub, info []byte) ([]byte, *hpkeContext, error) {
	if s.goKEM != nil {
		pk, err := s.goKEM.NewPublicKey(pub)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrPublicKey, err)
		}
		enc, snd, err := hpke.NewSender(pk, s.goKDF, s.goAEAD, info)
		if err != nil {
			return nil, nil, fmt.Errorf("ciphersuite: HPKE SetupBaseS: %w", err)
		}
		return enc, &hpkeContext{goS: snd, suite: s}, nil
	}
	pk, err := s.x448Scheme().UnmarshalBinaryPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	snd, err := s.circl.NewSender(pk, info)
	if err != nil {
		return nil, nil, fmt.Errorf("ciphersuite: HPKE SetupBaseS: %w", err)
	}
	enc, sealer, err := snd.Setup(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ciphersuite: HPKE SetupBaseS: %w", err)
	}
	return enc, &hpkeContext{seal: sealer, suite: s}, nil
}

// setupBaseR is SetupBaseR(enc, skR, info) of RFC 9180, Section 5.1.1. Any
// failure is ErrDecrypt.
func (s *Suite) setupBaseR(enc []byte, priv *HPKEPrivateKey, info []byte) (*hpkeContext, error) {
	if err := s.checkKey(priv); err != nil {
		return nil, err
	}
	if s.goKEM != nil {
		r, err := hpke.NewRecipient(enc, priv.goKey, s.goKDF, s.goAEAD, info)
		if err != nil {
			return nil, ErrDecrypt
		}
		return &hpkeContext{goR: r, suite: s}, nil
	}
	rcv, err := s.circl.NewReceiver(priv.x448, info)
	if err != nil {
		return nil, ErrDecrypt
	}
	opener, err := rcv.Setup(enc)
	if err != nil {
		return nil, ErrDecrypt
	}
	return &hpkeContext{open: opener, suite: s}, nil
}

func (c *hpkeContext) sealMsg(aad, pt []byte) ([]byte, error) {
	var (
		ct  []byte
		err error
	)
	if c.goS != nil {
		ct, err = c.goS.Seal(aad, pt)
	} else {
		ct, err = c.seal.Seal(pt, aad)
	}
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: HPKE seal: %w", err)
	}
	return ct, nil
}

func (c *hpkeContext) openMsg(aad, ct []byte) ([]byte, error) {
	var (
		pt  []byte
		err error
	)
	if c.goR != nil {
		pt, err = c.goR.Open(aad, ct)
	} else {
		pt, err = c.open.Open(ct, aad)
	}
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (c *hpkeContext) export(exporterContext []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*c.suite.Nh() {
		return nil, fmt.Errorf("%w: HPKE export of %d bytes", ErrLength, length)
	}
	switch {
	case c.goS != nil:
		return c.goS.Export(string(exporterContext), length)
	case c.goR != nil:
		return c.goR.Export(string(exporterContext), length)
	case c.seal != nil:
		return c.seal.Export(exporterContext, uint(length)), nil
	default:
		return c.open.Export(exporterContext, uint(length)), nil
	}
}

// SealBase is single-shot HPKE base-mode encryption (RFC 9180, Section 6.1):
// it returns the encapsulated key enc and the ciphertext.
func (s *Suite) SealBase(pub, info, aad, plaintext []byte) (enc, ciphertext []byte, err error) {
	enc, ctx, err := s.setupBaseS(pub, info)
	if err != nil {
		return nil, nil, err
	}
	ct, err := ctx.sealMsg(aad, plaintext)
	if err != nil {
		return nil, nil, err
	}
	return enc, ct, nil
}

// OpenBase is single-shot HPKE base-mode decryption (RFC 9180, Section 6.1).
// Any failure after the key check is ErrDecrypt.
func (s *Suite) OpenBase(enc []byte, priv *HPKEPrivateKey, info, aad, ciphertext []byte) ([]byte, error) {
	ctx, err := s.setupBaseR(enc, priv, info)
	if err != nil {
		return nil, err
	}
	return ctx.openMsg(aad, ciphertext)
}

// ExportBaseS runs SetupBaseS(pub, info) and returns enc and
// context.export(exporterContext, length) (RFC 9180, Sections 5.1.1 and 5.3).
// MLS uses it for external initialization (RFC 9420, Section 8.3).
func (s *Suite) ExportBaseS(pub, info, exporterContext []byte, length int) (enc, secret []byte, err error) {
	enc, ctx, err := s.setupBaseS(pub, info)
	if err != nil {
		return nil, nil, err
	}
	secret, err = ctx.export(exporterContext, length)
	if err != nil {
		return nil, nil, fmt.Errorf("ciphersuite: HPKE export: %w", err)
	}
	return enc, secret, nil
}

// ExportBaseR runs SetupBaseR(enc, priv, info) and returns
// context.export(exporterContext, length) (RFC 9180, Sections 5.1.1 and 5.3).
func (s *Suite) ExportBaseR(enc []byte, priv *HPKEPrivateKey, info, exporterContext []byte, length int) ([]byte, error) {
	ctx, err := s.setupBaseR(enc, priv, info)
	if err != nil {
		return nil, err
	}
	secret, err := ctx.export(exporterContext, length)
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: HPKE export: %w", err)
	}
	return secret, nil
}

// encryptContext encodes EncryptContext {opaque label<V> = "MLS 1.0 " +
// Label; opaque context<V>} (RFC 9420, Section 5.1.3).
func encryptContext(label string, context []byte) ([]byte, error) {
	w := tls.NewWriter(make([]byte, 0, 10+len(mlsLabelPrefix)+len(label)+len(context)))
	w.Varint(uint64(len(mlsLabelPrefix) + len(label)))
	w.Raw([]byte(mlsLabelPrefix))
	w.Raw([]byte(label))
	w.Opaque(context)
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: encode EncryptContext: %w", err)
	}
	return b, nil
}

// EncryptWithLabel is RFC 9420, Section 5.1.3:
//
//	EncryptWithLabel(PublicKey, Label, Context, Plaintext) =
//	    SealBase(PublicKey, EncryptContext, "", Plaintext)
//
// It returns kem_output and ciphertext. Label is given without "MLS 1.0 ".
func (s *Suite) EncryptWithLabel(pub []byte, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	info, err := encryptContext(label, context)
	if err != nil {
		return nil, nil, err
	}
	return s.SealBase(pub, info, nil, plaintext)
}

// DecryptWithLabel is RFC 9420, Section 5.1.3:
//
//	DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext) =
//	    OpenBase(KEMOutput, PrivateKey, EncryptContext, "", Ciphertext)
//
// Any failure to decrypt is ErrDecrypt.
func (s *Suite) DecryptWithLabel(priv *HPKEPrivateKey, label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	info, err := encryptContext(label, context)
	if err != nil {
		return nil, err
	}
	return s.OpenBase(kemOutput, priv, info, nil, ciphertext)
}
