package mls

import (
	"bytes"
	"fmt"
	"io"

	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// CommitOptions says what a commit contains besides the proposals already
// received in the epoch (which it includes by reference, RFC 9420,
// Section 12.4: the committer SHOULD include all valid proposals).
type CommitOptions struct {
	// Add, Remove: members to add (by KeyPackage) and remove (by leaf).
	Add    []*KeyPackage
	Remove []uint32
	// ExternalPSKs are IDs of external PSKs to inject (Config.ExternalPSK
	// must know them).
	ExternalPSKs [][]byte
	// SetExtensions replaces the GroupContext extensions with Extensions
	// (a GroupContextExtensions proposal, Section 12.1.7).
	SetExtensions bool
	Extensions    []Extension
	// NoPath omits the UpdatePath where the RFC allows it (only Add and
	// PSK proposals). By default every commit carries a path, for
	// post-compromise security.
	NoPath bool
	// AuthenticatedData is sent in the clear with the commit.
	AuthenticatedData []byte
	// OmitRatchetTree leaves the ratchet_tree extension out of the
	// Welcome's GroupInfo; joiners must then get the tree elsewhere.
	OmitRatchetTree bool
	// ReInit commits a ReInit proposal by value, and CommitReInit the
	// newest cached one by reference (RFC 9420, Sections 11.2 and
	// 12.1.5). A ReInit is committed alone (Section 12.2), so Add, Remove,
	// ExternalPSKs and SetExtensions must be empty; other cached proposals
	// are left out. Without either, cached ReInit proposals are skipped.
	ReInit       *ReInitOptions
	CommitReInit bool
}

// CommitResult holds what a commit produced. Send Commit to the group and
// Welcome (if any) to the new members; apply the commit locally with
// MergePendingCommit once the delivery service has accepted it.
type CommitResult struct {
	Commit  []byte // MLSMessage (PublicMessage or PrivateMessage)
	Welcome []byte // MLSMessage (Welcome), nil when nobody was added
}

// pendingCommit is a commit created by this member and not yet merged.
type pendingCommit struct {
	message []byte
	next    *Group
	summary *CommitSummary
}

// Commit creates a commit (RFC 9420, Section 12.4.1) of the cached
// proposals and those described by opts, with an UpdatePath, and the
// Welcome for added members. The group stays in its epoch until
// MergePendingCommit (or until the commit is received back through
// ProcessMessage); a later Commit replaces a pending one.
func (g *Group) Commit(opts CommitOptions) (*CommitResult, error) {
	if !g.Active() {
		return nil, ErrNotMember
	}
	var list []resolvedProposal
	var refs [][]byte
	me := sender{typ: SenderMember, index: uint32(g.own)}
	if opts.ReInit != nil || opts.CommitReInit {
		return g.commitReInit(opts)
	}
	// Cached proposals, by reference, skipping those the committer may not
	// commit (its own Updates, its own removal) and second proposals for
	// one leaf: a Remove wins over an Update, and the newest Update over
	// older ones (Section 12.2). ReInits are left for a later epoch
	// (Section 12.2: other proposals are preferred).
	removedBy := map[uint32]bool{}
	for _, r := range opts.Remove {
		removedBy[r] = true
	}
	include := make([]bool, len(g.proposals))
	for i, cp := range g.proposals {
		if cp.p.typ == ProposalRemove && cp.p.removed != uint32(g.own) && !removedBy[cp.p.removed] {
			removedBy[cp.p.removed] = true
			include[i] = true
		}
	}
	updated := map[uint32]bool{}
	for i := len(g.proposals) - 1; i >= 0; i-- {
		cp := g.proposals[i]
		switch cp.p.typ {
		case ProposalRemove, ProposalReInit:
		case ProposalUpdate:
			if cp.sender != me && !removedBy[cp.sender.index] && !updated[cp.sender.index] {
				updated[cp.sender.index] = true
				include[i] = true
			}
		default:
			include[i] = true
		}
	}
	for i, cp := range g.proposals {
		if include[i] {
			list = append(list, resolvedProposal{p: cp.p, sender: cp.sender, ref: cp.ref})
			refs = append(refs, cp.ref)
		}
	}
	// Inline proposals (by value).
	var inline []*proposal
	if opts.SetExtensions {
		inline = append(inline, &proposal{typ: ProposalGroupContextExtensions, gcExtensions: cloneExtensions(opts.Extensions)})
	}
	for _, r := range opts.Remove {
		inline = append(inline, &proposal{typ: ProposalRemove, removed: r})
	}
	for _, kp := range opts.Add {
		k := kp.kp
		inline = append(inline, &proposal{typ: ProposalAdd, add: &k})
	}
	for _, id := range opts.ExternalPSKs {
		nonce := make([]byte, g.suite.Nh())
		if _, err := io.ReadFull(g.cfg.rand(), nonce); err != nil {
			return nil, fmt.Errorf("mls: psk nonce: %w", err)
		}
		inline = append(inline, &proposal{typ: ProposalPSK, psk: &preSharedKeyID{pskType: pskExternal, pskID: bytes.Clone(id), pskNonce: nonce}})
	}
	for _, p := range inline {
		list = append(list, resolvedProposal{p: p, sender: me})
	}
	return g.commitList(list, refs, inline, opts)
}

// commitReInit commits a ReInit proposal alone (RFC 9420, Section 12.2).
func (g *Group) commitReInit(opts CommitOptions) (*CommitResult, error) {
	if len(opts.Add)+len(opts.Remove)+len(opts.ExternalPSKs) > 0 || opts.SetExtensions || (opts.ReInit != nil && opts.CommitReInit) {
		return nil, ruleError(ErrInvalidProposal, "12.2", "a ReInit proposal must be committed alone")
	}
	me := sender{typ: SenderMember, index: uint32(g.own)}
	if opts.ReInit != nil {
		p, err := opts.ReInit.proposal()
		if err != nil {
			return nil, err
		}
		return g.commitList([]resolvedProposal{{p: p, sender: me}}, nil, []*proposal{p}, opts)
	}
	for i := len(g.proposals) - 1; i >= 0; i-- {
		if cp := g.proposals[i]; cp.p.typ == ProposalReInit {
			return g.commitList([]resolvedProposal{{p: cp.p, sender: cp.sender, ref: cp.ref}}, [][]byte{cp.ref}, nil, opts)
		}
	}
	return nil, fmt.Errorf("%w: no ReInit proposal received in this epoch", ErrInvalidProposal)
}

func (g *Group) commitList(list []resolvedProposal, refs [][]byte, inline []*proposal, opts CommitOptions) (*CommitResult, error) {
	w := g.clone()
	a, err := w.applyProposals(list, sender{typ: SenderMember, index: uint32(g.own)}, g.own, false, true)
	if err != nil {
		return nil, err
	}
	w.ctx.epoch = g.ctx.epoch + 1
	c := &commit{}
	for _, r := range refs {
		c.proposals = append(c.proposals, proposalOrRef{reference: r})
	}
	for _, p := range inline {
		c.proposals = append(c.proposals, proposalOrRef{proposal: p})
	}
	newLeaves := map[tm.LeafIndex]bool{}
	for _, l := range a.added {
		newLeaves[l] = true
	}
	var commitSecret []byte
	var ps *pathSecrets
	if a.pathRequired || !opts.NoPath {
		leaf := g.tree.leaf(g.own).clone()
		c.path, ps, err = createUpdatePath(w.suite, w.cfg.rand(), w.tree, w.keys, w.own, leaf, w.sig.priv, w.ctx.groupID, newLeaves,
			func(th []byte) []byte { w.ctx.treeHash = th; return w.encodedContext() })
		if err != nil {
			return nil, err
		}
		commitSecret = ps.commitSecret
	}
	w.ctx.treeHash = w.tree.rootHash(w.suite.Hash)

	wf := WireFormatPrivateMessage
	if g.cfg.PublicHandshake {
		wf = WireFormatPublicMessage
	}
	ac := &authenticatedContent{wireFormat: wf, content: framedContent{
		groupID: g.ctx.groupID, epoch: g.ctx.epoch, sender: sender{typ: SenderMember, index: uint32(g.own)},
		authenticatedData: opts.AuthenticatedData, contentType: ContentCommit, commit: c,
	}}
	// Section 12.4.1: sign with the old GroupContext, then the new
	// transcript hash and key schedule, then the confirmation tag.
	if ac.auth.signature, err = signContent(g.suite, g.sig.priv, wf, &ac.content, g.encodedContext()); err != nil {
		return nil, err
	}
	w.ctx.confirmedTranscriptHash = confirmedTranscriptHash(w.suite, g.interim, ac)
	pskSecret, err := keyschedule.PSKSecret(w.suite, a.pskValues)
	if err != nil {
		return nil, err
	}
	ep, err := keyschedule.FromInitSecret(w.suite, g.epoch.InitSecret, commitSecret, pskSecret, w.encodedContext())
	if err != nil {
		return nil, err
	}
	ac.auth.confirmationTag = ep.ConfirmationTag(w.ctx.confirmedTranscriptHash)
	msg, err := g.protect(ac)
	if err != nil {
		return nil, err
	}
	if err := w.installEpoch(ep, ac.auth.confirmationTag); err != nil {
		return nil, err
	}
	w.pushPast(g, a.removed)
	if a.reinit != nil {
		w.reinit = a.reinit
	}
	res := &CommitResult{Commit: msg}
	if len(a.added) > 0 {
		res.Welcome, err = w.welcome(ep, a, ps, opts)
		if err != nil {
			return nil, err
		}
	}
	sum := &CommitSummary{NewEpoch: w.ctx.epoch, ReInit: a.reinit != nil}
	for _, l := range a.added {
		sum.Added = append(sum.Added, uint32(l))
	}
	for _, l := range a.removed {
		sum.Removed = append(sum.Removed, uint32(l))
	}
	for _, l := range a.updated {
		sum.Updated = append(sum.Updated, uint32(l))
	}
	g.pending = &pendingCommit{message: msg, next: w, summary: sum}
	return res, nil
}

// MergePendingCommit applies this member's pending commit, moving the
// group to the next epoch.
func (g *Group) MergePendingCommit() (*Received, error) {
	if g.pending == nil {
		return nil, fmt.Errorf("mls: no pending commit")
	}
	p := g.pending
	g.adopt(p.next)
	return &Received{Type: ContentCommit, Sender: Sender{Type: SenderMember, Index: uint32(g.own)},
		Epoch: p.summary.NewEpoch - 1, Commit: p.summary}, nil
}

// DiscardPendingCommit forgets a pending commit, for example when the
// delivery service accepted another member's commit for the epoch.
func (g *Group) DiscardPendingCommit() { g.pending = nil }

// protect frames content as a PublicMessage or PrivateMessage
// (RFC 9420, Sections 6.2 and 6.3) and returns the MLSMessage.
func (g *Group) protect(ac *authenticatedContent) ([]byte, error) {
	m := &mlsMessage{version: ProtocolVersionMLS10, wireFormat: ac.wireFormat}
	switch ac.wireFormat {
	case WireFormatPublicMessage:
		if ac.content.contentType == ContentApplication {
			return nil, ruleError(ErrMalformed, "6", "application data must be sent as a PrivateMessage")
		}
		pm := &publicMessage{content: ac.content, auth: ac.auth}
		if ac.content.sender.typ == SenderMember {
			pm.membershipTag = g.suite.MAC(g.epoch.MembershipKey, mustEncodeTBM(ac, g.encodedContext()))
		}
		m.public = pm
	case WireFormatPrivateMessage:
		var guard [4]byte
		if _, err := io.ReadFull(g.cfg.rand(), guard[:]); err != nil {
			return nil, fmt.Errorf("mls: reuse guard: %w", err)
		}
		pm, err := encryptContent(g.suite, g.msgKeys, g.epoch.SenderDataSecret, ac, g.padding(ac), guard)
		if err != nil {
			return nil, err
		}
		m.private = pm
	}
	return encode(m)
}

// padding returns how many zero bytes pad the content (Section 16.4).
func (g *Group) padding(ac *authenticatedContent) int {
	if g.cfg.PaddingBlock <= 1 {
		return 0
	}
	n := len(mustEncode(&ac.content)) // an upper bound of the content size
	return (g.cfg.PaddingBlock - n%g.cfg.PaddingBlock) % g.cfg.PaddingBlock
}

// Seal encrypts application data as a PrivateMessage (RFC 9420,
// Sections 6.3 and 15). It refuses while proposals are pending, since a
// member that has seen proposals MUST commit before sending application
// data (Section 12.4).
func (g *Group) Seal(plaintext, authenticatedData []byte) ([]byte, error) {
	if !g.Active() {
		return nil, ErrNotMember
	}
	if len(g.proposals) > 0 {
		return nil, ruleError(ErrInvalidProposal, "12.4", "proposals pending: commit before sending application data")
	}
	ac := &authenticatedContent{wireFormat: WireFormatPrivateMessage, content: framedContent{
		groupID: g.ctx.groupID, epoch: g.ctx.epoch, sender: sender{typ: SenderMember, index: uint32(g.own)},
		authenticatedData: bytes.Clone(authenticatedData), contentType: ContentApplication, applicationData: bytes.Clone(plaintext),
	}}
	var err error
	if ac.auth.signature, err = signContent(g.suite, g.sig.priv, ac.wireFormat, &ac.content, g.encodedContext()); err != nil {
		return nil, err
	}
	return g.protect(ac)
}

// propose signs, frames and caches a proposal of this member.
func (g *Group) propose(p *proposal) ([]byte, error) {
	if !g.Active() {
		return nil, ErrNotMember
	}
	wf := WireFormatPrivateMessage
	if g.cfg.PublicHandshake {
		wf = WireFormatPublicMessage
	}
	ac := &authenticatedContent{wireFormat: wf, content: framedContent{
		groupID: g.ctx.groupID, epoch: g.ctx.epoch, sender: sender{typ: SenderMember, index: uint32(g.own)},
		contentType: ContentProposal, proposal: p,
	}}
	var err error
	if ac.auth.signature, err = signContent(g.suite, g.sig.priv, wf, &ac.content, g.encodedContext()); err != nil {
		return nil, err
	}
	msg, err := g.protect(ac)
	if err != nil {
		return nil, err
	}
	g.cacheProposal(ac)
	return msg, nil
}

// ProposeAdd proposes adding the client of kp (RFC 9420, Section 12.1.1).
func (g *Group) ProposeAdd(kp *KeyPackage) ([]byte, error) {
	if err := validateKeyPackageForGroup(g.suite, &g.cfg, &kp.kp, &g.ctx, g.ctx.extensions, g.tree, false); err != nil {
		return nil, err
	}
	k := kp.kp
	return g.propose(&proposal{typ: ProposalAdd, add: &k})
}

// ProposeRemove proposes removing the member at leaf (Section 12.1.3).
func (g *Group) ProposeRemove(leaf uint32) ([]byte, error) {
	if g.tree.leaf(tm.LeafIndex(leaf)) == nil {
		return nil, ruleError(ErrInvalidProposal, "12.1.3", "leaf %d is blank", leaf)
	}
	return g.propose(&proposal{typ: ProposalRemove, removed: leaf})
}

// ProposeUpdate proposes replacing this member's leaf with one holding a
// fresh encryption key (Section 12.1.2). The new private key is kept
// aside until a commit applies the Update.
//
// Only the committer's path can refresh a committer's own leaf, so an
// Update is useful when another member commits.
func (g *Group) ProposeUpdate() ([]byte, error) {
	priv, err := g.suite.GenerateHPKEKeyPair(g.cfg.rand())
	if err != nil {
		return nil, err
	}
	ln := g.tree.leaf(g.own).clone()
	ln.source = sourceUpdate
	ln.encryptionKey = priv.PublicKey()
	ln.parentHash = nil
	if err := signLeaf(g.suite, g.sig.priv, ln, g.ctx.groupID, g.own); err != nil {
		return nil, err
	}
	msg, err := g.propose(&proposal{typ: ProposalUpdate, update: ln})
	if err != nil {
		return nil, err
	}
	g.updateKey = priv
	return msg, nil
}
