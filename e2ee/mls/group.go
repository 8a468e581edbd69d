package mls

import (
	"bytes"
	"errors"
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// Group is one member's view of an MLS group in its current epoch
// (RFC 9420, Section 8.1). A Group is not safe for concurrent use. Every
// method that fails leaves the Group as it was.
type Group struct {
	cfg   Config
	suite *ciphersuite.Suite

	ctx     groupContext
	tree    *ratchetTree
	own     tm.LeafIndex
	sig     *SignatureKey
	keys    nodeKeys
	interim []byte // interim transcript hash (Section 8.2)
	confTag []byte // confirmation tag of the commit that began the epoch
	epoch   *keyschedule.Epoch
	msgKeys *trackedTree

	proposals  []cachedProposal
	pending    *pendingCommit
	resumption []resumptionPSK
	reinit     *reInit // set once a commit with ReInit is applied (Section 12.4.2)
	// past holds the kept past epochs, oldest first, for late application
	// messages (Config.PastEpochs); not saved by MarshalBinary.
	past    []*pastEpoch
	removed bool // a commit removed this member
	// updateKey is the private key of this member's proposed Update,
	// installed if a commit applies it.
	updateKey *ciphersuite.HPKEPrivateKey
	// successorPSK is the resumption PSK (usage reinit or branch) the first
	// commit of a group created by ReInitGroup or Branch injects; set only
	// while that commit is built.
	successorPSK *keyschedule.PSK
}

// cachedProposal is a proposal received (or sent) in this epoch, kept for
// commits that refer to it (RFC 9420, Section 12.1).
type cachedProposal struct {
	ref    []byte
	p      *proposal
	sender sender
}

type resumptionPSK struct {
	epoch uint64
	psk   []byte
}

// Member is one entry of the roster: a non-blank leaf of the ratchet tree.
type Member struct {
	Leaf         uint32
	Credential   Credential
	SignatureKey []byte
}

// GroupOptions configures CreateGroup.
type GroupOptions struct {
	// Extensions are the initial GroupContext extensions, for example
	// from ExternalSendersExtension and RequiredCapabilitiesExtension.
	Extensions []Extension
}

// CreateGroup creates a one-member group with the member of kp
// (RFC 9420, Section 11). The group ID should be unique; a random value of
// KDF.Nh bytes is a good choice.
func CreateGroup(groupID []byte, kp *KeyPackageBundle, opts GroupOptions, cfg Config) (*Group, error) {
	s, err := suiteFor(kp.pub.kp.cipherSuite)
	if err != nil {
		return nil, err
	}
	if len(groupID) == 0 || len(groupID) > maxSmallVec {
		return nil, fmt.Errorf("mls: group ID of %d bytes", len(groupID))
	}
	exts := cloneExtensions(opts.Extensions)
	if err := checkGroupExtensions(s, &cfg, exts); err != nil {
		return nil, err
	}
	t := newTree(1)
	leaf := kp.pub.kp.leafNode.clone()
	t.setLeaf(0, leaf)
	g := &Group{
		cfg:   cfg,
		suite: s,
		ctx: groupContext{
			version: ProtocolVersionMLS10, cipherSuite: kp.pub.kp.cipherSuite,
			groupID: bytes.Clone(groupID), epoch: 0, confirmedTranscriptHash: []byte{}, extensions: exts,
		},
		tree: t,
		own:  0,
		sig:  kp.sig,
		keys: nodeKeys{0: kp.encPriv},
	}
	if err := validateLeafNode(s, &cfg, leaf, groupID, exts, nil, leafCheck{source: sourceKeyPackage}); err != nil {
		return nil, err
	}
	g.ctx.treeHash = t.rootHash(s.Hash)
	epochSecret := make([]byte, s.Nh())
	if _, err := cfg.rand().Read(epochSecret); err != nil {
		return nil, fmt.Errorf("mls: epoch secret: %w", err)
	}
	ep, err := keyschedule.FromEpochSecret(s, epochSecret)
	if err != nil {
		return nil, err
	}
	// Section 11: confirmation tag over the empty confirmed transcript
	// hash, then the interim transcript hash.
	tag := ep.ConfirmationTag(g.ctx.confirmedTranscriptHash)
	if err := g.installEpoch(ep, tag); err != nil {
		return nil, err
	}
	return g, nil
}

// checkGroupExtensions validates GroupContext extensions: no duplicates
// (Section 13.4), decodable known extensions, valid external senders.
func checkGroupExtensions(s *ciphersuite.Suite, cfg *Config, exts extensionList) error {
	if err := exts.checkUnique(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProposal, err)
	}
	if e, ok := exts.find(ExtensionRequiredCapabilities); ok {
		var rc requiredCapabilities
		if err := decode(e.Data, &rc); err != nil {
			return fmt.Errorf("%w: required_capabilities: %w", ErrInvalidProposal, err)
		}
	}
	if e, ok := exts.find(ExtensionExternalSenders); ok {
		var es externalSenders
		if err := decode(e.Data, &es); err != nil {
			return fmt.Errorf("%w: external_senders: %w", ErrInvalidProposal, err)
		}
		// Section 5.3.1: a new or changed external_senders extension's
		// credentials are validated with the AS.
		for i, x := range es {
			if err := s.ValidateSignaturePublicKey(x.signatureKey); err != nil {
				return ruleError(ErrInvalidProposal, "12.1.8.1", "external sender %d: %v", i, err)
			}
			if err := cfg.validator().ValidateCredential(x.credential, x.signatureKey); err != nil {
				return fmt.Errorf("%w: external sender %d: %w", ErrRejectedByPolicy, i, err)
			}
		}
	}
	return nil
}

