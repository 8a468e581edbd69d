package mls

import (
	"bytes"
	"fmt"
	"slices"

	"conclave/e2ee/mls/ciphersuite"
	tm "conclave/e2ee/mls/treemath"
)

// leafCheck says in which role a LeafNode is validated (RFC 9420, Section 7.3).
type leafCheck struct {
	source leafNodeSource // required leaf_node_source
	leaf   tm.LeafIndex   // the leaf it occupies (update and commit sources)
	// sent: the LeafNode is in a message this client sends, so its
	// lifetime MUST be checked; received lifetimes are checked too (as
	// RECOMMENDED) unless lenient.
	lenientLifetime bool
}

// validateLeafNode applies the LeafNode checks of RFC 9420, Section 7.3
// that concern the node itself and the group's parameters. Uniqueness of
// keys across the tree is checked by checkUniqueKeys once the tree is built.
func validateLeafNode(s *ciphersuite.Suite, cfg *Config, ln *leafNode, groupID []byte, exts extensionList, t *ratchetTree, c leafCheck) error {
	if ln.source != c.source {
		return ruleError(ErrInvalidLeafNode, "7.3", "leaf_node_source is %d, want %d", ln.source, c.source)
	}
	if err := cfg.validator().ValidateCredential(ln.credential, ln.signatureKey); err != nil {
		return fmt.Errorf("%w: credential: %w (RFC 9420, Section 5.3.1)", ErrRejectedByPolicy, err)
	}
	if err := s.ValidateSignaturePublicKey(ln.signatureKey); err != nil {
		return ruleError(ErrInvalidLeafNode, "5.1.1", "signature key: %v", err)
	}
	if err := s.ValidateHPKEPublicKey(ln.encryptionKey); err != nil {
		return ruleError(ErrInvalidLeafNode, "5.1.1", "encryption key: %v", err)
	}
	if err := verifyLeafSignature(s, ln, groupID, c.leaf); err != nil {
		return err
	}
	caps := &ln.capabilities
	if !slices.Contains(caps.Versions, ProtocolVersionMLS10) {
		return ruleError(ErrInvalidLeafNode, "7.2", "capabilities do not list mls10")
	}
	if !slices.Contains(caps.CipherSuites, CipherSuite(s.ID())) {
		return ruleError(ErrInvalidLeafNode, "7.2", "capabilities do not list the group's cipher suite")
	}
	if err := checkRequiredCapabilities(caps, exts); err != nil {
		return err
	}
	for _, e := range exts {
		if !caps.supportsExtension(e.Type) {
			return ruleError(ErrInvalidLeafNode, "13.4", "group context extension %#04x not supported", uint16(e.Type))
		}
	}
	if !slices.Contains(caps.Credentials, ln.credential.Type) {
		return ruleError(ErrInvalidLeafNode, "7.2", "credential type %#04x not in capabilities", uint16(ln.credential.Type))
	}
	if t != nil {
		var err error
		t.members(func(l tm.LeafIndex, m *leafNode) {
			if err != nil || (c.source != sourceKeyPackage && l == c.leaf) {
				return
			}
			if !slices.Contains(m.capabilities.Credentials, ln.credential.Type) {
				err = ruleError(ErrInvalidLeafNode, "7.3", "member %d does not support credential type %#04x", l, uint16(ln.credential.Type))
			} else if !slices.Contains(caps.Credentials, m.credential.Type) {
				err = ruleError(ErrInvalidLeafNode, "7.3", "credential type %#04x of member %d not supported", uint16(m.credential.Type), l)
			}
		})
		if err != nil {
			return err
		}
	}
	if ln.source == sourceKeyPackage {
		lt := ln.lifetime
		if lt.notAfter < lt.notBefore {
			return ruleError(ErrInvalidLeafNode, "7.2", "lifetime ends before it starts")
		}
		if max := cfg.maxLifetime(); max >= 0 && lt.notAfter-lt.notBefore > uint64(max.Seconds()) {
			return ruleError(ErrInvalidLeafNode, "7.2", "lifetime longer than the allowed maximum")
		}
		// Section 7.3: the current time MUST be within the lifetime of a
		// leaf this client sends, and SHOULD be for one it receives; leaves
		// that expired on the way (lenient) are accepted.
		now := cfg.now().Unix()
		if !c.lenientLifetime && (now < 0 || uint64(now) < lt.notBefore || uint64(now) > lt.notAfter) {
			return ruleError(ErrInvalidLeafNode, "7.3", "current time outside the leaf's lifetime")
		}
	}
	if err := ln.extensions.checkUnique(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidLeafNode, err)
	}
	for _, e := range ln.extensions {
		if !slices.Contains(caps.Extensions, e.Type) && !e.Type.isDefault() {
			return ruleError(ErrInvalidLeafNode, "7.3", "extension %#04x not listed in capabilities", uint16(e.Type))
		}
	}
	return nil
}

