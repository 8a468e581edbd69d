package mls

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
	tm "conclave/e2ee/mls/treemath"
	"conclave/internal/vectors"
)

type treeKEMVector struct {
	CipherSuite             uint16   `json:"cipher_suite"`
	GroupID                 hexBytes `json:"group_id"`
	Epoch                   uint64   `json:"epoch"`
	ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
	RatchetTree             hexBytes `json:"ratchet_tree"`
	LeavesPrivate           []struct {
		Index          uint32   `json:"index"`
		EncryptionPriv hexBytes `json:"encryption_priv"`
		SignaturePriv  hexBytes `json:"signature_priv"`
		PathSecrets    []struct {
			Node       uint32   `json:"node"`
			PathSecret hexBytes `json:"path_secret"`
		} `json:"path_secrets"`
	} `json:"leaves_private"`
	UpdatePaths []struct {
		Sender        uint32     `json:"sender"`
		UpdatePath    hexBytes   `json:"update_path"`
		PathSecrets   []hexBytes `json:"path_secrets"`
		CommitSecret  hexBytes   `json:"commit_secret"`
		TreeHashAfter hexBytes   `json:"tree_hash_after"`
	} `json:"update_paths"`
}

// TestTreeKEMVectors follows vectors FORMAT.md, "TreeKEM".
func TestTreeKEMVectors(t *testing.T) {
	var vs []treeKEMVector
	vectors.Load(t, "mls", "treekem.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i := range vs {
		v := &vs[i]
		t.Run(fmt.Sprintf("suite%d/case%02d", v.CipherSuite, i), func(t *testing.T) {
			t.Parallel()
			runTreeKEMVector(t, v)
		})
	}
}

func runTreeKEMVector(t *testing.T, v *treeKEMVector) {
	s := testSuite(t, v.CipherSuite)
	base, err := decodeTree(v.RatchetTree)
	if err != nil {
		t.Fatalf("decode tree: %v", err)
	}
	ctxFor := func(treeHash []byte) []byte {
		gc := groupContext{version: ProtocolVersionMLS10, cipherSuite: CipherSuite(v.CipherSuite),
			groupID: v.GroupID, epoch: v.Epoch, treeHash: treeHash, confirmedTranscriptHash: v.ConfirmedTranscriptHash}
		return mustEncode(&gc)
	}

	// Private states, checked against the public tree.
	privs := map[tm.LeafIndex]nodeKeys{}
	sigs := map[tm.LeafIndex]*ciphersuite.SignaturePrivateKey{}
	for _, lp := range v.LeavesPrivate {
		l := tm.LeafIndex(lp.Index)
		k := nodeKeys{}
		leafPriv, err := s.NewHPKEPrivateKey(lp.EncryptionPriv)
		if err != nil {
			t.Fatal(err)
		}
		k[l.Node()] = leafPriv
		for _, ps := range lp.PathSecrets {
			priv, err := nodeKeyPair(s, ps.PathSecret)
			if err != nil {
				t.Fatal(err)
			}
			k[tm.NodeIndex(ps.Node)] = priv
		}
		for x, priv := range k {
			if base.blank(x) || !bytes.Equal(base.nodes[x].encryptionKey(), priv.PublicKey()) {
				t.Fatalf("leaf %d: private key for node %d does not match the tree", l, x)
			}
		}
		privs[l] = k
		sig, err := s.NewSignaturePrivateKey(lp.SignaturePriv)
		if err != nil {
			t.Fatal(err)
		}
		sigs[l] = sig
	}

	for _, upv := range v.UpdatePaths {
		sender := tm.LeafIndex(upv.Sender)
		var up updatePath
		if err := decode(upv.UpdatePath, &up); err != nil {
			t.Fatalf("decode update path: %v", err)
		}
		// Merge once to learn the tree hash and check parent hashes.
		merged := base.clone()
		steps, err := mergeUpdatePath(s, merged, sender, &up, nil)
		if err != nil {
			t.Fatalf("sender %d: merge: %v", sender, err)
		}
		if err := verifyLeafSignature(s, &up.leafNode, v.GroupID, sender); err != nil {
			t.Fatalf("sender %d: %v", sender, err)
		}
		if got := merged.rootHash(s.Hash); !bytes.Equal(got, upv.TreeHashAfter) {
			t.Fatalf("sender %d: tree hash after = %x, want %x", sender, got, []byte(upv.TreeHashAfter))
		}
		if err := merged.verifyParentHashes(s.Hash); err != nil {
			t.Fatalf("sender %d: merged tree: %v", sender, err)
		}
		ctx := ctxFor(merged.rootHash(s.Hash))
		for j, k := range privs {
			if j == sender {
				continue
			}
			keys := k.clone()
			cs, dec, err := decryptUpdatePath(s, merged, keys, j, steps, &up, nil, ctx)
			if err != nil {
				t.Fatalf("sender %d, receiver %d: %v", sender, j, err)
			}
			if !bytes.Equal(dec, upv.PathSecrets[j]) {
				t.Fatalf("sender %d, receiver %d: path secret %x, want %x", sender, j, dec, []byte(upv.PathSecrets[j]))
			}
			if !bytes.Equal(cs, upv.CommitSecret) {
				t.Fatalf("sender %d, receiver %d: commit secret %x, want %x", sender, j, cs, []byte(upv.CommitSecret))
			}
		}

		// Create a fresh UpdatePath from the sender; every other member
		// must reach the same commit secret.
		mine := base.clone()
		leaf := base.leaf(sender).clone()
		newUP, ps, err := createUpdatePath(s, rand.Reader, mine, privs[sender].clone(), sender, leaf, sigs[sender], v.GroupID, nil, ctxFor)
		if err != nil {
			t.Fatalf("sender %d: create: %v", sender, err)
		}
		theirs := base.clone()
		steps, err = mergeUpdatePath(s, theirs, sender, newUP, nil)
		if err != nil {
			t.Fatalf("sender %d: merge own path: %v", sender, err)
		}
		if !bytes.Equal(theirs.rootHash(s.Hash), mine.rootHash(s.Hash)) {
			t.Fatalf("sender %d: receivers' tree differs from the sender's", sender)
		}
		if err := theirs.verifyParentHashes(s.Hash); err != nil {
			t.Fatalf("sender %d: created path: %v", sender, err)
		}
		ctx = ctxFor(theirs.rootHash(s.Hash))
		for j, k := range privs {
			if j == sender {
				continue
			}
			cs, _, err := decryptUpdatePath(s, theirs, k.clone(), j, steps, newUP, nil, ctx)
			if err != nil {
				t.Fatalf("sender %d, receiver %d: new path: %v", sender, j, err)
			}
			if !bytes.Equal(cs, ps.commitSecret) {
				t.Fatalf("sender %d, receiver %d: commit secret differs from the sender's", sender, j)
			}
		}
	}
}
