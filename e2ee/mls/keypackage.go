package mls

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"time"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
)

// suiteFor returns the primitives of cs or ErrUnsupported.
func suiteFor(cs CipherSuite) (*ciphersuite.Suite, error) {
	s, err := ciphersuite.New(ciphersuite.ID(cs))
	if err != nil {
		return nil, fmt.Errorf("%w: cipher suite %#04x: %w", ErrUnsupported, uint16(cs), err)
	}
	return s, nil
}

// SignatureKey is a member's signature key pair for one cipher suite
// (RFC 9420, Section 5.1.2). It redacts itself when printed.
type SignatureKey struct {
	suite CipherSuite
	priv  *ciphersuite.SignaturePrivateKey
}

// GenerateSignatureKey returns a fresh signature key pair for cs drawn from rand.
func GenerateSignatureKey(cs CipherSuite, rand io.Reader) (*SignatureKey, error) {
	s, err := suiteFor(cs)
	if err != nil {
		return nil, err
	}
	priv, err := s.GenerateSignatureKeyPair(rand)
	if err != nil {
		return nil, fmt.Errorf("mls: generate signature key: %w", err)
	}
	return &SignatureKey{suite: cs, priv: priv}, nil
}

// ParseSignatureKey reads a private key saved with SignatureKey.Bytes.
func ParseSignatureKey(cs CipherSuite, b []byte) (*SignatureKey, error) {
	s, err := suiteFor(cs)
	if err != nil {
		return nil, err
	}
	priv, err := s.NewSignaturePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("mls: signature key: %w", err)
	}
	return &SignatureKey{suite: cs, priv: priv}, nil
}

// PublicKey returns the SignaturePublicKey (RFC 9420, Section 5.1.1).
func (k *SignatureKey) PublicKey() []byte { return k.priv.PublicKey() }

// CipherSuite returns the suite the key belongs to.
func (k *SignatureKey) CipherSuite() CipherSuite { return k.suite }

// Bytes returns the private key. Treat it as a secret.
func (k *SignatureKey) Bytes() ([]byte, error) { return k.priv.Bytes() }

// String redacts the key.
func (k *SignatureKey) String() string { return "mls.SignatureKey(REDACTED)" }

// KeyPackage is a signed KeyPackage whose signature and leaf node have been
// checked (RFC 9420, Section 10). Whether it suits a given group is checked
// when it is added (Section 10.1).
type KeyPackage struct {
	kp  keyPackage
	raw []byte // TLS encoding of the KeyPackage
	ref []byte
}

// ParseKeyPackage decodes an MLSMessage carrying a KeyPackage and verifies
// its signature, its leaf node's signature and source, and that its init
// key differs from its encryption key (RFC 9420, Sections 10 and 10.1).
func ParseKeyPackage(b []byte) (*KeyPackage, error) {
	var m mlsMessage
	if err := decode(b, &m); err != nil {
		return nil, err
	}
	if m.wireFormat != WireFormatKeyPackage {
		return nil, fmt.Errorf("%w: wire format %v, want mls_key_package", ErrMalformed, m.wireFormat)
	}
	return newKeyPackage(m.keyPackage)
}

func newKeyPackage(kp *keyPackage) (*KeyPackage, error) {
	s, err := suiteFor(kp.cipherSuite)
	if err != nil {
		return nil, err
	}
	if kp.version != ProtocolVersionMLS10 {
		return nil, ruleError(ErrInvalidKeyPackage, "10", "version %d", kp.version)
	}
	if err := s.VerifyWithLabel(kp.leafNode.signatureKey, "KeyPackageTBS", kpTBS(kp), kp.signature); err != nil {
		return nil, ruleError(ErrInvalidKeyPackage, "10", "signature does not verify")
	}
	if kp.leafNode.source != sourceKeyPackage {
		return nil, ruleError(ErrInvalidKeyPackage, "7.3", "leaf_node_source is not key_package")
	}
	if err := verifyLeafSignature(s, &kp.leafNode, nil, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKeyPackage, err)
	}
	if bytes.Equal(kp.initKey, kp.leafNode.encryptionKey) {
		return nil, ruleError(ErrInvalidKeyPackage, "10.1", "init_key equals the leaf's encryption_key")
	}
	if err := s.ValidateHPKEPublicKey(kp.initKey); err != nil {
		return nil, ruleError(ErrInvalidKeyPackage, "10", "init_key: %v", err)
	}
	raw := mustEncode(kp)
	return &KeyPackage{kp: *kp, raw: raw, ref: s.MakeKeyPackageRef(raw)}, nil
}

func kpTBS(kp *keyPackage) []byte {
	var w tls.Writer
	kp.marshalTBS(&w)
	b, _ := w.Bytes()
	return b
}

