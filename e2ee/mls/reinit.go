package mls

import (
	"bytes"
	"fmt"
	"io"

	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// ReInitOptions are the parameters of the group that replaces this one
// (a ReInit proposal, RFC 9420, Section 12.1.5). The protocol version is
// always mls10, the only one defined.
type ReInitOptions struct {
	GroupID     []byte
	CipherSuite CipherSuite
	Extensions  []Extension
}

func (o *ReInitOptions) proposal() (*proposal, error) {
	if len(o.GroupID) == 0 || len(o.GroupID) > maxSmallVec {
		return nil, fmt.Errorf("mls: reinit group ID of %d bytes", len(o.GroupID))
	}
	if _, err := suiteFor(o.CipherSuite); err != nil {
		return nil, err
	}
	exts := cloneExtensions(o.Extensions)
	if err := exts.checkUnique(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProposal, err)
	}
	return &proposal{typ: ProposalReInit, reInit: &reInit{
		groupID: bytes.Clone(o.GroupID), version: ProtocolVersionMLS10, cipherSuite: o.CipherSuite, extensions: exts,
	}}, nil
}

// ProposeReInit proposes replacing the group with a new one with other
// parameters (RFC 9420, Sections 11.2 and 12.1.5). Once a commit covers it
// (CommitOptions.CommitReInit), members can send nothing more in this
// group; one of them creates the successor with ReInitGroup.
func (g *Group) ProposeReInit(opts ReInitOptions) ([]byte, error) {
	p, err := opts.proposal()
	if err != nil {
		return nil, err
	}
	return g.propose(p)
}

// ProposePSK proposes injecting the external pre-shared key with the given
// ID into the next epoch (RFC 9420, Sections 8.4 and 12.1.4). Config.ExternalPSK
// must know it here and at every member, or the commit that covers the
// proposal is refused with ErrMissingPSK.
func (g *Group) ProposePSK(id []byte) ([]byte, error) {
	if len(id) == 0 || len(id) > maxSmallVec {
		return nil, fmt.Errorf("mls: PSK ID of %d bytes", len(id))
	}
	psk, err := g.newPSKID(&preSharedKeyID{pskType: pskExternal, pskID: bytes.Clone(id)})
	if err != nil {
		return nil, err
	}
	if _, err := g.lookupPSK(psk); err != nil {
		return nil, err
	}
	return g.propose(&proposal{typ: ProposalPSK, psk: psk})
}

// ProposeResumptionPSK proposes injecting the resumption_psk of one of the
// group's past epochs (usage application, RFC 9420, Sections 8.6 and
// 12.1.4); members keep Config.ResumptionEpochs of them.
func (g *Group) ProposeResumptionPSK(epoch uint64) ([]byte, error) {
	psk, err := g.newPSKID(&preSharedKeyID{pskType: pskResumption, usage: usageApplication,
		pskGroupID: bytes.Clone(g.ctx.groupID), pskEpoch: epoch})
	if err != nil {
		return nil, err
	}
	if _, err := g.lookupPSK(psk); err != nil {
		return nil, err
	}
	return g.propose(&proposal{typ: ProposalPSK, psk: psk})
}

