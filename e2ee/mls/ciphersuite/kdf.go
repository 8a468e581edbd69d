package ciphersuite

import (
	"crypto/hkdf"
	"crypto/hmac"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// mlsLabelPrefix is prepended to every MLS label (RFC 9420, Sections 5.1.2,
// 5.1.3 and 8).
const mlsLabelPrefix = "MLS 1.0 "

// Nh returns KDF.Nh, the output size of KDF.Extract in bytes (RFC 9420,
// Section 8). For every suite of Section 17.1 it equals the hash size.
func (s *Suite) Nh() int { return s.hash.Size() }

// Extract is KDF.Extract(salt, ikm), HKDF-Extract of RFC 5869, Section 2.2:
// HMAC-Hash(salt, ikm). An empty salt is equivalent to Nh zero bytes.
func (s *Suite) Extract(salt, ikm []byte) []byte {
	m := hmac.New(s.newHash, salt)
	m.Write(ikm)
	return m.Sum(nil)
}

// Expand is KDF.Expand(prk, info, length), HKDF-Expand of RFC 5869,
// Section 2.3. It fails with ErrLength if length exceeds 255*Nh.
func (s *Suite) Expand(prk, info []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*s.Nh() {
		return nil, fmt.Errorf("%w: %d bytes from HKDF-Expand", ErrLength, length)
	}
	out, err := hkdf.Expand(s.newHash, prk, string(info), length)
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: HKDF-Expand: %w", err)
	}
	return out, nil
}

// ExpandWithLabel is RFC 9420, Section 8:
//
//	ExpandWithLabel(Secret, Label, Context, Length) =
//	    KDF.Expand(Secret, KDFLabel, Length)
//
// where KDFLabel is {uint16 length; opaque label<V> = "MLS 1.0 " + Label;
// opaque context<V>}. Label is given without the "MLS 1.0 " prefix.
func (s *Suite) ExpandWithLabel(secret []byte, label string, context []byte, length int) ([]byte, error) {
	if length < 0 || length > 0xffff {
		return nil, fmt.Errorf("%w: %d bytes for KDFLabel", ErrLength, length)
	}
	var buf [128]byte
	w := tls.NewWriter(buf[:0])
	w.Uint16(uint16(length))
	w.Varint(uint64(len(mlsLabelPrefix) + len(label)))
	w.Raw([]byte(mlsLabelPrefix))
	w.Raw([]byte(label))
	w.Opaque(context)
	info, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ciphersuite: encode KDFLabel: %w", err)
	}
	return s.Expand(secret, info, length)
}

// DeriveSecret is RFC 9420, Section 8:
//
//	DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh)
func (s *Suite) DeriveSecret(secret []byte, label string) []byte {
	out, err := s.ExpandWithLabel(secret, label, nil, s.Nh())
	if err != nil {
		// Nh is always a valid length; this cannot happen.
		return nil
	}
	return out
}

// DeriveTreeSecret is RFC 9420, Section 9.1:
//
//	DeriveTreeSecret(Secret, Label, Generation, Length) =
//	    ExpandWithLabel(Secret, Label, Generation, Length)
//
// with Generation encoded as a big-endian uint32.
func (s *Suite) DeriveTreeSecret(secret []byte, label string, generation uint32, length int) ([]byte, error) {
	ctx := [4]byte{byte(generation >> 24), byte(generation >> 16), byte(generation >> 8), byte(generation)}
	return s.ExpandWithLabel(secret, label, ctx[:], length)
}

// MAC returns HMAC(key, data) with the suite's hash (RFC 9420, Section 17.1:
// all suites use HMAC).
func (s *Suite) MAC(key, data []byte) []byte {
	m := hmac.New(s.newHash, key)
	m.Write(data)
	return m.Sum(nil)
}

// VerifyMAC reports whether tag is HMAC(key, data), comparing in constant
// time.
func (s *Suite) VerifyMAC(key, data, tag []byte) bool {
	return hmac.Equal(s.MAC(key, data), tag)
}

// RefHash is RFC 9420, Section 5.2: Hash(RefHashInput) with
// RefHashInput = {opaque label<V>; opaque value<V>}. The label is used as
// given (the callers' labels already start with "MLS 1.0 ").
func (s *Suite) RefHash(label string, value []byte) []byte {
	h := s.newHash()
	w := tls.NewWriter(make([]byte, 0, 8+len(label)+len(value)))
	w.Opaque([]byte(label))
	w.Opaque(value)
	b, err := w.Bytes()
	if err != nil {
		// Only a value over 2^30-1 bytes can fail to encode; MLS objects are
		// decoded with smaller bounds. Hash a distinct empty input rather
		// than a truncated one.
		return nil
	}
	h.Write(b)
	return h.Sum(nil)
}

// MakeKeyPackageRef is RFC 9420, Section 5.2: RefHash("MLS 1.0 KeyPackage
// Reference", value) over the encoded KeyPackage. The KeyPackage's own cipher
// suite determines the hash.
func (s *Suite) MakeKeyPackageRef(encodedKeyPackage []byte) []byte {
	return s.RefHash("MLS 1.0 KeyPackage Reference", encodedKeyPackage)
}

// MakeProposalRef is RFC 9420, Section 5.2: RefHash("MLS 1.0 Proposal
// Reference", value) over the encoded AuthenticatedContent carrying the
// Proposal.
func (s *Suite) MakeProposalRef(encodedAuthenticatedContent []byte) []byte {
	return s.RefHash("MLS 1.0 Proposal Reference", encodedAuthenticatedContent)
}
