package keyschedule

import (
	"fmt"
	"io"
	"log/slog"

	"conclave/e2ee/mls/ciphersuite"
)

// Epoch holds the secrets of one epoch of the key schedule (RFC 9420,
// Section 8, Table 4) and the init_secret for the next epoch. epoch_secret
// itself is consumed while deriving them and is not kept.
type Epoch struct {
	suite *ciphersuite.Suite

	// JoinerSecret is joiner_secret, sent to new members in GroupSecrets.
	// It is nil for an epoch created with FromEpochSecret.
	JoinerSecret Secret
	// WelcomeSecret is welcome_secret = DeriveSecret(member, "welcome"),
	// which encrypts the GroupInfo in a Welcome. Nil with FromEpochSecret.
	WelcomeSecret Secret

	SenderDataSecret   Secret // "sender data"
	EncryptionSecret   Secret // "encryption", the root of the secret tree
	ExporterSecret     Secret // "exporter"
	ExternalSecret     Secret // "external"
	ConfirmationKey    Secret // "confirm"
	MembershipKey      Secret // "membership"
	ResumptionPSK      Secret // "resumption"
	EpochAuthenticator Secret // "authentication" (Section 8.7)
	// InitSecret is init_secret_[n], the input to the next epoch.
	InitSecret Secret
}

func (e *Epoch) checkLen(name string, b []byte) error {
	if len(b) != e.suite.Nh() {
		return fmt.Errorf("%w: %s of %d bytes, want %d", ErrSecretSize, name, len(b), e.suite.Nh())
	}
	return nil
}

// zero returns KDF.Nh zero bytes, the "0" of the key schedule diagram.
func zero(suite *ciphersuite.Suite) []byte { return make([]byte, suite.Nh()) }

// JoinerSecret computes, from RFC 9420, Section 8:
//
//	joiner_secret = ExpandWithLabel(KDF.Extract(init_secret_[n-1], commit_secret),
//	                                "joiner", GroupContext_[n], KDF.Nh)
//
// KDF.Extract takes init_secret as its salt and commit_secret as its IKM. A
// nil commitSecret stands for the all-zero commit secret (a Commit without a
// path, Section 12.4).
func JoinerSecret(suite *ciphersuite.Suite, initSecret, commitSecret, groupContext []byte) (Secret, error) {
	if commitSecret == nil {
		commitSecret = zero(suite)
	}
	prk := suite.Extract(initSecret, commitSecret)
	defer wipe(prk)
	js, err := suite.ExpandWithLabel(prk, "joiner", groupContext, suite.Nh())
	if err != nil {
		return nil, fmt.Errorf("keyschedule: joiner_secret: %w", err)
	}
	return js, nil
}

// FromInitSecret runs the key schedule of RFC 9420, Section 8 for a member
// moving to a new epoch: from the previous epoch's init_secret, the
// commit_secret (nil for all zeros), the psk_secret (nil for all zeros, no
// PSKs) and the serialized GroupContext of the new epoch.
func FromInitSecret(suite *ciphersuite.Suite, initSecret, commitSecret, pskSecret, groupContext []byte) (*Epoch, error) {
	js, err := JoinerSecret(suite, initSecret, commitSecret, groupContext)
	if err != nil {
		return nil, err
	}
	return FromJoinerSecret(suite, js, pskSecret, groupContext)
}

// FromJoinerSecret runs the key schedule from joiner_secret (RFC 9420,
// Section 8), as a new member does after decrypting GroupSecrets from a
// Welcome (Section 12.4.3.1). pskSecret nil stands for all zeros.
func FromJoinerSecret(suite *ciphersuite.Suite, joinerSecret, pskSecret, groupContext []byte) (*Epoch, error) {
	if pskSecret == nil {
		pskSecret = zero(suite)
	}
	e := &Epoch{suite: suite, JoinerSecret: append(Secret(nil), joinerSecret...)}
	if err := e.checkLen("joiner_secret", joinerSecret); err != nil {
		return nil, err
	}
	if err := e.checkLen("psk_secret", pskSecret); err != nil {
		return nil, err
	}
	// The "member" secret: KDF.Extract(joiner_secret, psk_secret).
	member := suite.Extract(joinerSecret, pskSecret)
	defer wipe(member)
	e.WelcomeSecret = suite.DeriveSecret(member, "welcome")
	epochSecret, err := suite.ExpandWithLabel(member, "epoch", groupContext, suite.Nh())
	if err != nil {
		return nil, fmt.Errorf("keyschedule: epoch_secret: %w", err)
	}
	defer wipe(epochSecret)
	e.derive(epochSecret)
	return e, nil
}

