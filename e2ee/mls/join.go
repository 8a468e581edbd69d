package mls

import (
	"bytes"
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// welcome builds the Welcome for the members added by a commit (RFC 9420,
// Section 12.4.3.1). w is the group in the new epoch.
func (w *Group) welcome(ep *keyschedule.Epoch, a *applied, ps *pathSecrets, opts CommitOptions) ([]byte, error) {
	var exts extensionList
	if !opts.OmitRatchetTree {
		exts = append(exts, Extension{Type: ExtensionRatchetTree, Data: w.tree.encode()})
	}
	gi, err := w.signedGroupInfo(exts)
	if err != nil {
		return nil, err
	}
	key, nonce, err := keyschedule.WelcomeKeyNonce(w.suite, ep.WelcomeSecret)
	if err != nil {
		return nil, err
	}
	egi, err := w.suite.Seal(key, nonce, nil, mustEncode(gi))
	if err != nil {
		return nil, fmt.Errorf("mls: encrypt GroupInfo: %w", err)
	}
	wm := &welcome{cipherSuite: w.ctx.cipherSuite, encryptedGroupInfo: egi}
	for i, l := range a.added {
		gs := groupSecrets{joinerSecret: ep.JoinerSecret, psks: a.psks}
		if ps != nil {
			// The path secret of the lowest common ancestor of the new
			// member and the committer (Section 12.4.3.1).
			gs.pathSecret = ps.secretFor(tm.CommonAncestor(l.Node(), w.own.Node()))
		}
		kp := a.addedKPs[i]
		kem, ct, err := w.suite.EncryptWithLabel(kp.initKey, "Welcome", egi, mustEncode(&gs))
		if err != nil {
			return nil, fmt.Errorf("mls: encrypt group secrets: %w", err)
		}
		wm.secrets = append(wm.secrets, encryptedGroupSecrets{
			newMember:             w.suite.MakeKeyPackageRef(mustEncode(kp)),
			encryptedGroupSecrets: hpkeCiphertext{kemOutput: kem, ciphertext: ct},
		})
	}
	return encode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatWelcome, welcome: wm})
}

// signedGroupInfo returns the GroupInfo of the current epoch signed by this
// member (RFC 9420, Section 12.4.3).
func (g *Group) signedGroupInfo(exts extensionList) (*groupInfo, error) {
	gi := &groupInfo{groupContext: g.ctx.clone(), extensions: exts, confirmationTag: g.confTag, signer: uint32(g.own)}
	var w tls.Writer
	gi.marshalTBS(&w)
	tbs, _ := w.Bytes()
	sig, err := g.suite.SignWithLabel(g.sig.priv, "GroupInfoTBS", tbs)
	if err != nil {
		return nil, fmt.Errorf("mls: sign GroupInfo: %w", err)
	}
	gi.signature = sig
	return gi, nil
}

// GroupInfoOptions says what GroupInfo includes.
type GroupInfoOptions struct {
	// RatchetTree includes the ratchet_tree extension.
	RatchetTree bool
	// ExternalPub includes the external_pub extension, which lets a
	// non-member join with an external commit (Section 12.4.3.2).
	ExternalPub bool
}

// GroupInfo returns a signed GroupInfo for the current epoch as an
// MLSMessage (RFC 9420, Section 12.4.3).
func (g *Group) GroupInfo(opts GroupInfoOptions) ([]byte, error) {
	var exts extensionList
	if opts.RatchetTree {
		exts = append(exts, Extension{Type: ExtensionRatchetTree, Data: g.tree.encode()})
	}
	if opts.ExternalPub {
		priv, err := g.suite.DeriveKeyPair(g.epoch.ExternalSecret)
		if err != nil {
			return nil, err
		}
		exts = append(exts, Extension{Type: ExtensionExternalPub, Data: mustEncode(&externalPub{key: priv.PublicKey()})})
	}
	gi, err := g.signedGroupInfo(exts)
	if err != nil {
		return nil, err
	}
	return encode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatGroupInfo, groupInfo: gi})
}

