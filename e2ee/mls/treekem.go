package mls

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"

	"conclave/e2ee/mls/ciphersuite"
	tm "conclave/e2ee/mls/treemath"
)

// nodeKeys holds the HPKE private keys a member knows: its leaf's and those
// of the parent nodes above it that it has learned through UpdatePaths or a
// Welcome (the tree invariant of RFC 9420, Section 4.2).
type nodeKeys map[tm.NodeIndex]*ciphersuite.HPKEPrivateKey

func (k nodeKeys) clone() nodeKeys {
	c := make(nodeKeys, len(k))
	for x, v := range k {
		c[x] = v
	}
	return c
}

// prune forgets keys whose node was blanked or replaced, so that replaced
// key pairs are deleted (RFC 9420, Section 7.5, last paragraph).
func (k nodeKeys) prune(t *ratchetTree) {
	for x, priv := range k {
		if t.blank(x) || !bytes.Equal(t.nodes[x].encryptionKey(), priv.PublicKey()) {
			delete(k, x)
		}
	}
}

// signLeaf signs ln as LeafNodeTBS (RFC 9420, Section 7.2).
func signLeaf(s *ciphersuite.Suite, priv *ciphersuite.SignaturePrivateKey, ln *leafNode, groupID []byte, leaf tm.LeafIndex) error {
	sig, err := s.SignWithLabel(priv, "LeafNodeTBS", ln.tbs(groupID, uint32(leaf)))
	if err != nil {
		return fmt.Errorf("mls: sign leaf node: %w", err)
	}
	ln.signature = sig
	return nil
}

// verifyLeafSignature checks a LeafNode's signature (RFC 9420, Section 7.3).
func verifyLeafSignature(s *ciphersuite.Suite, ln *leafNode, groupID []byte, leaf tm.LeafIndex) error {
	if err := s.VerifyWithLabel(ln.signatureKey, "LeafNodeTBS", ln.tbs(groupID, uint32(leaf)), ln.signature); err != nil {
		return ruleError(ErrInvalidLeafNode, "7.3", "leaf %d: signature does not verify", leaf)
	}
	return nil
}

// nodeKeyPair derives the key pair of a path node from its path secret:
// node_secret = DeriveSecret(path_secret, "node"), then DeriveKeyPair
// (RFC 9420, Section 7.4).
func nodeKeyPair(s *ciphersuite.Suite, pathSecret []byte) (*ciphersuite.HPKEPrivateKey, error) {
	priv, err := s.DeriveKeyPair(s.DeriveSecret(pathSecret, "node"))
	if err != nil {
		return nil, fmt.Errorf("mls: derive node key pair: %w", err)
	}
	return priv, nil
}

// setPathParentHashes sets the parent_hash of each node of a filtered
// direct path from the root down, and returns the parent hash the leaf must
// carry (RFC 9420, Section 7.9). path is ordered from leaf to root and its
// nodes must already hold their new encryption keys.
func setPathParentHashes(h hashFunc, t *ratchetTree, path []pathStep) []byte {
	above := []byte{}
	for i := len(path) - 1; i >= 0; i-- {
		x := path[i].parent
		p := t.parentAt(x)
		c := &parentNode{encryptionKey: p.encryptionKey, parentHash: above, unmergedLeaves: nil}
		t.set(x, &node{parent: c})
		above = parentHashOf(h, c.encryptionKey, c.parentHash, t.treeHash(h, path[i].copathChild))
	}
	return above
}

// pathSecrets holds the result of creating an UpdatePath: the secret for
// each filtered-direct-path node and the commit secret.
type pathSecrets struct {
	steps        []pathStep
	secrets      [][]byte // secrets[i] is path_secret for steps[i].parent
	commitSecret []byte
}

// secretFor returns the path secret of node x, if x is on the path.
func (p *pathSecrets) secretFor(x tm.NodeIndex) []byte {
	for i, s := range p.steps {
		if s.parent == x {
			return p.secrets[i]
		}
	}
	return nil
}