// Bytes returns the KeyPackage as an MLSMessage (RFC 9420, Section 6).
func (k *KeyPackage) Bytes() []byte {
	return mustEncode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatKeyPackage, keyPackage: &k.kp})
}

// Ref returns the KeyPackageRef (RFC 9420, Section 5.2).
func (k *KeyPackage) Ref() []byte { return bytes.Clone(k.ref) }

// CipherSuite returns the KeyPackage's cipher suite.
func (k *KeyPackage) CipherSuite() CipherSuite { return k.kp.cipherSuite }

// Credential returns the credential of the KeyPackage's leaf.
func (k *KeyPackage) Credential() Credential { return k.kp.leafNode.credential }

// SignatureKey returns the leaf's signature public key.
func (k *KeyPackage) SignatureKey() []byte { return bytes.Clone(k.kp.leafNode.signatureKey) }

// Lifetime returns the leaf's validity window.
func (k *KeyPackage) Lifetime() (notBefore, notAfter time.Time) {
	lt := k.kp.leafNode.lifetime
	return unixTime(lt.notBefore), unixTime(lt.notAfter)
}

func unixTime(s uint64) time.Time {
	if s > 1<<62 {
		s = 1 << 62
	}
	return time.Unix(int64(s), 0)
}

// KeyPackageOptions says what NewKeyPackage builds.
type KeyPackageOptions struct {
	CipherSuite CipherSuite
	Credential  Credential
	// SignatureKey signs the KeyPackage and becomes the member's key; it
	// must belong to CipherSuite.
	SignatureKey *SignatureKey
	// Lifetime is the validity from one hour before Config.Now (for clock
	// skew); zero means DefaultKeyPackageLifetime.
	Lifetime time.Duration
	// Extensions go in KeyPackage.extensions, LeafExtensions in the leaf
	// node (and their types in its capabilities).
	Extensions     []Extension
	LeafExtensions []Extension
	// SupportedExtensions and SupportedProposals list non-default types the
	// client supports, for its capabilities (RFC 9420, Section 7.2).
	SupportedExtensions []ExtensionType
	SupportedProposals  []ProposalType
}

// KeyPackageBundle is a KeyPackage with its private keys: the init key that
// opens a Welcome, the leaf's encryption key and the signature key.
type KeyPackageBundle struct {
	pub      *KeyPackage
	initPriv *ciphersuite.HPKEPrivateKey
	encPriv  *ciphersuite.HPKEPrivateKey
	sig      *SignatureKey
}

// KeyPackage returns the public KeyPackage to publish.
func (b *KeyPackageBundle) KeyPackage() *KeyPackage { return b.pub }

// SignatureKey returns the bundle's signature key.
func (b *KeyPackageBundle) SignatureKey() *SignatureKey { return b.sig }

func (b *KeyPackageBundle) String() string { return "mls.KeyPackageBundle(REDACTED)" }

// defaultCapabilities lists what this implementation supports.
func defaultCapabilities(cs CipherSuite, cred CredentialType, exts []ExtensionType, props []ProposalType) capabilitySet {
	c := capabilitySet{
		Versions:     []ProtocolVersion{ProtocolVersionMLS10},
		CipherSuites: []CipherSuite{cs},
		Credentials:  []CredentialType{cred},
	}
	for _, e := range exts {
		if !e.isDefault() && !slices.Contains(c.Extensions, e) {
			c.Extensions = append(c.Extensions, e)
		}
	}
	for _, p := range props {
		if !p.isDefault() && !slices.Contains(c.Proposals, p) {
			c.Proposals = append(c.Proposals, p)
		}
	}
	return c
}

