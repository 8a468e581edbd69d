// Package keyschedule implements the MLS key schedule and the secrets derived
// from it (RFC 9420): the epoch key schedule with joiner, welcome, epoch and
// init secrets and the epoch-derived secrets (Section 8), the transcript
// hashes (Section 8.2), external initialization (Section 8.3), the PSK secret
// (Section 8.4), the exporter (Section 8.5), the epoch authenticator
// (Section 8.7), the secret tree with its per-leaf handshake and application
// ratchets, bounded out-of-order keys and deletion of consumed secrets
// (Sections 9, 9.1 and 9.2), sender-data keys (Section 6.3.2), the
// confirmation and membership tags (Sections 6.1 and 6.2) and the Welcome key
// (Section 12.4.3.1).
//
// For saved group state, SecretTree.MarshalBinary and UnmarshalSecretTree
// save and restore exactly the secrets a tree has not consumed yet (so a
// saved epoch need not keep encryption_secret, Section 9.2), and
// RestoreEpoch rebuilds an Epoch from its saved secrets.
//
// Callers pass serialized structures (GroupContext, PreSharedKeyID,
// ConfirmedTranscriptHashInput) rather than typed ones, so this package does
// not depend on the message types of package conclave/e2ee/mls.
//
// The package sees every group secret. Secrets are held as Secret values,
// which redact themselves in fmt and log/slog output and compare in constant
// time; consumed secrets are overwritten and dropped as Section 9.2 requires.
// The package has no global mutable state, goroutines, logging or I/O. A
// SecretTree is not safe for concurrent use.
package keyschedule