// installEpoch makes ep the current epoch, given the confirmation tag of
// the commit (or creation) that began it: it computes the interim
// transcript hash and the secret tree (Sections 8.2 and 9).
func (g *Group) installEpoch(ep *keyschedule.Epoch, confTag []byte) error {
	interim, err := keyschedule.InterimTranscriptHash(g.suite, g.ctx.confirmedTranscriptHash, confTag)
	if err != nil {
		return err
	}
	mk, err := newTrackedTree(g.suite, ep.EncryptionSecret, uint32(g.tree.leafCount()), g.cfg.OutOfOrder)
	if err != nil {
		return err
	}
	// Section 9.2: only the secret tree holds encryption_secret now, and
	// it deletes the secret as soon as it is split.
	ep.DeleteEncryptionSecret()
	g.epoch, g.msgKeys, g.interim, g.confTag = ep, mk, interim, bytes.Clone(confTag)
	g.proposals = nil
	g.pending = nil
	g.updateKey = nil
	g.resumption = append(g.resumption, resumptionPSK{epoch: g.ctx.epoch, psk: bytes.Clone(ep.ResumptionPSK)})
	if n := g.cfg.resumptionEpochs(); len(g.resumption) > n {
		g.resumption = g.resumption[len(g.resumption)-n:]
	}
	g.keys.prune(g.tree)
	return nil
}

// clone returns a copy of g that can be changed without touching g. The
// epoch secrets and message keys are shared: callers replace them, never
// change them, except the sending ratchets, which only move forward.
func (g *Group) clone() *Group {
	c := *g
	c.ctx = g.ctx.clone()
	c.tree = g.tree.clone()
	c.keys = g.keys.clone()
	c.proposals = append([]cachedProposal(nil), g.proposals...)
	c.resumption = append([]resumptionPSK(nil), g.resumption...)
	c.past = append([]*pastEpoch(nil), g.past...)
	return &c
}

func (g *Group) encodedContext() []byte { return mustEncode(&g.ctx) }

// GroupID returns the group's ID.
func (g *Group) GroupID() []byte { return bytes.Clone(g.ctx.groupID) }

// Epoch returns the current epoch number.
func (g *Group) Epoch() uint64 { return g.ctx.epoch }

// CipherSuite returns the group's cipher suite.
func (g *Group) CipherSuite() CipherSuite { return g.ctx.cipherSuite }

// OwnLeaf returns this member's leaf index.
func (g *Group) OwnLeaf() uint32 { return uint32(g.own) }

// PendingReInit returns the parameters of the ReInit proposal a commit
// applied to the group (RFC 9420, Section 11.2), or nil if none was: the
// group can then send nothing more, and a member creates its successor
// with ReInitGroup.
func (g *Group) PendingReInit() *ReInitOptions {
	if g.reinit == nil {
		return nil
	}
	return &ReInitOptions{GroupID: bytes.Clone(g.reinit.groupID), CipherSuite: g.reinit.cipherSuite, Extensions: cloneExtensions(g.reinit.extensions)}
}

// Active reports whether this client is still a member able to send: false
// once a commit removed it or reinitialized the group.
func (g *Group) Active() bool { return !g.removed && g.reinit == nil }

// EpochAuthenticator returns the epoch_authenticator of the current epoch
// (RFC 9420, Section 8.7): equal for all members that share the epoch's
// view of the group.
func (g *Group) EpochAuthenticator() []byte { return bytes.Clone(g.epoch.EpochAuthenticator) }