// NewKeyPackage builds and signs a KeyPackage (RFC 9420, Section 10) with
// fresh init and encryption keys.
func NewKeyPackage(opts KeyPackageOptions, cfg Config) (*KeyPackageBundle, error) {
	s, err := suiteFor(opts.CipherSuite)
	if err != nil {
		return nil, err
	}
	if opts.SignatureKey == nil || opts.SignatureKey.suite != opts.CipherSuite {
		return nil, fmt.Errorf("mls: KeyPackage needs a signature key of suite %#04x", uint16(opts.CipherSuite))
	}
	if err := cfg.validator().ValidateCredential(opts.Credential, opts.SignatureKey.PublicKey()); err != nil {
		return nil, fmt.Errorf("%w: own credential: %w", ErrRejectedByPolicy, err)
	}
	initPriv, err := s.GenerateHPKEKeyPair(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls: init key: %w", err)
	}
	encPriv, err := s.GenerateHPKEKeyPair(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls: encryption key: %w", err)
	}
	life := opts.Lifetime
	if life <= 0 {
		life = DefaultKeyPackageLifetime
	}
	now := cfg.now()
	var extTypes []ExtensionType
	for _, e := range opts.LeafExtensions {
		extTypes = append(extTypes, e.Type)
	}
	for _, e := range opts.Extensions {
		extTypes = append(extTypes, e.Type)
	}
	extTypes = append(extTypes, opts.SupportedExtensions...)
	kp := keyPackage{
		version:     ProtocolVersionMLS10,
		cipherSuite: opts.CipherSuite,
		initKey:     initPriv.PublicKey(),
		leafNode: leafNode{
			encryptionKey: encPriv.PublicKey(),
			signatureKey:  opts.SignatureKey.PublicKey(),
			credential:    opts.Credential,
			capabilities:  defaultCapabilities(opts.CipherSuite, opts.Credential.Type, extTypes, opts.SupportedProposals),
			source:        sourceKeyPackage,
			lifetime: lifetime{
				notBefore: uint64(max(now.Add(-time.Hour).Unix(), 0)),
				notAfter:  uint64(max(now.Add(life).Unix(), 0)),
			},
			extensions: cloneExtensions(opts.LeafExtensions),
		},
		extensions: cloneExtensions(opts.Extensions),
	}
	if err := kp.leafNode.extensions.checkUnique(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLeafNode, err)
	}
	if err := kp.extensions.checkUnique(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKeyPackage, err)
	}
	if err := signLeaf(s, opts.SignatureKey.priv, &kp.leafNode, nil, 0); err != nil {
		return nil, err
	}
	if kp.signature, err = s.SignWithLabel(opts.SignatureKey.priv, "KeyPackageTBS", kpTBS(&kp)); err != nil {
		return nil, fmt.Errorf("mls: sign KeyPackage: %w", err)
	}
	pub, err := newKeyPackage(&kp)
	if err != nil {
		return nil, err
	}
	return &KeyPackageBundle{pub: pub, initPriv: initPriv, encPriv: encPriv, sig: opts.SignatureKey}, nil
}

// keyPackageBundleVersion is the format version of a saved bundle.
const keyPackageBundleVersion = 1

// MarshalBinary saves the bundle, private keys included, so that a joiner
// waiting for its Welcome survives a restart. Treat the bytes as a secret.
func (b *KeyPackageBundle) MarshalBinary() ([]byte, error) {
	initB, err := b.initPriv.Bytes()
	if err != nil {
		return nil, err
	}
	encB, err := b.encPriv.Bytes()
	if err != nil {
		return nil, err
	}
	sigB, err := b.sig.Bytes()
	if err != nil {
		return nil, err
	}
	var w tls.Writer
	w.Uint16(keyPackageBundleVersion)
	w.Opaque(b.pub.Bytes())
	w.Opaque(initB)
	w.Opaque(encB)
	w.Opaque(sigB)
	return w.Bytes()
}

// UnmarshalKeyPackageBundle restores a bundle saved with MarshalBinary and
// checks that its private keys match the KeyPackage.
func UnmarshalKeyPackageBundle(data []byte) (*KeyPackageBundle, error) {
	r := tls.NewReader(data)
	v, err := r.Uint16()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != keyPackageBundleVersion {
		return nil, fmt.Errorf("%w: key package bundle version %d", ErrStateVersion, v)
	}
	var parts [4][]byte
	for i := range parts {
		if parts[i], err = r.Opaque(maxLargeVec); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	pub, err := ParseKeyPackage(parts[0])
	if err != nil {
		return nil, err
	}
	return bundleFromKeys(pub, parts[1], parts[2], parts[3])
}

func bundleFromKeys(pub *KeyPackage, initB, encB, sigB []byte) (*KeyPackageBundle, error) {
	s, err := suiteFor(pub.kp.cipherSuite)
	if err != nil {
		return nil, err
	}
	initPriv, err := s.NewHPKEPrivateKey(initB)
	if err != nil {
		return nil, fmt.Errorf("mls: init key: %w", err)
	}
	encPriv, err := s.NewHPKEPrivateKey(encB)
	if err != nil {
		return nil, fmt.Errorf("mls: encryption key: %w", err)
	}
	sig, err := ParseSignatureKey(pub.kp.cipherSuite, sigB)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(initPriv.PublicKey(), pub.kp.initKey) ||
		!bytes.Equal(encPriv.PublicKey(), pub.kp.leafNode.encryptionKey) ||
		!bytes.Equal(sig.PublicKey(), pub.kp.leafNode.signatureKey) {
		return nil, fmt.Errorf("%w: private keys do not match the KeyPackage", ErrInvalidKeyPackage)
	}
	return &KeyPackageBundle{pub: pub, initPriv: initPriv, encPriv: encPriv, sig: sig}, nil
}
