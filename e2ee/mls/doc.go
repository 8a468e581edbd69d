// Package mls implements the Messaging Layer Security protocol, RFC 9420,
// for Conclave's end-to-end encrypted meetings.
//
// It covers the wire format (Sections 6, 7, 10, 12), the ratchet tree with
// cached tree hashes and parent hashes (Sections 7.8, 7.9), TreeKEM update
// paths (Sections 7.4-7.6), message framing and protection with membership
// tags, sender data encryption and padding (Section 6), proposals and
// commits with the proposal-list validation of Section 12.2, Welcome and
// external joins (Section 12.4.3), external senders (Section 12.1.8),
// required_capabilities (Section 11.1) and PSKs (Section 8.4), for all
// seven cipher suites of Section 17.1. The primitives come from package
// ciphersuite, the key schedule and secret tree from package keyschedule,
// tree arithmetic from package treemath.
//
// The API is small:
//
//   - a member makes a signature key (GenerateSignatureKey) and a
//     KeyPackage (NewKeyPackage, which returns the KeyPackageBundle holding
//     its private keys);
//   - a Group is created (CreateGroup), joined from a Welcome
//     (JoinFromWelcome) or with an external commit (JoinExternal), or
//     restored (LoadGroup);
//   - Commit adds and removes members and refreshes the committer's path;
//     MergePendingCommit applies it once the delivery service accepted it;
//     ProcessMessage handles everything else the group sends; Seal
//     encrypts application data;
//   - EpochAuthenticator, Export and Members give the security code, the
//     SFrame keys and the roster.
//
// Randomness comes in through Config.Rand and time through Config.Now, so
// tests replay deterministically (HPKE encapsulation and ECDSA signing draw
// from crypto/rand; see package ciphersuite). Config.Validator is the
// application's Authentication Service and Config.ExternalProposals its
// policy for proposals from outside the group; Conclave clients use
// AllowExternalRemoveOnly.
//
// The library holds a member's private keys and group secrets. It performs
// no I/O, starts no goroutines and logs nothing; secrets are compared with
// crypto/subtle, and every failure to decrypt or authenticate is reported
// as the single opaque ErrAuthentication. Errors wrap exported sentinels and
// name the RFC rule that failed. Processing a message that fails any check
// leaves the Group unchanged.
package mls