// FromEpochSecret derives the epoch secrets directly from epoch_secret, as
// the creator of a group does for epoch 0 with a fresh random epoch_secret
// (RFC 9420, Section 11). JoinerSecret and WelcomeSecret stay nil.
func FromEpochSecret(suite *ciphersuite.Suite, epochSecret []byte) (*Epoch, error) {
	e := &Epoch{suite: suite}
	if err := e.checkLen("epoch_secret", epochSecret); err != nil {
		return nil, err
	}
	e.derive(epochSecret)
	return e, nil
}

// derive computes the secrets of RFC 9420, Section 8, Table 4 and init_secret.
func (e *Epoch) derive(epochSecret []byte) {
	d := func(label string) Secret { return e.suite.DeriveSecret(epochSecret, label) }
	e.SenderDataSecret = d("sender data")
	e.EncryptionSecret = d("encryption")
	e.ExporterSecret = d("exporter")
	e.ExternalSecret = d("external")
	e.ConfirmationKey = d("confirm")
	e.MembershipKey = d("membership")
	e.ResumptionPSK = d("resumption")
	e.EpochAuthenticator = d("authentication")
	e.InitSecret = d("init")
}

// Suite returns the cipher suite of the epoch.
func (e *Epoch) Suite() *ciphersuite.Suite { return e.suite }

// Export is MLS-Exporter (RFC 9420, Section 8.5):
//
//	MLS-Exporter(Label, Context, Length) =
//	    ExpandWithLabel(DeriveSecret(exporter_secret, Label),
//	                    "exported", Hash(Context), Length)
func (e *Epoch) Export(label string, context []byte, length int) (Secret, error) {
	derived := e.suite.DeriveSecret(e.ExporterSecret, label)
	defer wipe(derived)
	out, err := e.suite.ExpandWithLabel(derived, "exported", e.suite.Hash(context), length)
	if err != nil {
		return nil, fmt.Errorf("keyschedule: MLS-Exporter: %w", err)
	}
	return out, nil
}

// ExternalKeyPair returns external_priv, external_pub =
// KEM.DeriveKeyPair(external_secret) (RFC 9420, Section 8); the public key
// goes in the GroupInfo's external_pub extension.
func (e *Epoch) ExternalKeyPair() (*ciphersuite.HPKEPrivateKey, error) {
	k, err := e.suite.DeriveKeyPair(e.ExternalSecret)
	if err != nil {
		return nil, fmt.Errorf("keyschedule: external key pair: %w", err)
	}
	return k, nil
}

// ConfirmationTag is MAC(confirmation_key, confirmed_transcript_hash)
// (RFC 9420, Section 6.1).
func (e *Epoch) ConfirmationTag(confirmedTranscriptHash []byte) []byte {
	return e.suite.MAC(e.ConfirmationKey, confirmedTranscriptHash)
}

// VerifyConfirmationTag checks a confirmation tag in constant time
// (RFC 9420, Sections 6.1 and 12.4.2).
func (e *Epoch) VerifyConfirmationTag(confirmedTranscriptHash, tag []byte) bool {
	return e.suite.VerifyMAC(e.ConfirmationKey, confirmedTranscriptHash, tag)
}

// MembershipTag is MAC(membership_key, AuthenticatedContentTBM) (RFC 9420,
// Section 6.2), given the serialized AuthenticatedContentTBM.
func (e *Epoch) MembershipTag(authenticatedContentTBM []byte) []byte {
	return e.suite.MAC(e.MembershipKey, authenticatedContentTBM)
}

// VerifyMembershipTag checks a membership tag in constant time (RFC 9420,
// Section 6.2).
func (e *Epoch) VerifyMembershipTag(authenticatedContentTBM, tag []byte) bool {
	return e.suite.VerifyMAC(e.MembershipKey, authenticatedContentTBM, tag)
}