// verifyGroupInfo checks a GroupInfo's signature against its signer's leaf
// in t and the tree against the GroupContext (Section 12.4.3.1).
func verifyGroupInfo(s *ciphersuite.Suite, cfg *Config, gi *groupInfo, t *ratchetTree) error {
	signer := t.leaf(tm.LeafIndex(gi.signer))
	if signer == nil {
		return ruleError(ErrInvalidWelcome, "12.4.3.1", "GroupInfo signer %d is blank", gi.signer)
	}
	var w tls.Writer
	gi.marshalTBS(&w)
	tbs, _ := w.Bytes()
	if err := s.VerifyWithLabel(signer.signatureKey, "GroupInfoTBS", tbs, gi.signature); err != nil {
		return fmt.Errorf("%w: GroupInfo signature (RFC 9420, Section 12.4.3.1)", ErrAuthentication)
	}
	if gi.groupContext.version != ProtocolVersionMLS10 {
		return ruleError(ErrUnsupported, "12.4.3.1", "protocol version %d", gi.groupContext.version)
	}
	if err := gi.extensions.checkUnique(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidWelcome, err)
	}
	if err := checkGroupExtensions(s, cfg, gi.groupContext.extensions); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidWelcome, err)
	}
	return validateTree(s, cfg, t, &gi.groupContext)
}

// treeFor returns the ratchet tree from the GroupInfo's ratchet_tree
// extension or, failing that, from tree (given out of band).
func treeFor(gi *groupInfo, tree []byte) (*ratchetTree, error) {
	if e, ok := gi.extensions.find(ExtensionRatchetTree); ok {
		return decodeTree(e.Data)
	}
	if tree == nil {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.3", "no ratchet tree in the GroupInfo and none given")
	}
	return decodeTree(tree)
}

// JoinOptions configures joining a group.
type JoinOptions struct {
	// RatchetTree is the group's tree (ratchet_tree extension encoding)
	// when the GroupInfo does not carry it.
	RatchetTree []byte
	// Resumption is this client's state of the group that the one being
	// joined reinitializes or branches from (RFC 9420, Sections 11.2 and
	// 11.3): its resumption PSK is injected by the Welcome, and the new
	// group is checked against it.
	Resumption *Group
}

// JoinFromWelcome joins a group with a Welcome addressed to kp
// (RFC 9420, Section 12.4.3.1).
func JoinFromWelcome(welcomeMsg []byte, kp *KeyPackageBundle, opts JoinOptions, cfg Config) (*Group, error) {
	var m mlsMessage
	if err := decode(welcomeMsg, &m); err != nil {
		return nil, err
	}
	if m.wireFormat != WireFormatWelcome {
		return nil, fmt.Errorf("%w: wire format %v, want mls_welcome", ErrMalformed, m.wireFormat)
	}
	wm := m.welcome
	if wm.cipherSuite != kp.pub.kp.cipherSuite {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "Welcome cipher suite differs from the KeyPackage's")
	}
	s, err := suiteFor(wm.cipherSuite)
	if err != nil {
		return nil, err
	}
	var egs *encryptedGroupSecrets
	for i := range wm.secrets {
		if bytes.Equal(wm.secrets[i].newMember, kp.pub.ref) {
			egs = &wm.secrets[i]
			break
		}
	}
	if egs == nil {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "no entry for this KeyPackage")
	}
	gsBytes, err := s.DecryptWithLabel(kp.initPriv, "Welcome", wm.encryptedGroupInfo, egs.encryptedGroupSecrets.kemOutput, egs.encryptedGroupSecrets.ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: group secrets (RFC 9420, Section 12.4.3.1)", ErrAuthentication)
	}
	var gs groupSecrets
	if err := decode(gsBytes, &gs); err != nil {
		return nil, err
	}
	if len(gs.joinerSecret) != s.Nh() {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "joiner_secret of %d bytes", len(gs.joinerSecret))
	}
	// PSKs (Section 12.4.3.1): all must be available; resumption PSKs
	// with usage reinit or branch must be alone and come from
	// opts.Resumption. Other resumption PSKs belong to a group this client
	// is not in yet, so only external PSKs are found.
	probe := &Group{cfg: cfg, suite: s}
	var psks []keyschedule.PSK
	var successor resumptionPSKUsage
	for i := range gs.psks {
		id := &gs.psks[i]
		var v []byte
		if id.pskType == pskResumption && id.usage != usageApplication {
			if len(gs.psks) > 1 {
				return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "reinit or branch PSK together with other PSKs")
			}
			successor = id.usage
			v, err = resumptionFrom(opts.Resumption, id)
		} else {
			v, err = probe.lookupPSK(id)
		}
		if err != nil {
			return nil, err
		}
		psks = append(psks, keyschedule.PSK{ID: mustEncode(id), Secret: v})
	}
	pskSecret, err := keyschedule.PSKSecret(s, psks)
	if err != nil {
		return nil, err
	}
	key, nonce, err := keyschedule.WelcomeKeyNonce(s, keyschedule.WelcomeSecretFromJoiner(s, gs.joinerSecret, pskSecret))
	if err != nil {
		return nil, err
	}
	giBytes, err := s.Open(key, nonce, nil, wm.encryptedGroupInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: GroupInfo (RFC 9420, Section 12.4.3.1)", ErrAuthentication)
	}
	var gi groupInfo
	if err := decode(giBytes, &gi); err != nil {
		return nil, err
	}
	if gi.groupContext.cipherSuite != kp.pub.kp.cipherSuite {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "GroupInfo cipher suite differs from the KeyPackage's")
	}
	t, err := treeFor(&gi, opts.RatchetTree)
	if err != nil {
		return nil, err
	}
	if err := verifyGroupInfo(s, &cfg, &gi, t); err != nil {
		return nil, err
	}
	if successor != 0 {
		if err := checkSuccessor(opts.Resumption, successor, &gi.groupContext, t, &cfg); err != nil {
			return nil, err
		}
	}
	// Section 13.4: the joiner must support every GroupContext extension.
	for _, e := range gi.groupContext.extensions {
		if !kp.pub.kp.leafNode.capabilities.supportsExtension(e.Type) {
			return nil, ruleError(ErrInvalidWelcome, "13.4", "GroupContext extension %#04x not supported", uint16(e.Type))
		}
	}
	// Find our leaf: identical to the KeyPackage's leaf node.
	mine := mustEncode(&kp.pub.kp.leafNode)
	own := tm.LeafIndex(0)
	found := false
	t.members(func(l tm.LeafIndex, ln *leafNode) {
		if !found && bytes.Equal(mustEncode(ln), mine) {
			own, found = l, true
		}
	})
	if !found {
		return nil, ruleError(ErrInvalidWelcome, "12.4.3.1", "this client's leaf is not in the tree")
	}
	g := &Group{cfg: cfg, suite: s, ctx: gi.groupContext, tree: t, own: own, sig: kp.sig, keys: nodeKeys{own.Node(): kp.encPriv}}
	if gs.pathSecret != nil {
		ca := tm.CommonAncestor(own.Node(), tm.LeafIndex(gi.signer).Node())
		if err := g.installPathSecrets(ca, gs.pathSecret); err != nil {
			return nil, err
		}
	}
	ep, err := keyschedule.FromJoinerSecret(s, gs.joinerSecret, pskSecret, g.encodedContext())
	if err != nil {
		return nil, err
	}
	if !ep.VerifyConfirmationTag(gi.groupContext.confirmedTranscriptHash, gi.confirmationTag) {
		return nil, fmt.Errorf("%w: GroupInfo confirmation tag (RFC 9420, Section 12.4.3.1)", ErrAuthentication)
	}
	if err := g.installEpoch(ep, gi.confirmationTag); err != nil {
		return nil, err
	}
	return g, nil
}