// createUpdatePath updates the committer's direct path in t (RFC 9420,
// Sections 7.4 and 7.5) and returns the UpdatePath with path secrets
// encrypted to the group (Section 7.6). leaf is the committer's new leaf
// node (source commit, encryption key set by this function, parent hash and
// signature filled in here). newLeaves are the members added by the same
// commit, excluded from every resolution. ctxFor builds the provisional
// GroupContext from the new tree hash.
func createUpdatePath(s *ciphersuite.Suite, rand io.Reader, t *ratchetTree, keys nodeKeys,
	own tm.LeafIndex, leaf *leafNode, sigPriv *ciphersuite.SignaturePrivateKey, groupID []byte,
	newLeaves map[tm.LeafIndex]bool, ctxFor func(treeHash []byte) []byte,
) (*updatePath, *pathSecrets, error) {
	leafPriv, err := s.GenerateHPKEKeyPair(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: leaf key: %w", err)
	}
	first := make([]byte, s.Nh())
	if _, err := io.ReadFull(rand, first); err != nil {
		return nil, nil, fmt.Errorf("mls: path secret: %w", err)
	}

	t.blankDirectPath(own)
	steps := t.filteredDirectPath(own)
	ps := &pathSecrets{steps: steps}
	secret := first
	privs := make([]*ciphersuite.HPKEPrivateKey, len(steps))
	for i, st := range steps {
		priv, err := nodeKeyPair(s, secret)
		if err != nil {
			return nil, nil, err
		}
		privs[i] = priv
		ps.secrets = append(ps.secrets, secret)
		t.set(st.parent, &node{parent: &parentNode{encryptionKey: priv.PublicKey()}})
		secret = s.DeriveSecret(secret, "path")
	}
	ps.commitSecret = secret

	leaf.encryptionKey = leafPriv.PublicKey()
	leaf.source = sourceCommit
	leaf.parentHash = setPathParentHashes(s.Hash, t, steps)
	if err := signLeaf(s, sigPriv, leaf, groupID, own); err != nil {
		return nil, nil, err
	}
	t.setLeaf(own, leaf)

	// Private keys: forget the old path, keep the new one.
	for x := range keys {
		delete(keys, x)
	}
	keys[own.Node()] = leafPriv
	for i, st := range steps {
		keys[st.parent] = privs[i]
	}

	ctx := ctxFor(t.rootHash(s.Hash))
	up := &updatePath{leafNode: *leaf}
	for i, st := range steps {
		n := updatePathNode{encryptionKey: privs[i].PublicKey()}
		for _, r := range t.resolution(st.copathChild, newLeaves) {
			kem, ct, err := s.EncryptWithLabel(t.nodes[r].encryptionKey(), "UpdatePathNode", ctx, ps.secrets[i])
			if err != nil {
				return nil, nil, fmt.Errorf("mls: encrypt path secret to node %d: %w", r, err)
			}
			n.encryptedPathSecret = append(n.encryptedPathSecret, hpkeCiphertext{kemOutput: kem, ciphertext: ct})
		}
		up.nodes = append(up.nodes, n)
	}
	return up, ps, nil
}

// mergeUpdatePath merges a received UpdatePath from sender into t
// (RFC 9420, Section 7.5, "merges UpdatePath into the tree"), checking its
// shape and the leaf's parent hash. The caller has validated the leaf node.
func mergeUpdatePath(s *ciphersuite.Suite, t *ratchetTree, sender tm.LeafIndex, up *updatePath, newLeaves map[tm.LeafIndex]bool) ([]pathStep, error) {
	t.blankDirectPath(sender)
	steps := t.filteredDirectPath(sender)
	if len(steps) != len(up.nodes) {
		return nil, ruleError(ErrInvalidCommit, "7.6", "update path has %d nodes, filtered direct path %d", len(up.nodes), len(steps))
	}
	for i, st := range steps {
		want := len(t.resolution(st.copathChild, newLeaves))
		if got := len(up.nodes[i].encryptedPathSecret); got != want {
			return nil, ruleError(ErrInvalidCommit, "7.6", "update path node %d has %d ciphertexts for a resolution of %d", i, got, want)
		}
		if err := s.ValidateHPKEPublicKey(up.nodes[i].encryptionKey); err != nil {
			return nil, ruleError(ErrInvalidCommit, "7.6", "update path node %d: %v", i, err)
		}
		t.set(st.parent, &node{parent: &parentNode{encryptionKey: up.nodes[i].encryptionKey}})
	}
	ph := setPathParentHashes(s.Hash, t, steps)
	if !bytes.Equal(ph, up.leafNode.parentHash) {
		return nil, ruleError(ErrInvalidCommit, "7.9.2", "committer's leaf parent_hash does not match the update path")
	}
	ln := up.leafNode
	t.setLeaf(sender, &ln)
	return steps, nil
}

// decryptUpdatePath recovers the path secrets of a merged UpdatePath for
// the member at own (RFC 9420, Section 7.5, "decrypts the path secrets"),
// checks that the derived public keys match the tree, stores the new
// private keys and returns the commit secret and the secret it decrypted.
func decryptUpdatePath(s *ciphersuite.Suite, t *ratchetTree, keys nodeKeys, own tm.LeafIndex,
	steps []pathStep, up *updatePath, newLeaves map[tm.LeafIndex]bool, ctx []byte,
) (commitSecret, decrypted []byte, err error) {
	start := -1
	for i, st := range steps {
		if tm.IsAncestor(st.copathChild, own.Node()) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, nil, ruleError(ErrInvalidCommit, "7.5", "no node of the update path covers leaf %d", own)
	}
	res := t.resolution(steps[start].copathChild, newLeaves)
	var secret []byte
	for j, r := range res {
		priv := keys[r]
		if priv == nil || !bytes.Equal(priv.PublicKey(), t.nodes[r].encryptionKey()) {
			continue
		}
		c := up.nodes[start].encryptedPathSecret[j]
		secret, err = s.DecryptWithLabel(priv, "UpdatePathNode", ctx, c.kemOutput, c.ciphertext)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: path secret (RFC 9420, Section 7.6)", ErrAuthentication)
		}
		break
	}
	if secret == nil {
		return nil, nil, ruleError(ErrInvalidCommit, "7.5", "no private key for the resolution of node %d", steps[start].copathChild)
	}
	decrypted = secret
	for i := start; i < len(steps); i++ {
		priv, err := nodeKeyPair(s, secret)
		if err != nil {
			return nil, nil, err
		}
		if subtle.ConstantTimeCompare(priv.PublicKey(), t.parentAt(steps[i].parent).encryptionKey) != 1 {
			return nil, nil, ruleError(ErrInvalidCommit, "7.5", "derived public key of node %d differs from the update path", steps[i].parent)
		}
		keys[steps[i].parent] = priv
		secret = s.DeriveSecret(secret, "path")
	}
	return secret, decrypted, nil
}
