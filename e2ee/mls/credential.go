package mls

import (
	"bytes"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// Credential binds identities to a member's signature key
// (RFC 9420, Section 5.3). Conclave uses basic credentials, whose identity
// bytes are defined by the application; X.509 credentials are carried
// through (decoded, re-encoded, hashed) but judged only by a
// CredentialValidator that understands them.
type Credential struct {
	Type CredentialType
	// Identity is the identity of a basic credential.
	Identity []byte
	// Certificates is the DER certificate chain of an x509 credential,
	// end-entity first.
	Certificates [][]byte
}

// BasicCredential returns a basic credential for identity
// (RFC 9420, Section 5.3).
func BasicCredential(identity []byte) Credential {
	return Credential{Type: CredentialBasic, Identity: bytes.Clone(identity)}
}

// Equal reports whether c and o encode identically.
func (c Credential) Equal(o Credential) bool {
	return bytes.Equal(mustEncode(c), mustEncode(o))
}

func (c Credential) marshal(w *tls.Writer) {
	w.Uint16(uint16(c.Type))
	switch c.Type {
	case CredentialBasic:
		w.Opaque(c.Identity)
	case CredentialX509:
		writeList(w, c.Certificates, func(w *tls.Writer, cert []byte) { w.Opaque(cert) })
	}
}

func (c *Credential) unmarshal(r *tls.Reader) error {
	t, err := r.Uint16()
	if err != nil {
		return err
	}
	c.Type = CredentialType(t)
	switch c.Type {
	case CredentialBasic:
		c.Identity, err = r.Opaque(maxSmallVec)
		return err
	case CredentialX509:
		c.Certificates = nil
		return readList(r, maxLargeVec, func(r *tls.Reader) error {
			cert, err := r.Opaque(maxLargeVec)
			c.Certificates = append(c.Certificates, cert)
			return err
		})
	default:
		// The encoding of an unknown credential type is unknown, so it
		// cannot be skipped (RFC 9420, Section 13.3).
		return fmt.Errorf("unsupported credential type %#04x", t)
	}
}

// CredentialValidator is the application's Authentication Service
// (RFC 9420, Section 5.3.1): it decides whether a credential legitimately
// presents identities for a signature key, and whether a member may replace
// its credential. The group calls it at every point Section 5.3.1 lists: Add
// proposals and KeyPackages, Update proposals, UpdatePath leaf nodes, the
// ratchet tree and GroupInfo of a group being joined, and external_senders.
type CredentialValidator interface {
	// ValidateCredential returns nil if cred is acceptable for signatureKey.
	ValidateCredential(cred Credential, signatureKey []byte) error
	// ValidateSuccessor returns nil if a member holding old may now present
	// next (an Update, a commit's new leaf, or an external commit that
	// resyncs a removed leaf).
	ValidateSuccessor(old, next Credential) error
}

// BasicValidator accepts any basic credential with a non-empty identity and
// requires a member to keep its identity across updates. Applications that
// bind identities to keys out of band wrap or replace it.
type BasicValidator struct{}

var _ CredentialValidator = BasicValidator{}

// ValidateCredential implements CredentialValidator.
func (BasicValidator) ValidateCredential(cred Credential, _ []byte) error {
	if cred.Type != CredentialBasic {
		return fmt.Errorf("credential type %#04x is not basic", uint16(cred.Type))
	}
	if len(cred.Identity) == 0 {
		return fmt.Errorf("basic credential has an empty identity")
	}
	return nil
}

// ValidateSuccessor implements CredentialValidator: the identity must not change.
func (BasicValidator) ValidateSuccessor(old, next Credential) error {
	if old.Type != next.Type || !bytes.Equal(old.Identity, next.Identity) {
		return fmt.Errorf("credential identity changed")
	}
	return nil
}
