package mls

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them, with
// context naming the rule that failed and the RFC 9420 section it comes from.
var (
	// ErrMalformed: the bytes do not decode as the expected MLS structure.
	ErrMalformed = errors.New("mls: malformed message")
	// ErrUnsupported: a cipher suite, version, credential or extension this
	// implementation or the group does not support.
	ErrUnsupported = errors.New("mls: unsupported")
	// ErrWrongGroup: a message for another group.
	ErrWrongGroup = errors.New("mls: message for another group")
	// ErrWrongEpoch: a message for another epoch.
	ErrWrongEpoch = errors.New("mls: message for another epoch")
	// ErrAuthentication: a signature, membership tag or confirmation tag
	// did not verify, or a ciphertext did not decrypt. Deliberately opaque.
	ErrAuthentication = errors.New("mls: authentication failed")
	// ErrInvalidLeafNode: a LeafNode failed validation (Section 7.3).
	ErrInvalidLeafNode = errors.New("mls: invalid leaf node")
	// ErrInvalidKeyPackage: a KeyPackage failed validation (Section 10.1).
	ErrInvalidKeyPackage = errors.New("mls: invalid key package")
	// ErrInvalidTree: a ratchet tree failed validation (Sections 7.9.2, 12.4.3.1).
	ErrInvalidTree = errors.New("mls: invalid ratchet tree")
	// ErrInvalidProposal: a proposal or proposal list failed validation
	// (Sections 12.1 and 12.2).
	ErrInvalidProposal = errors.New("mls: invalid proposal")
	// ErrInvalidCommit: a commit failed validation (Section 12.4).
	ErrInvalidCommit = errors.New("mls: invalid commit")
	// ErrInvalidWelcome: a Welcome or GroupInfo failed validation (Section 12.4.3).
	ErrInvalidWelcome = errors.New("mls: invalid welcome")
	// ErrRejectedByPolicy: the application's policy refused an external
	// proposal or a credential.
	ErrRejectedByPolicy = errors.New("mls: rejected by policy")
	// ErrNotMember: this client is not (or no longer) a member of the group.
	ErrNotMember = errors.New("mls: not a member of the group")
	// ErrUnknownProposal: a commit referenced a proposal this client has not seen.
	ErrUnknownProposal = errors.New("mls: unknown proposal reference")
	// ErrMissingPSK: a PSK named by a commit or Welcome is not available.
	ErrMissingPSK = errors.New("mls: pre-shared key not available")
	// ErrGeneration: a message key generation too far ahead or already used
	// (Section 9.1, 14).
	ErrGeneration = errors.New("mls: message generation out of range")
	// ErrStateVersion: saved state of an unknown format version.
	ErrStateVersion = errors.New("mls: unknown state version")
	// ErrReInit: the group was reinitialized and can send no more messages
	// (Section 12.4.2).
	ErrReInit = errors.New("mls: group is being reinitialized")
)

// ruleError reports the failure of a rule, citing where the RFC states it.
func ruleError(sentinel error, section, format string, args ...any) error {
	return fmt.Errorf("%w: %s (RFC 9420, Section %s)", sentinel, fmt.Sprintf(format, args...), section)
}
