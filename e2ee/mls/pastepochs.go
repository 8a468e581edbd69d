package mls

import (
	"bytes"
	"fmt"
	"slices"

	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// DefaultPastEpochs is how many past epochs a group keeps for late
// application messages when Config.PastEpochs is zero.
const DefaultPastEpochs = 2

// pastEpoch is what a member keeps of an epoch it has left, so that
// application messages sealed in that epoch but delivered after the commit
// that ended it can still be opened (RFC 9420, Section 15.3; Section 9.2
// lets members keep unconsumed values "for some reasonable amount of time
// to handle out-of-order message delivery"). It holds no secret from which
// a later or earlier epoch could be derived: no init_secret, no tree
// private keys, no exporter or resumption secret; only the epoch's
// sender_data_secret, its secret tree (minus what was consumed), and the
// public data needed to authenticate a message of that epoch.
type pastEpoch struct {
	epoch uint64
	// groupContext is the epoch's encoded GroupContext, which a member's
	// signature covers (FramedContentTBS, RFC 9420, Section 6.1).
	groupContext     []byte
	senderDataSecret keyschedule.Secret
	msgKeys          *trackedTree
	// tree is the epoch's ratchet tree, for its members' credentials and
	// signature keys. Trees are copied on write (Group.clone), so the
	// group's later changes never reach it and keeping it copies nothing.
	tree *ratchetTree
	// removed lists leaves whose members a later commit removed: their
	// late messages are refused (pushPast).
	removed []tm.LeafIndex
}

// snapshotPast returns what g keeps of its current epoch once it moves on.
// The secret tree is shared with g, so a generation g has already consumed
// stays consumed (RFC 9420, Section 9.2).
func (g *Group) snapshotPast() *pastEpoch {
	p := &pastEpoch{
		epoch:            g.ctx.epoch,
		groupContext:     g.encodedContext(),
		senderDataSecret: bytes.Clone(g.epoch.SenderDataSecret),
		msgKeys:          g.msgKeys,
		tree:             g.tree,
	}
	return p
}

// wipe overwrites the past epoch's secrets (RFC 9420, Section 9.2).
func (p *pastEpoch) wipe() {
	clear(p.senderDataSecret)
	p.msgKeys.t.Wipe()
}

// pastEpochs returns the size of the window of past epochs: zero when the
// feature is disabled.
func (c *Config) pastEpochs() int {
	switch {
	case c.PastEpochs < 0:
		return 0
	case c.PastEpochs == 0:
		return DefaultPastEpochs
	}
	return c.PastEpochs
}

// pushPast records old's current epoch as the newest past epoch of w, the
// state that follows it, dropping epochs that fall out of the window.
// removed are the leaves the commit from old to w removed: their members'
// late messages are refused from then on in every kept epoch, so that a
// removed member (or whoever holds its keys) cannot keep posting into the
// group as "late" after its removal, and a leaf given to someone else later
// never vouches for the old holder. w's list is new: old's list and
// entries are not changed, so that a failed transition leaves old intact.
// Dropped epochs are wiped by adopt once the transition is final.
func (w *Group) pushPast(old *Group, removed []tm.LeafIndex) {
	k := w.cfg.pastEpochs()
	if k == 0 {
		w.past = nil
		return
	}
	past := make([]*pastEpoch, 0, k+1)
	past = append(past, old.past...)
	past = append(past, old.snapshotPast())
	if len(past) > k {
		past = past[len(past)-k:]
	}
	for i, p := range past {
		past[i] = p.without(removed)
	}
	w.past = past
}

// without returns p, or a copy of p sharing its secrets and tree, in
// which the given leaves hold no member.
func (p *pastEpoch) without(leaves []tm.LeafIndex) *pastEpoch {
	var c *pastEpoch
	for _, l := range leaves {
		if p.member(uint32(l)) == nil {
			continue
		}
		if c == nil {
			cp := *p
			cp.removed = slices.Clone(p.removed)
			c = &cp
		}
		c.removed = append(c.removed, l)
	}
	if c == nil {
		return p
	}
	return c
}

// adopt makes next the state of g, wiping the past epochs g kept that next
// does not (RFC 9420, Section 9.2: values no longer kept are deleted).
// Entries are compared by secret tree, since pushPast may copy an entry.
func (g *Group) adopt(next *Group) {
	for _, p := range g.past {
		if !slices.ContainsFunc(next.past, func(q *pastEpoch) bool { return q.msgKeys == p.msgKeys }) {
			p.wipe()
		}
	}
	*g = *next
}

// member returns the member at leaf l in the past epoch, or nil if the
// leaf was blank or its member was removed since.
func (p *pastEpoch) member(l uint32) *Member {
	if slices.Contains(p.removed, tm.LeafIndex(l)) {
		return nil
	}
	ln := p.tree.leaf(tm.LeafIndex(l))
	if ln == nil {
		return nil
	}
	return &Member{Leaf: l, Credential: ln.credential, SignatureKey: bytes.Clone(ln.signatureKey)}
}

// senderMember returns the member that sent content, as the epoch the
// content was sent in knew it, or nil for a sender that is not a member.
func (g *Group) senderMember(c *framedContent) *Member {
	if c.sender.typ != SenderMember {
		return nil
	}
	if c.epoch != g.ctx.epoch {
		if p := g.findPast(c.epoch); p != nil {
			return p.member(c.sender.index)
		}
		return nil
	}
	ln := g.tree.leaf(tm.LeafIndex(c.sender.index))
	if ln == nil {
		return nil
	}
	return &Member{Leaf: c.sender.index, Credential: ln.credential, SignatureKey: bytes.Clone(ln.signatureKey)}
}

// findPast returns the kept past epoch with the given number.
func (g *Group) findPast(epoch uint64) *pastEpoch {
	for _, p := range g.past {
		if p.epoch == epoch {
			return p
		}
	}
	return nil
}

// PastEpochs returns the numbers of the past epochs whose late application
// messages this member can still open, oldest first.
func (g *Group) PastEpochs() []uint64 {
	out := make([]uint64, len(g.past))
	for i, p := range g.past {
		out[i] = p.epoch
	}
	return out
}

// ForgetPastEpochs deletes the secrets kept for late application messages
// of past epochs (RFC 9420, Section 9.2), for a client that wants forward
// secrecy for them at once, for example when it leaves the meeting.
func (g *Group) ForgetPastEpochs() {
	for _, p := range g.past {
		p.wipe()
	}
	if g.pending != nil {
		// The pending commit's state keeps this epoch's snapshot only.
		g.pending.next.past = slices.DeleteFunc(slices.Clone(g.pending.next.past), func(q *pastEpoch) bool {
			return slices.ContainsFunc(g.past, func(p *pastEpoch) bool { return p.msgKeys == q.msgKeys })
		})
	}
	g.past = nil
}

// unprotectPast decrypts and authenticates a PrivateMessage sealed in a
// kept past epoch. Only application content is accepted: a proposal or
// commit of a past epoch cannot be applied (RFC 9420, Section 12.4.2) and
// fails with ErrWrongEpoch like any message of an epoch not kept. The
// sender must have been a member in that epoch, and the signature is
// checked against its signature key and GroupContext then; a sender removed
// by a later commit is refused (pushPast). The message key is consumed
// only if then succeeds; a generation opened once cannot be opened again.
func (g *Group) unprotectPast(pm *privateMessage, then func(*authenticatedContent) error) error {
	wrong := fmt.Errorf("%w: message epoch %d, group epoch %d (RFC 9420, Section 12.4.2)", ErrWrongEpoch, pm.epoch, g.ctx.epoch)
	if pm.contentType != ContentApplication || pm.epoch >= g.ctx.epoch {
		return wrong
	}
	p := g.findPast(pm.epoch)
	if p == nil {
		return wrong
	}
	sd, err := decryptSenderData(g.suite, p.senderDataSecret, pm)
	if err != nil {
		return err
	}
	m := p.member(sd.leafIndex)
	if m == nil {
		return ruleError(ErrAuthentication, "6.3.2", "sender data names leaf %d, not a member in epoch %d or removed since", sd.leafIndex, pm.epoch)
	}
	return decryptContent(g.suite, p.msgKeys, pm, sd, func(ac *authenticatedContent) error {
		if ac.content.contentType != ContentApplication {
			return wrong
		}
		if err := verifyContent(g.suite, m.SignatureKey, ac, p.groupContext); err != nil {
			return err
		}
		return then(ac)
	})
}
