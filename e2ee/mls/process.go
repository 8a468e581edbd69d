package mls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// Sender identifies who sent a message.
type Sender struct {
	Type SenderType
	// Index is the leaf index of a member, or the index in
	// external_senders of an external sender.
	Index uint32
}

// Received is what ProcessMessage learned from a message.
type Received struct {
	Type   ContentType
	Sender Sender
	Epoch  uint64 // the epoch the message was sent in
	// Late reports an application message sealed in a past epoch that
	// this member keeps for late messages (Config.PastEpochs; RFC 9420,
	// Section 15.3): Epoch is older than the group's current epoch.
	Late bool
	// From is the sending member as of Epoch (its leaf, credential and
	// signature key), for a member sender; nil otherwise. For a late
	// message its leaf may hold another member, or none, by now.
	From              *Member
	AuthenticatedData []byte
	// ApplicationData is the plaintext of an application message.
	ApplicationData []byte
	// Proposal is the type of a proposal, now cached for a later commit.
	Proposal ProposalType
	// Commit summarizes a commit, now applied.
	Commit *CommitSummary
}

// CommitSummary describes the epoch change a commit made.
type CommitSummary struct {
	NewEpoch uint64
	Added    []uint32 // leaves of members added
	Removed  []uint32 // leaves of members removed
	Updated  []uint32 // leaves of members whose Update was applied
	// SelfRemoved reports that the commit removed this member: the group
	// can no longer be used (RFC 9420, Section 12.4.2).
	SelfRemoved bool
	// ReInit reports that the commit carried a ReInit proposal: the group
	// can no longer send (RFC 9420, Section 12.4.2).
	ReInit bool
}