// ProposeGroupContextExtensions proposes replacing the GroupContext
// extensions with exts (RFC 9420, Section 12.1.7). Every member must support
// them; the commit that covers the proposal checks it again.
func (g *Group) ProposeGroupContextExtensions(exts []Extension) ([]byte, error) {
	c := cloneExtensions(exts)
	if err := checkGroupExtensions(g.suite, &g.cfg, c); err != nil {
		return nil, err
	}
	// Section 12.1.7: every member must support the new extensions.
	var err error
	g.tree.members(func(l tm.LeafIndex, ln *leafNode) {
		if err != nil {
			return
		}
		if e := checkRequiredCapabilities(&ln.capabilities, c); e != nil {
			err = fmt.Errorf("%w: member %d: %w", ErrInvalidProposal, l, e)
			return
		}
		for _, x := range c {
			if !ln.capabilities.supportsExtension(x.Type) {
				err = ruleError(ErrInvalidProposal, "12.1.7", "member %d does not support extension %#04x", l, uint16(x.Type))
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return g.propose(&proposal{typ: ProposalGroupContextExtensions, gcExtensions: c})
}

// newPSKID fills in a fresh psk_nonce of KDF.Nh bytes (RFC 9420, Section 8.4).
func (g *Group) newPSKID(id *preSharedKeyID) (*preSharedKeyID, error) {
	id.pskNonce = make([]byte, g.suite.Nh())
	if _, err := io.ReadFull(g.cfg.rand(), id.pskNonce); err != nil {
		return nil, fmt.Errorf("mls: psk nonce: %w", err)
	}
	return id, nil
}

// ReInitGroup creates the group that replaces g after a commit covering a
// ReInit proposal (RFC 9420, Section 11.2, step 3): a group with the
// ReInit's group ID, cipher suite and extensions, created by kp's member
// (whose KeyPackage must use the new cipher suite), whose first commit adds
// the members of the KeyPackages and injects g's resumption PSK with usage
// reinit, so that the new group's secrets depend on the old group's. It
// returns the new group, already in epoch 1, and the Welcome for the
// others; they join with JoinFromWelcome and JoinOptions.Resumption set to
// their copy of g.
func (g *Group) ReInitGroup(kp *KeyPackageBundle, members []*KeyPackage, cfg Config) (*Group, []byte, error) {
	ri := g.reinit
	if ri == nil {
		return nil, nil, fmt.Errorf("%w: no ReInit commit has been applied (RFC 9420, Section 11.2)", ErrInvalidProposal)
	}
	if kp.pub.kp.cipherSuite != ri.cipherSuite {
		return nil, nil, ruleError(ErrInvalidKeyPackage, "11.2", "creator's KeyPackage uses suite %#04x, the ReInit %#04x", uint16(kp.pub.kp.cipherSuite), uint16(ri.cipherSuite))
	}
	return g.successor(ri.groupID, kp, members, GroupOptions{Extensions: ri.extensions}, cfg, usageReInit)
}

// Branch creates a subgroup of g (RFC 9420, Section 11.3): a new group with
// g's cipher suite, created by kp's member, whose first commit adds the
// members of the KeyPackages (who must be members of g; the joiners check
// it) and injects g's current resumption PSK with usage branch. It returns
// the new group, in epoch 1, and the Welcome; the others join with
// JoinFromWelcome and JoinOptions.Resumption set to their copy of g.
func (g *Group) Branch(groupID []byte, kp *KeyPackageBundle, members []*KeyPackage, opts GroupOptions, cfg Config) (*Group, []byte, error) {
	if g.removed {
		return nil, nil, ErrNotMember
	}
	if kp.pub.kp.cipherSuite != g.ctx.cipherSuite {
		return nil, nil, ruleError(ErrInvalidKeyPackage, "11.3", "a branch keeps the group's cipher suite")
	}
	return g.successor(groupID, kp, members, opts, cfg, usageBranch)
}

// successor creates a group linked to g by g's current resumption PSK
// (RFC 9420, Sections 8.6, 11.2 and 11.3).
func (g *Group) successor(groupID []byte, kp *KeyPackageBundle, members []*KeyPackage, opts GroupOptions, cfg Config, usage resumptionPSKUsage) (*Group, []byte, error) {
	if len(members) == 0 {
		return nil, nil, fmt.Errorf("mls: a successor group needs members to welcome")
	}
	ng, err := CreateGroup(groupID, kp, opts, cfg)
	if err != nil {
		return nil, nil, err
	}
	psk, err := ng.newPSKID(&preSharedKeyID{pskType: pskResumption, usage: usage,
		pskGroupID: bytes.Clone(g.ctx.groupID), pskEpoch: g.ctx.epoch})
	if err != nil {
		return nil, nil, err
	}
	// The PreSharedKey proposal goes by value in the new group's first
	// commit, which nobody processes (the others join from the Welcome):
	// the rule that such a proposal is invalid (Sections 11.2 and 11.3)
	// keeps it out of every other commit, where applyProposals refuses it.
	me := sender{typ: SenderMember, index: uint32(ng.own)}
	inline := []*proposal{}
	for _, m := range members {
		k := m.kp
		inline = append(inline, &proposal{typ: ProposalAdd, add: &k})
	}
	inline = append(inline, &proposal{typ: ProposalPSK, psk: psk})
	var list []resolvedProposal
	for _, p := range inline {
		list = append(list, resolvedProposal{p: p, sender: me})
	}
	ng.successorPSK = &keyschedule.PSK{ID: mustEncode(psk), Secret: bytes.Clone(g.epoch.ResumptionPSK)}
	defer func() { ng.successorPSK = nil }()
	res, err := ng.commitList(list, nil, inline, CommitOptions{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := ng.MergePendingCommit(); err != nil {
		return nil, nil, err
	}
	ng.successorPSK = nil
	return ng, res.Welcome, nil
}

// resumptionFrom returns the resumption PSK with usage reinit or branch
// that a Welcome names from old, after the checks of RFC 9420, Sections
// 11.2 and 11.3 that need only the PSK's ID; checkSuccessor completes them
// once the GroupInfo is known.
func resumptionFrom(old *Group, id *preSharedKeyID) ([]byte, error) {
	if old == nil {
		return nil, fmt.Errorf("%w: resumption PSK (usage %d) of group %x epoch %d: set JoinOptions.Resumption", ErrMissingPSK, id.usage, id.pskGroupID, id.pskEpoch)
	}
	if !bytes.Equal(id.pskGroupID, old.ctx.groupID) {
		return nil, fmt.Errorf("%w: resumption PSK of group %x, JoinOptions.Resumption is group %x", ErrMissingPSK, id.pskGroupID, old.ctx.groupID)
	}
	if id.usage == usageReInit {
		// Section 11.2: the PSK is the one of the epoch after the commit
		// covering the ReInit, which is the old group's last epoch.
		if old.reinit == nil || id.pskEpoch != old.ctx.epoch {
			return nil, ruleError(ErrInvalidWelcome, "11.2", "reinit PSK of epoch %d, but the old group was reinitialized in epoch %d", id.pskEpoch, old.ctx.epoch)
		}
	}
	for _, r := range old.resumption {
		if r.epoch == id.pskEpoch {
			return r.psk, nil
		}
	}
	return nil, fmt.Errorf("%w: resumption PSK of epoch %d", ErrMissingPSK, id.pskEpoch)
}

// checkSuccessor applies the checks of RFC 9420, Section 11.2 (reinit) or
// 11.3 (branch) to a group being joined with a resumption PSK of that
// usage from old.
func checkSuccessor(old *Group, usage resumptionPSKUsage, ctx *groupContext, t *ratchetTree, cfg *Config) error {
	if ctx.epoch != 1 {
		return ruleError(ErrInvalidWelcome, "11.2", "a reinitialized or branched group starts in epoch 1, not %d", ctx.epoch)
	}
	switch usage {
	case usageReInit:
		ri := old.reinit
		if ri == nil || ctx.version != ri.version || ctx.cipherSuite != ri.cipherSuite || !bytes.Equal(ctx.groupID, ri.groupID) ||
			!bytes.Equal(mustEncode(ctx.extensions), mustEncode(ri.extensions)) {
			return ruleError(ErrInvalidWelcome, "11.2", "the new group's version, cipher suite, group ID or extensions differ from the ReInit proposal")
		}
	case usageBranch:
		if ctx.version != old.ctx.version || ctx.cipherSuite != old.ctx.cipherSuite {
			return ruleError(ErrInvalidWelcome, "11.3", "a branch keeps the old group's version and cipher suite")
		}
		// Each leaf must match a member of the old group: the application's
		// validator decides whether two credentials present the same
		// identity (ValidateSuccessor).
		var err error
		t.members(func(l tm.LeafIndex, ln *leafNode) {
			if err != nil {
				return
			}
			found := false
			old.tree.members(func(_ tm.LeafIndex, o *leafNode) {
				if !found && cfg.validator().ValidateSuccessor(o.credential, ln.credential) == nil {
					found = true
				}
			})
			if !found {
				err = ruleError(ErrInvalidWelcome, "11.3", "leaf %d of the branch matches no member of the old group", l)
			}
		})
		return err
	}
	return nil
}