// checkRequiredCapabilities checks caps against the group's
// required_capabilities extension, if any (RFC 9420, Section 11.1).
func checkRequiredCapabilities(caps *capabilitySet, exts extensionList) error {
	e, ok := exts.find(ExtensionRequiredCapabilities)
	if !ok {
		return nil
	}
	var rc requiredCapabilities
	if err := decode(e.Data, &rc); err != nil {
		return fmt.Errorf("%w: required_capabilities: %w", ErrInvalidLeafNode, err)
	}
	for _, t := range rc.extensions {
		if !caps.supportsExtension(t) {
			return ruleError(ErrInvalidLeafNode, "11.1", "required extension %#04x not supported", uint16(t))
		}
	}
	for _, t := range rc.proposals {
		if !caps.supportsProposal(t) {
			return ruleError(ErrInvalidLeafNode, "11.1", "required proposal %v not supported", t)
		}
	}
	for _, t := range rc.credentials {
		if !slices.Contains(caps.Credentials, t) {
			return ruleError(ErrInvalidLeafNode, "11.1", "required credential type %#04x not supported", uint16(t))
		}
	}
	return nil
}

// validateKeyPackageForGroup applies RFC 9420, Section 10.1 for a group.
func validateKeyPackageForGroup(s *ciphersuite.Suite, cfg *Config, kp *keyPackage, ctx *groupContext, exts extensionList, t *ratchetTree, lenient bool) error {
	if kp.version != ctx.version || kp.cipherSuite != ctx.cipherSuite {
		return ruleError(ErrInvalidKeyPackage, "10.1", "version or cipher suite differs from the group's")
	}
	if _, err := newKeyPackage(kp); err != nil {
		return err
	}
	if err := validateLeafNode(s, cfg, &kp.leafNode, nil, exts, t, leafCheck{source: sourceKeyPackage, lenientLifetime: lenient}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKeyPackage, err)
	}
	return nil
}

// checkUniqueKeys verifies that every signature key and encryption key in
// the tree is unique (RFC 9420, Sections 7.3 and 12.4.3.1).
func checkUniqueKeys(t *ratchetTree) error {
	enc := make(map[string]tm.NodeIndex, len(t.nodes))
	sig := make(map[string]tm.LeafIndex, len(t.nodes)/2+1)
	for i, n := range t.nodes {
		if n == nil {
			continue
		}
		k := string(n.encryptionKey())
		if j, dup := enc[k]; dup {
			return ruleError(ErrInvalidTree, "7.3", "nodes %d and %d share an encryption key", j, i)
		}
		enc[k] = tm.NodeIndex(i)
		if n.leaf != nil {
			sk := string(n.leaf.signatureKey)
			if j, dup := sig[sk]; dup {
				return ruleError(ErrInvalidTree, "7.3", "leaves %d and %d share a signature key", j, i/2)
			}
			sig[sk] = tm.NodeIndex(i).Leaf()
		}
	}
	return nil
}

// validateTree checks a ratchet tree received to join a group
// (RFC 9420, Section 12.4.3.1, "Verify the integrity of the ratchet tree").
func validateTree(s *ciphersuite.Suite, cfg *Config, t *ratchetTree, ctx *groupContext) error {
	if !bytes.Equal(t.rootHash(s.Hash), ctx.treeHash) {
		return ruleError(ErrInvalidTree, "12.4.3.1", "tree hash does not match the GroupContext")
	}
	if err := t.verifyParentHashes(s.Hash); err != nil {
		return err
	}
	var err error
	t.members(func(l tm.LeafIndex, ln *leafNode) {
		if err != nil {
			return
		}
		// Leaves may have expired since they were added; their lifetime
		// check on receipt is only RECOMMENDED (Section 7.3) and would make
		// long-lived groups unjoinable, so it is skipped here.
		err = validateLeafNode(s, cfg, ln, ctx.groupID, ctx.extensions, nil, leafCheck{source: ln.source, leaf: l, lenientLifetime: true})
		if err != nil {
			err = fmt.Errorf("leaf %d: %w", l, err)
		}
	})
	if err != nil {
		return err
	}
	n := t.leafCount()
	for x := tm.NodeIndex(1); uint32(x) < n.Width(); x += 2 {
		p := t.parentAt(x)
		if p == nil {
			continue
		}
		if !slices.IsSorted(p.unmergedLeaves) {
			return ruleError(ErrInvalidTree, "7.1", "unmerged_leaves of node %d not sorted", x)
		}
		for i, u := range p.unmergedLeaves {
			if i > 0 && p.unmergedLeaves[i-1] == u {
				return ruleError(ErrInvalidTree, "7.1", "unmerged_leaves of node %d repeat leaf %d", x, u)
			}
			ul := tm.LeafIndex(u)
			if t.leaf(ul) == nil || !tm.IsAncestor(x, ul.Node()) {
				return ruleError(ErrInvalidTree, "12.4.3.1", "unmerged leaf %d of node %d is blank or not below it", u, x)
			}
			for _, a := range tm.DirectPath(ul.Node(), n) {
				if a == x {
					break
				}
				if ap := t.parentAt(a); ap != nil && !slices.Contains(ap.unmergedLeaves, u) {
					return ruleError(ErrInvalidTree, "12.4.3.1", "node %d between unmerged leaf %d and node %d does not list it", a, u, x)
				}
			}
		}
	}
	return checkUniqueKeys(t)
}