// ProcessMessage verifies and applies an MLSMessage carrying a
// PublicMessage or PrivateMessage (RFC 9420, Sections 6, 12.1 and 12.4.2).
// Application data is returned; proposals are cached; a commit moves the
// group to the next epoch. If this member's own pending commit comes back,
// it is merged. On any error the Group is unchanged.
func (g *Group) ProcessMessage(data []byte) (*Received, error) {
	if g.pending != nil && bytes.Equal(data, g.pending.message) {
		return g.MergePendingCommit()
	}
	var m mlsMessage
	if err := decode(data, &m); err != nil {
		return nil, err
	}
	if g.removed {
		return nil, ErrNotMember
	}
	var out *Received
	err := g.unprotect(&m, func(ac *authenticatedContent) error {
		from := g.senderMember(&ac.content) // before a commit changes the tree
		r, err := g.handle(ac)
		if r != nil {
			r.From = from
		}
		out = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// unprotect authenticates a PublicMessage or decrypts and authenticates a
// PrivateMessage and passes the content to then; for a PrivateMessage the
// message key is consumed only if then succeeds.
func (g *Group) unprotect(m *mlsMessage, then func(*authenticatedContent) error) error {
	switch m.wireFormat {
	case WireFormatPublicMessage:
		ac, err := g.unprotectPublic(m.public)
		if err != nil {
			return err
		}
		return then(ac)
	case WireFormatPrivateMessage:
		return g.unprotectPrivate(m.private, then)
	default:
		return fmt.Errorf("%w: %v is not a group message", ErrMalformed, m.wireFormat)
	}
}

func (g *Group) checkHeader(groupID []byte, epoch uint64) error {
	if !bytes.Equal(groupID, g.ctx.groupID) {
		return ErrWrongGroup
	}
	if epoch != g.ctx.epoch {
		return fmt.Errorf("%w: message epoch %d, group epoch %d (RFC 9420, Section 12.4.2)", ErrWrongEpoch, epoch, g.ctx.epoch)
	}
	return nil
}

// unprotectPublic authenticates a PublicMessage (RFC 9420, Section 6.2).
func (g *Group) unprotectPublic(pm *publicMessage) (*authenticatedContent, error) {
	c := &pm.content
	if err := g.checkHeader(c.groupID, c.epoch); err != nil {
		return nil, err
	}
	if c.contentType == ContentApplication {
		return nil, ruleError(ErrMalformed, "6", "application data in a PublicMessage")
	}
	ac := &authenticatedContent{wireFormat: WireFormatPublicMessage, content: *c, auth: pm.auth}
	ctx := g.encodedContext()
	var sigKey []byte
	switch c.sender.typ {
	case SenderMember:
		ln := g.tree.leaf(tm.LeafIndex(c.sender.index))
		if ln == nil {
			return nil, ruleError(ErrAuthentication, "6.1", "sender leaf %d is blank", c.sender.index)
		}
		// Section 6.2: the membership tag MUST be checked.
		var w = mustEncodeTBM(ac, ctx)
		if !g.suite.VerifyMAC(g.epoch.MembershipKey, w, pm.membershipTag) {
			return nil, fmt.Errorf("%w: membership tag (RFC 9420, Section 6.2)", ErrAuthentication)
		}
		sigKey = ln.signatureKey
	case SenderExternal:
		if c.contentType != ContentProposal {
			return nil, ruleError(ErrMalformed, "6.1", "external sender with content type %v", c.contentType)
		}
		es, err := g.externalSenders()
		if err != nil || int(c.sender.index) >= len(es) {
			return nil, ruleError(ErrAuthentication, "6.1", "unknown external sender %d", c.sender.index)
		}
		sigKey = es[c.sender.index].signatureKey
	case SenderNewMemberProposal:
		if c.contentType != ContentProposal || c.proposal.typ != ProposalAdd {
			return nil, ruleError(ErrMalformed, "6.1", "new_member_proposal sender without an Add proposal")
		}
		sigKey = c.proposal.add.leafNode.signatureKey
	case SenderNewMemberCommit:
		if c.contentType != ContentCommit || c.commit.path == nil {
			return nil, ruleError(ErrMalformed, "6.1", "new_member_commit sender without a commit path")
		}
		sigKey = c.commit.path.leafNode.signatureKey
	}
	if err := verifyContent(g.suite, sigKey, ac, ctx); err != nil {
		return nil, err
	}
	return ac, nil
}

func mustEncodeTBM(ac *authenticatedContent, groupCtx []byte) []byte {
	tbs := framedContentTBS(ac.wireFormat, &ac.content, groupCtx)
	var w = append([]byte(nil), tbs...)
	b := mustEncode(authOnly{ac})
	return append(w, b...)
}

// authOnly encodes FramedContentAuthData for AuthenticatedContentTBM.
type authOnly struct{ ac *authenticatedContent }

func (a authOnly) marshal(w *tls.Writer) { a.ac.auth.marshal(w, a.ac.content.contentType) }

// unprotectPrivate decrypts and authenticates a PrivateMessage (RFC 9420,
// Section 6.3). Application messages of a kept past epoch are opened with
// that epoch's keys (unprotectPast).
func (g *Group) unprotectPrivate(pm *privateMessage, then func(*authenticatedContent) error) error {
	if err := g.checkHeader(pm.groupID, pm.epoch); errors.Is(err, ErrWrongEpoch) {
		return g.unprotectPast(pm, then)
	} else if err != nil {
		return err
	}
	sd, err := decryptSenderData(g.suite, g.epoch.SenderDataSecret, pm)
	if err != nil {
		return err
	}
	ln := g.tree.leaf(tm.LeafIndex(sd.leafIndex))
	if ln == nil {
		return ruleError(ErrAuthentication, "6.3.2", "sender data names blank leaf %d", sd.leafIndex)
	}
	ctx := g.encodedContext()
	// The whole message is handled inside the key's use, so that the
	// key is consumed only if everything succeeds.
	return decryptContent(g.suite, g.msgKeys, pm, sd, func(ac *authenticatedContent) error {
		if err := verifyContent(g.suite, ln.signatureKey, ac, ctx); err != nil {
			return err
		}
		return then(ac)
	})
}

// handle acts on authenticated content.
func (g *Group) handle(ac *authenticatedContent) (*Received, error) {
	c := &ac.content
	r := &Received{Type: c.contentType, Sender: Sender{Type: c.sender.typ, Index: c.sender.index},
		Epoch: c.epoch, Late: c.epoch != g.ctx.epoch, AuthenticatedData: c.authenticatedData}
	switch c.contentType {
	case ContentApplication:
		r.ApplicationData = c.applicationData
		return r, nil
	case ContentProposal:
		if c.sender.typ == SenderMember && c.sender.index == uint32(g.own) {
			return nil, ruleError(ErrInvalidProposal, "12.1", "own proposal received back")
		}
		if err := g.checkReceivedProposal(c.proposal, c.sender); err != nil {
			return nil, err
		}
		g.cacheProposal(ac)
		r.Proposal = c.proposal.typ
		return r, nil
	case ContentCommit:
		if c.sender.typ == SenderMember && c.sender.index == uint32(g.own) {
			return nil, ruleError(ErrInvalidCommit, "12.4.2", "own commit received that is not the pending one")
		}
		next, sum, err := g.processCommit(ac)
		if err != nil {
			return nil, err
		}
		g.adopt(next)
		r.Commit = sum
		return r, nil
	}
	return nil, ErrMalformed
}

// processCommit computes the state after a commit (RFC 9420, Section
// 12.4.2) on a copy of g and returns it; g is not modified.
func (g *Group) processCommit(ac *authenticatedContent) (*Group, *CommitSummary, error) {
	c := ac.content.commit
	snd := ac.content.sender
	external := snd.typ == SenderNewMemberCommit
	if snd.typ != SenderMember && !external {
		return nil, nil, ruleError(ErrInvalidCommit, "12.4", "commit from sender type %v", snd.typ)
	}
	if external && ac.wireFormat != WireFormatPublicMessage {
		return nil, nil, ruleError(ErrInvalidCommit, "12.4.3.2", "external commit not in a PublicMessage")
	}
	if g.reinit != nil {
		return nil, nil, ErrReInit
	}
	w := g.clone()
	list := make([]resolvedProposal, 0, len(c.proposals))
	for _, por := range c.proposals {
		if por.proposal != nil {
			list = append(list, resolvedProposal{p: por.proposal, sender: snd})
			continue
		}
		cp, ok := g.findProposal(por.reference)
		if !ok {
			return nil, nil, fmt.Errorf("%w: %x", ErrUnknownProposal, por.reference)
		}
		list = append(list, resolvedProposal{p: cp.p, sender: cp.sender, ref: por.reference})
	}
	committer := tm.LeafIndex(snd.index)
	a, err := w.applyProposals(list, snd, committer, external, false)
	if err != nil {
		return nil, nil, err
	}
	if a.pathRequired && c.path == nil {
		return nil, nil, ruleError(ErrInvalidCommit, "12.4", "commit without a path covers proposals that require one")
	}
	if external {
		if c.path == nil {
			return nil, nil, ruleError(ErrInvalidCommit, "12.4.3.2", "external commit without a path")
		}
		committer = w.tree.freeLeaf()
	}
	newLeaves := map[tm.LeafIndex]bool{}
	for _, l := range a.added {
		newLeaves[l] = true
	}
	sum := &CommitSummary{NewEpoch: g.ctx.epoch + 1}
	for _, l := range a.added {
		sum.Added = append(sum.Added, uint32(l))
	}
	for _, l := range a.removed {
		sum.Removed = append(sum.Removed, uint32(l))
		if l == g.own {
			sum.SelfRemoved = true
		}
	}
	for _, l := range a.updated {
		sum.Updated = append(sum.Updated, uint32(l))
		if l == g.own {
			if g.updateKey == nil || !bytes.Equal(g.updateKey.PublicKey(), w.tree.leaf(l).encryptionKey) {
				return nil, nil, ruleError(ErrInvalidCommit, "12.1.2", "commit applies an Update of this member that it did not send")
			}
			w.keys[l.Node()] = g.updateKey
		}
	}
	if sum.SelfRemoved {
		// Section 12.4.2: the removed member cannot follow the group any
		// more; it keeps nothing but the knowledge that it was removed,
		// not even the past epochs kept for late messages.
		w.removed = true
		w.past = nil
		return w, sum, nil
	}

	w.ctx.epoch = g.ctx.epoch + 1
	var commitSecret []byte
	if c.path != nil {
		if err := w.checkCommitLeaf(g, c.path, committer, external, a); err != nil {
			return nil, nil, err
		}
		if external {
			if err := w.tree.ensureLeaf(committer); err != nil {
				return nil, nil, err
			}
		}
		steps, err := mergeUpdatePath(w.suite, w.tree, committer, c.path, newLeaves)
		if err != nil {
			return nil, nil, err
		}
		w.ctx.treeHash = w.tree.rootHash(w.suite.Hash)
		provisional := w.encodedContext()
		commitSecret, _, err = decryptUpdatePath(w.suite, w.tree, w.keys, w.own, steps, c.path, newLeaves, provisional)
		if err != nil {
			return nil, nil, err
		}
	} else {
		w.ctx.treeHash = w.tree.rootHash(w.suite.Hash)
	}

	// Transcript hashes and key schedule (Sections 8 and 8.2).
	w.ctx.confirmedTranscriptHash = confirmedTranscriptHash(w.suite, g.interim, ac)
	initSecret := []byte(g.epoch.InitSecret)
	if a.externalInit != nil {
		priv, err := g.suite.DeriveKeyPair(g.epoch.ExternalSecret)
		if err != nil {
			return nil, nil, err
		}
		initSecret, err = keyschedule.ExternalInitSecret(w.suite, priv, a.externalInit)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: external init (RFC 9420, Section 8.3)", ErrAuthentication)
		}
	}
	pskSecret, err := keyschedule.PSKSecret(w.suite, a.pskValues)
	if err != nil {
		return nil, nil, err
	}
	ep, err := keyschedule.FromInitSecret(w.suite, initSecret, commitSecret, pskSecret, w.encodedContext())
	if err != nil {
		return nil, nil, err
	}
	if !ep.VerifyConfirmationTag(w.ctx.confirmedTranscriptHash, ac.auth.confirmationTag) {
		return nil, nil, fmt.Errorf("%w: confirmation tag (RFC 9420, Section 12.4.2)", ErrAuthentication)
	}
	if err := w.installEpoch(ep, ac.auth.confirmationTag); err != nil {
		return nil, nil, err
	}
	w.pushPast(g, a.removed)
	if a.reinit != nil {
		w.reinit = a.reinit
		sum.ReInit = true
	}
	return w, sum, nil
}

// checkCommitLeaf validates the committer's new leaf node (RFC 9420,
// Section 12.4.2): a valid LeafNode with source commit, a new encryption
// key, an acceptable credential, and UpdatePath keys new to the tree.
func (w *Group) checkCommitLeaf(old *Group, up *updatePath, committer tm.LeafIndex, external bool, a *applied) error {
	ln := &up.leafNode
	if err := validateLeafNode(w.suite, &w.cfg, ln, w.ctx.groupID, w.ctx.extensions, w.tree, leafCheck{source: sourceCommit, leaf: committer}); err != nil {
		return fmt.Errorf("%w: committer's leaf: %w", ErrInvalidCommit, err)
	}
	var prev *leafNode
	if external {
		// A resync: the leaf replaces the removed one and must meet the
		// criteria of an Update for it (Section 12.2).
		if len(a.removed) == 1 {
			prev = old.tree.leaf(a.removed[0])
		}
	} else {
		prev = old.tree.leaf(committer)
		if prev == nil {
			return ruleError(ErrInvalidCommit, "12.4.2", "committer leaf %d is blank", committer)
		}
		if bytes.Equal(prev.encryptionKey, ln.encryptionKey) {
			return ruleError(ErrInvalidCommit, "12.4.2", "committer's encryption key unchanged")
		}
	}
	if prev != nil {
		if err := w.cfg.validator().ValidateSuccessor(prev.credential, ln.credential); err != nil {
			return fmt.Errorf("%w: committer's credential: %w", ErrRejectedByPolicy, err)
		}
	}
	// Section 12.4.2: none of the public keys in the UpdatePath may
	// appear in the new tree (the committer's old leaf aside, which the
	// path replaces and which was checked above).
	fresh := make([][]byte, 0, len(up.nodes)+1)
	fresh = append(fresh, ln.encryptionKey)
	for _, n := range up.nodes {
		for _, k := range fresh {
			if bytes.Equal(k, n.encryptionKey) {
				return ruleError(ErrInvalidCommit, "12.4.2", "update path repeats a public key")
			}
		}
		fresh = append(fresh, n.encryptionKey)
	}
	// This scan is the one step of processing a commit that grows with the
	// group rather than with its depth, so each node costs one comparison
	// of an 8-byte prefix per new key; full keys are compared only when a
	// prefix matches.
	prefixes := make([]uint64, len(fresh))
	for i, k := range fresh {
		prefixes[i] = keyPrefix(k)
	}
	sigPrefix := keyPrefix(ln.signatureKey)
	for i, n := range w.tree.nodes {
		if n == nil || (i%2 == 0 && tm.NodeIndex(i).Leaf() == committer) {
			continue
		}
		ek := n.encryptionKey()
		p := keyPrefix(ek)
		for j, q := range prefixes {
			if p == q && bytes.Equal(ek, fresh[j]) {
				return ruleError(ErrInvalidCommit, "12.4.2", "update path key already in node %d", i)
			}
		}
		if n.leaf != nil && keyPrefix(n.leaf.signatureKey) == sigPrefix && bytes.Equal(n.leaf.signatureKey, ln.signatureKey) {
			return ruleError(ErrInvalidCommit, "7.3", "committer's signature key already used by leaf %d", i/2)
		}
	}
	return nil
}

// keyPrefix returns the first 8 bytes of a public key as an integer (fewer
// for shorter keys), a cheap first test of equality.
func keyPrefix(k []byte) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.LittleEndian.Uint64(b[:])
}

// freeLeaf returns the leftmost blank leaf, or the first leaf past the
// tree if none is blank (RFC 9420, Section 12.4.2, external commits).
func (t *ratchetTree) freeLeaf() tm.LeafIndex {
	l := tm.LeafIndex(0)
	for ; t.leafCount().ContainsLeaf(l); l++ {
		if t.nodes[l.Node()] == nil {
			break
		}
	}
	return l
}

// ensureLeaf extends the tree until leaf l exists.
func (t *ratchetTree) ensureLeaf(l tm.LeafIndex) error {
	for !t.leafCount().ContainsLeaf(l) {
		if err := t.extend(); err != nil {
			return err
		}
	}
	return nil
}