// installPathSecrets derives the private keys of node x and of every
// non-blank node above it from x's path secret, checking each against the
// tree (RFC 9420, Section 12.4.3.1).
func (g *Group) installPathSecrets(x tm.NodeIndex, secret []byte) error {
	n := g.tree.leafCount()
	nodes := append([]tm.NodeIndex{x}, tm.DirectPath(x, n)...)
	for _, y := range nodes {
		p := g.tree.parentAt(y)
		if p == nil {
			continue
		}
		priv, err := nodeKeyPair(g.suite, secret)
		if err != nil {
			return err
		}
		if !bytes.Equal(priv.PublicKey(), p.encryptionKey) {
			return ruleError(ErrInvalidWelcome, "12.4.3.1", "path secret does not match node %d", y)
		}
		g.keys[y] = priv
		secret = g.suite.DeriveSecret(secret, "path")
	}
	return nil
}

// ExternalJoinOptions configures JoinExternal.
type ExternalJoinOptions struct {
	// RatchetTree is the tree when the GroupInfo does not carry it.
	RatchetTree []byte
	// Resync removes the leaf this client held before (for example after
	// losing its state), in the same commit (Section 12.4.3.2).
	Resync  bool
	OldLeaf uint32
	// AuthenticatedData is sent in the clear with the commit.
	AuthenticatedData []byte
}

