// Package mls implements the Messaging Layer Security protocol, RFC 9420,
// for Conclave's end-to-end encrypted meetings.
//
// # What is implemented
//
// By section of RFC 9420:
//
//   - 2.1: the TLS presentation language with MLS varints (package
//     internal/tls); every decoder bounds sizes before allocating.
//   - 4, 7, Appendix C: the array-based ratchet tree (package treemath),
//     resolutions and filtered direct paths (4.1), LeafNodes and their
//     validation (7.2, 7.3), UpdatePath creation, merge and decryption
//     (7.4-7.6), adding and truncating leaves (7.7), tree hashes cached per
//     node and recomputed only along changed paths (7.8), parent hashes and
//     their verification (7.9, 7.9.2).
//   - 5: the seven cipher suites of 17.1 (package ciphersuite), KeyPackage
//     and proposal references (5.2), basic credentials and the
//     Authentication Service as a pluggable CredentialValidator called at
//     every point 5.3.1 lists; X.509 credentials are carried (decoded,
//     encoded, hashed) and judged only by a validator that understands them.
//   - 6: PublicMessage with membership tags (6.2) and PrivateMessage with
//     sender data encryption and padding (6.3, 16.4), content signatures and
//     confirmation tags (6.1).
//   - 8: the key schedule (package keyschedule), transcript hashes (8.2),
//     external initialization (8.3), PSKs of both types (8.4), the exporter
//     (8.5), resumption PSKs (8.6) and the epoch authenticator (8.7); 9: the
//     secret tree with deletion of consumed secrets (9.2).
//   - 10: KeyPackages and their validation (10.1).
//   - 11: group creation, required_capabilities (11.1), reinitialization
//     (11.2: ProposeReInit, CommitOptions.ReInit and CommitReInit,
//     ReInitGroup, JoinOptions.Resumption) and subgroup branching (11.3:
//     Branch).
//   - 12.1: Add, Update, Remove, PreSharedKey (ProposePSK,
//     ProposeResumptionPSK, CommitOptions.ExternalPSKs), ReInit,
//     ExternalInit and GroupContextExtensions (ProposeGroupContextExtensions,
//     CommitOptions.SetExtensions) proposals; external senders and external
//     proposals (12.1.8, ExternalRemove, Config.ExternalProposals).
//   - 12.2, 12.3: proposal list validation and application, with errors
//     naming the rule that failed.
//   - 12.4: commits by reference and by value, with and without a path;
//     Welcome with the ratchet_tree extension and GroupInfo (12.4.3,
//     12.4.3.1, 12.4.3.3); external commits, including resync after a lost
//     state (12.4.3.2).
//   - 13.4: extension handling; 14: epochs and sequencing are the delivery
//     service's, which InspectMessage serves.
//
// # API
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
// # Choices where the RFC leaves room, and deliberate deviations
//
//   - Lifetimes (7.3): a LeafNode this client sends MUST be within its
//     lifetime and is checked; for received leaves the check is only
//     RECOMMENDED, so leaves that expired on the way (Updates, Adds
//     committed later) and the leaves of a tree being joined are accepted
//     on their lifetime. Config.MaxLifetime bounds a KeyPackage's total
//     lifetime (7.2 asks applications to).
//   - Commits (12.4) include every valid cached proposal except the
//     committer's own Updates and second proposals for one leaf (a Remove
//     wins over an Update, the newest Update over older ones). Cached ReInit
//     proposals are committed only on request (CommitReInit), alone, since a
//     ReInit ends the group (12.2). Every commit carries a path unless
//     CommitOptions.NoPath and the proposals allow it.
//   - Handshake messages are PrivateMessages unless Config.PublicHandshake
//     (Section 6: they SHOULD be private); external commits are public, as
//     they must be.
//   - The first commit of a group created by ReInitGroup or Branch carries
//     the PreSharedKey proposal of the resumption PSK with usage reinit or
//     branch, so that its Welcome names the PSK (11.2, 11.3). The RFC calls
//     such a proposal invalid; nobody processes that commit (the others join
//     from the Welcome), and in every other commit this package refuses it.
//     For a branch, "the same identity" (11.3) is the application's
//     CredentialValidator.ValidateSuccessor.
//   - Resumption PSKs are kept for Config.ResumptionEpochs epochs (8.6);
//     a joiner has none of the group's, so a Welcome naming an application
//     resumption PSK fails with ErrMissingPSK.
//   - Out-of-order messages (9.2): a ratchet may jump Config.OutOfOrder
//     generations ahead and keeps 128 skipped keys.
//   - Late application messages (9.2, 15.3): the delivery service orders
//     a commit before a chat message sealed just before it, so the group
//     keeps the last Config.PastEpochs epochs (DefaultPastEpochs, 2) to
//     open application messages of those epochs: their sender_data_secret,
//     secret tree and membership, never init_secret, path keys or other
//     epoch secrets. The sender must have been a member in that epoch, not
//     removed since, and its signature is checked over that epoch's
//     GroupContext; Received.Late and Received.Epoch report it. Proposals
//     and commits of past epochs still fail with ErrWrongEpoch (12.4.2).
//     Past epochs are wiped when they leave the window, when a commit
//     removes this member, and on ForgetPastEpochs; saved state does not
//     keep them.
//   - Saved state (LoadGroup, MarshalBinary) is this package's own,
//     versioned format. It keeps the epoch's secrets and exactly the secret
//     tree's unconsumed secrets, never encryption_secret (9.2); a pending
//     commit is not saved. Version 1 states are refused with
//     ErrStateVersion.
//
// # Security
//
// The library holds a member's private keys and group secrets. It performs
// no I/O, starts no goroutines and logs nothing; secrets are compared with
// crypto/subtle, and every failure to decrypt or authenticate is reported
// as the single opaque ErrAuthentication. Errors wrap exported sentinels and
// name the RFC rule that failed. Processing a message that fails any check
// leaves the Group unchanged.
package mls