// NewSecretTree returns the epoch's secret tree (RFC 9420, Section 9) for a
// group of leafCount leaves, rooted at encryption_secret. The tree takes its
// own copy of the root, so the caller should then call
// DeleteEncryptionSecret: after that, only the tree holds it.
func (e *Epoch) NewSecretTree(leafCount uint32, cfg Config) (*SecretTree, error) {
	return NewSecretTree(e.suite, e.EncryptionSecret, leafCount, cfg)
}

// DeleteEncryptionSecret wipes encryption_secret once the secret tree has
// been built from it (RFC 9420, Section 9.2).
func (e *Epoch) DeleteEncryptionSecret() {
	wipe(e.EncryptionSecret)
	e.EncryptionSecret = nil
}

// Wipe overwrites every secret of the epoch with zeros and drops it, for
// when the epoch ends (RFC 9420, Section 9.2).
func (e *Epoch) Wipe() {
	for _, s := range []*Secret{&e.JoinerSecret, &e.WelcomeSecret, &e.SenderDataSecret, &e.EncryptionSecret,
		&e.ExporterSecret, &e.ExternalSecret, &e.ConfirmationKey, &e.MembershipKey, &e.ResumptionPSK,
		&e.EpochAuthenticator, &e.InitSecret} {
		wipe(*s)
		*s = nil
	}
}

// String redacts the epoch's secrets.
func (e *Epoch) String() string { return "keyschedule.Epoch(REDACTED)" }

// Format redacts the epoch's secrets for every fmt verb.
func (e *Epoch) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue redacts the epoch's secrets in log/slog output.
func (e *Epoch) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// WelcomeKeyNonce derives the key and nonce that encrypt a Welcome's
// GroupInfo (RFC 9420, Section 12.4.3.1):
//
//	welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)
//	welcome_key = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)
func WelcomeKeyNonce(suite *ciphersuite.Suite, welcomeSecret []byte) (key, nonce Secret, err error) {
	key, err = suite.ExpandWithLabel(welcomeSecret, "key", nil, suite.AEADKeySize())
	if err != nil {
		return nil, nil, fmt.Errorf("keyschedule: welcome_key: %w", err)
	}
	nonce, err = suite.ExpandWithLabel(welcomeSecret, "nonce", nil, suite.AEADNonceSize())
	if err != nil {
		return nil, nil, fmt.Errorf("keyschedule: welcome_nonce: %w", err)
	}
	return key, nonce, nil
}

// WelcomeSecretFromJoiner computes welcome_secret from joiner_secret and
// psk_secret (nil for zeros) without the rest of the schedule (RFC 9420,
// Section 8), as a joiner needs it to decrypt the GroupInfo before it knows
// the GroupContext.
func WelcomeSecretFromJoiner(suite *ciphersuite.Suite, joinerSecret, pskSecret []byte) Secret {
	if pskSecret == nil {
		pskSecret = zero(suite)
	}
	member := suite.Extract(joinerSecret, pskSecret)
	defer wipe(member)
	return suite.DeriveSecret(member, "welcome")
}

// externalInitLabel is the HPKE exporter context of RFC 9420, Section 8.3.
const externalInitLabel = "MLS 1.0 external init secret"

// ExternalInit is the joiner's side of external initialization (RFC 9420,
// Section 8.3):
//
//	kem_output, context = SetupBaseS(external_pub, "")
//	init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
func ExternalInit(suite *ciphersuite.Suite, externalPub []byte) (kemOutput []byte, initSecret Secret, err error) {
	enc, secret, err := suite.ExportBaseS(externalPub, nil, []byte(externalInitLabel), suite.Nh())
	if err != nil {
		return nil, nil, fmt.Errorf("keyschedule: external init: %w", err)
	}
	return enc, secret, nil
}

// ExternalInitSecret is the members' side of external initialization
// (RFC 9420, Section 8.3): init_secret from the ExternalInit proposal's
// kem_output and the previous epoch's external private key.
func ExternalInitSecret(suite *ciphersuite.Suite, externalPriv *ciphersuite.HPKEPrivateKey, kemOutput []byte) (Secret, error) {
	secret, err := suite.ExportBaseR(kemOutput, externalPriv, nil, []byte(externalInitLabel), suite.Nh())
	if err != nil {
		return nil, fmt.Errorf("keyschedule: external init: %w", err)
	}
	return secret, nil
}