// JoinExternal joins a group through an external commit (RFC 9420,
// Section 12.4.3.2) from a GroupInfo that carries external_pub. It returns
// the new group, already in the new epoch, and the commit to send; if the
// delivery service refuses the commit, discard the group and try again
// with a fresh GroupInfo.
func JoinExternal(groupInfoMsg []byte, kp *KeyPackageBundle, opts ExternalJoinOptions, cfg Config) (*Group, []byte, error) {
	var m mlsMessage
	if err := decode(groupInfoMsg, &m); err != nil {
		return nil, nil, err
	}
	if m.wireFormat != WireFormatGroupInfo {
		return nil, nil, fmt.Errorf("%w: wire format %v, want mls_group_info", ErrMalformed, m.wireFormat)
	}
	gi := m.groupInfo
	if gi.groupContext.cipherSuite != kp.pub.kp.cipherSuite {
		return nil, nil, ruleError(ErrInvalidWelcome, "12.4.3.2", "GroupInfo cipher suite differs from the KeyPackage's")
	}
	s, err := suiteFor(gi.groupContext.cipherSuite)
	if err != nil {
		return nil, nil, err
	}
	t, err := treeFor(gi, opts.RatchetTree)
	if err != nil {
		return nil, nil, err
	}
	if err := verifyGroupInfo(s, &cfg, gi, t); err != nil {
		return nil, nil, err
	}
	e, ok := gi.extensions.find(ExtensionExternalPub)
	if !ok {
		return nil, nil, ruleError(ErrInvalidWelcome, "12.4.3.2", "GroupInfo has no external_pub")
	}
	var xp externalPub
	if err := decode(e.Data, &xp); err != nil {
		return nil, nil, err
	}
	kem, initSecret, err := keyschedule.ExternalInit(s, xp.key)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: external init: %w", err)
	}
	interim, err := keyschedule.InterimTranscriptHash(s, gi.groupContext.confirmedTranscriptHash, gi.confirmationTag)
	if err != nil {
		return nil, nil, err
	}
	old := &Group{cfg: cfg, suite: s, ctx: gi.groupContext, tree: t, keys: nodeKeys{}, sig: kp.sig, interim: interim}
	oldCtx := old.encodedContext()

	list := []resolvedProposal{{p: &proposal{typ: ProposalExternalInit, kemOutput: kem}, sender: sender{typ: SenderNewMemberCommit}}}
	if opts.Resync {
		list = append(list, resolvedProposal{p: &proposal{typ: ProposalRemove, removed: opts.OldLeaf}, sender: sender{typ: SenderNewMemberCommit}})
	}
	w := old.clone()
	a, err := w.applyProposals(list, sender{typ: SenderNewMemberCommit}, 0, true, true)
	if err != nil {
		return nil, nil, err
	}
	own := w.tree.freeLeaf()
	if err := w.tree.ensureLeaf(own); err != nil {
		return nil, nil, err
	}
	w.own = own
	w.ctx.epoch = gi.groupContext.epoch + 1
	leaf := kp.pub.kp.leafNode.clone()
	leaf.lifetime = lifetime{}
	if err := validateLeafNode(s, &cfg, &kp.pub.kp.leafNode, nil, w.ctx.extensions, nil, leafCheck{source: sourceKeyPackage}); err != nil {
		return nil, nil, err
	}
	up, ps, err := createUpdatePath(s, cfg.rand(), w.tree, w.keys, own, leaf, kp.sig.priv, w.ctx.groupID, nil,
		func(th []byte) []byte { w.ctx.treeHash = th; return w.encodedContext() })
	if err != nil {
		return nil, nil, err
	}
	w.ctx.treeHash = w.tree.rootHash(s.Hash)
	c := &commit{path: up}
	for _, rp := range list {
		c.proposals = append(c.proposals, proposalOrRef{proposal: rp.p})
	}
	ac := &authenticatedContent{wireFormat: WireFormatPublicMessage, content: framedContent{
		groupID: gi.groupContext.groupID, epoch: gi.groupContext.epoch, sender: sender{typ: SenderNewMemberCommit},
		authenticatedData: opts.AuthenticatedData, contentType: ContentCommit, commit: c,
	}}
	if ac.auth.signature, err = signContent(s, kp.sig.priv, ac.wireFormat, &ac.content, oldCtx); err != nil {
		return nil, nil, err
	}
	w.ctx.confirmedTranscriptHash = confirmedTranscriptHash(s, interim, ac)
	pskSecret, err := keyschedule.PSKSecret(s, a.pskValues)
	if err != nil {
		return nil, nil, err
	}
	ep, err := keyschedule.FromInitSecret(s, initSecret, ps.commitSecret, pskSecret, w.encodedContext())
	if err != nil {
		return nil, nil, err
	}
	ac.auth.confirmationTag = ep.ConfirmationTag(w.ctx.confirmedTranscriptHash)
	msg, err := encode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatPublicMessage,
		public: &publicMessage{content: ac.content, auth: ac.auth}})
	if err != nil {
		return nil, nil, err
	}
	if err := w.installEpoch(ep, ac.auth.confirmationTag); err != nil {
		return nil, nil, err
	}
	w.resumption = w.resumption[len(w.resumption)-1:]
	return w, msg, nil
}