// Export returns MLS-Exporter(label, context, length) (RFC 9420, Section 8.5).
func (g *Group) Export(label string, context []byte, length int) ([]byte, error) {
	out, err := g.epoch.Export(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("mls: export: %w", err)
	}
	return []byte(out), nil
}

// Extensions returns the GroupContext extensions.
func (g *Group) Extensions() []Extension { return cloneExtensions(g.ctx.extensions) }

// Members returns the roster: every non-blank leaf, by leaf index.
func (g *Group) Members() []Member {
	var out []Member
	g.tree.members(func(l tm.LeafIndex, ln *leafNode) {
		out = append(out, Member{Leaf: uint32(l), Credential: ln.credential, SignatureKey: bytes.Clone(ln.signatureKey)})
	})
	return out
}

// RatchetTree returns the ratchet_tree extension value (RFC 9420,
// Section 12.4.3.3), for a joiner that gets the tree out of band.
func (g *Group) RatchetTree() []byte { return g.tree.encode() }

// externalSenders returns the group's external_senders extension.
func (g *Group) externalSenders() (externalSenders, error) {
	e, ok := g.ctx.extensions.find(ExtensionExternalSenders)
	if !ok {
		return nil, nil
	}
	var es externalSenders
	if err := decode(e.Data, &es); err != nil {
		return nil, err
	}
	return es, nil
}

// ExternalSendersExtension builds the external_senders GroupContext
// extension (RFC 9420, Section 12.1.8.1) listing one sender per signature
// key and credential.
func ExternalSendersExtension(keys [][]byte, creds []Credential) (Extension, error) {
	if len(keys) != len(creds) {
		return Extension{}, fmt.Errorf("mls: %d keys for %d credentials", len(keys), len(creds))
	}
	es := make(externalSenders, len(keys))
	for i := range keys {
		es[i] = externalSender{signatureKey: bytes.Clone(keys[i]), credential: creds[i]}
	}
	b, err := encode(es)
	return Extension{Type: ExtensionExternalSenders, Data: b}, err
}

// RequiredCapabilitiesExtension builds the required_capabilities
// GroupContext extension (RFC 9420, Section 11.1).
func RequiredCapabilitiesExtension(exts []ExtensionType, props []ProposalType, creds []CredentialType) (Extension, error) {
	rc := requiredCapabilities{extensions: exts, proposals: props, credentials: creds}
	b, err := encode(&rc)
	return Extension{Type: ExtensionRequiredCapabilities, Data: b}, err
}

// trackedTree is the epoch's secret tree (RFC 9420, Section 9) as the
// group uses it: one sending or receiving ratchet per leaf and content kind.
// Saved state keeps exactly its unconsumed secrets
// (keyschedule.SecretTree.MarshalBinary), never encryption_secret.
type trackedTree struct {
	t *keyschedule.SecretTree
}

func newTrackedTree(s *ciphersuite.Suite, encryptionSecret []byte, leaves uint32, outOfOrder uint32) (*trackedTree, error) {
	t, err := keyschedule.NewSecretTree(s, encryptionSecret, leaves, secretTreeConfig(outOfOrder))
	if err != nil {
		return nil, fmt.Errorf("mls: secret tree: %w", err)
	}
	return &trackedTree{t: t}, nil
}

func secretTreeConfig(outOfOrder uint32) keyschedule.Config {
	return keyschedule.Config{MaxForward: outOfOrder}
}

func ratchetType(handshake bool) keyschedule.RatchetType {
	if handshake {
		return keyschedule.Handshake
	}
	return keyschedule.Application
}

func (m *trackedTree) next(leaf uint32, handshake bool) (key, nonce []byte, generation uint32, err error) {
	kn, err := m.t.Next(leaf, ratchetType(handshake))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mls: message key: %w", err)
	}
	return kn.Key, kn.Nonce, kn.Generation, nil
}

// consume finds the key of a received generation (RFC 9420, Section 9.2);
// generations already used, evicted or too far ahead fail with
// ErrGeneration, and errors from use are returned unchanged.
func (m *trackedTree) consume(leaf uint32, handshake bool, generation uint32, use func(key, nonce []byte) error) error {
	err := m.t.Consume(leaf, ratchetType(handshake), generation, use)
	if errors.Is(err, keyschedule.ErrGenerationConsumed) || errors.Is(err, keyschedule.ErrGenerationTooFar) {
		return fmt.Errorf("%w: %w", ErrGeneration, err)
	}
	return err
}
