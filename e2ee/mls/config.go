package mls

import (
	"crypto/rand"
	"io"
	"time"
)

// Config carries what a group needs from its environment. It is not part of
// the saved state: pass the same Config when loading a group.
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.Reader.
	// (HPKE encapsulation and ECDSA signing in package ciphersuite always
	// draw from crypto/rand, which tests fix with testing/cryptotest.)
	Rand io.Reader
	// Now returns the current time, used for KeyPackage lifetimes; nil means
	// time.Now. Tests pass a fixed clock.
	Now func() time.Time
	// Validator is the Authentication Service (RFC 9420, Section 5.3.1);
	// nil means BasicValidator.
	Validator CredentialValidator
	// ExternalProposals decides which proposals from outside the group
	// (sender types external and new_member_proposal) are accepted after
	// they pass the RFC's checks (RFC 9420, Section 12.1.8). nil accepts
	// every valid one; Conclave clients use AllowExternalRemoveOnly.
	ExternalProposals ExternalProposalPolicy
	// ExternalPSK returns the external pre-shared key with the given ID
	// (RFC 9420, Section 8.4); nil means none are known.
	ExternalPSK func(id []byte) (psk []byte, ok bool)
	// MaxLifetime is the longest total lifetime accepted for a KeyPackage's
	// leaf (RFC 9420, Section 7.2: applications MUST define one). Zero means
	// DefaultMaxLifetime; a negative value means no limit.
	MaxLifetime time.Duration
	// PublicHandshake sends proposals and commits as PublicMessage instead
	// of PrivateMessage (RFC 9420, Section 6: handshake messages SHOULD be
	// private).
	PublicHandshake bool
	// PaddingBlock pads PrivateMessage content to a multiple of this many
	// bytes (RFC 9420, Section 16.4); zero means no padding.
	PaddingBlock int
	// ResumptionEpochs is how many past epochs' resumption PSKs are kept
	// (RFC 9420, Section 8.6); zero means 4.
	ResumptionEpochs int
	// PastEpochs is how many past epochs are kept to open application
	// messages sealed in them but delivered after the commit that ended
	// them (RFC 9420, Sections 9.2 and 15.3): their sender_data_secret,
	// secret tree and membership, never a secret that derives another
	// epoch. Only application messages of members of that epoch not
	// removed since are accepted from them; proposals
	// and commits of a past epoch still fail with ErrWrongEpoch. Zero means
	// DefaultPastEpochs; a negative value keeps none. Past epochs are not
	// saved by MarshalBinary and are deleted when a commit removes this
	// member.
	PastEpochs int
	// OutOfOrder is how many message keys per sender may be skipped and
	// kept for late messages, and how far ahead a generation may be
	// (RFC 9420, Section 9.2); zero means the keyschedule default.
	OutOfOrder uint32
}

// DefaultMaxLifetime is the default bound on a KeyPackage's total lifetime.
const DefaultMaxLifetime = 90 * 24 * time.Hour

// DefaultKeyPackageLifetime is the lifetime NewKeyPackage gives by default.
const DefaultKeyPackageLifetime = 30 * 24 * time.Hour

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) validator() CredentialValidator {
	if c.Validator != nil {
		return c.Validator
	}
	return BasicValidator{}
}

func (c *Config) maxLifetime() time.Duration {
	if c.MaxLifetime != 0 {
		return c.MaxLifetime
	}
	return DefaultMaxLifetime
}

func (c *Config) resumptionEpochs() int {
	if c.ResumptionEpochs > 0 {
		return c.ResumptionEpochs
	}
	return 4
}

// ExternalProposal describes a proposal sent from outside the group, for
// an ExternalProposalPolicy to judge.
type ExternalProposal struct {
	// SenderType is SenderExternal (a pre-provisioned external sender,
	// such as a delivery service) or SenderNewMemberProposal (a joiner
	// proposing to add itself).
	SenderType SenderType
	// SenderIndex is the index in the external_senders extension, for
	// SenderExternal.
	SenderIndex uint32
	// SenderCredential is that external sender's credential, or the
	// joiner's credential for SenderNewMemberProposal.
	SenderCredential Credential
	// Type is the proposal's type.
	Type ProposalType
	// Removed is the leaf a Remove proposal removes; RemovedMember reports
	// whether that leaf holds a member.
	Removed       uint32
	RemovedMember bool
	// Added is the credential of the client an Add proposal adds.
	Added *Credential
}

// ExternalProposalPolicy returns nil to accept an external proposal and an
// error saying why to reject it. It runs after the RFC's own checks.
type ExternalProposalPolicy func(p ExternalProposal) error

// AllowExternalRemoveOnly accepts only Remove proposals from an external
// sender that remove an existing member, and refuses everything else,
// including every proposal from a would-be new member. It is the policy of
// Conclave clients, whose delivery service may propose nothing but removals.
func AllowExternalRemoveOnly(p ExternalProposal) error {
	if p.SenderType != SenderExternal || p.Type != ProposalRemove {
		return ruleError(ErrRejectedByPolicy, "12.1.8", "external %v proposal from %v refused: only Remove is allowed", p.Type, p.SenderType)
	}
	if !p.RemovedMember {
		return ruleError(ErrRejectedByPolicy, "12.1.8", "external Remove of leaf %d, which holds no member", p.Removed)
	}
	return nil
}
