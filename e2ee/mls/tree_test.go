package mls

import (
	"bytes"
	"fmt"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
	tm "conclave/e2ee/mls/treemath"
	"conclave/internal/vectors"
)

func testSuite(t testing.TB, id uint16) *ciphersuite.Suite {
	t.Helper()
	s, err := ciphersuite.New(ciphersuite.ID(id))
	if err != nil {
		t.Fatalf("cipher suite %d: %v", id, err)
	}
	return s
}

// TestTreeValidationVectors checks tree hashes, resolutions and parent
// hashes against tree-validation.json (vectors FORMAT.md, "Tree Validation").
func TestTreeValidationVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16     `json:"cipher_suite"`
		Tree        hexBytes   `json:"tree"`
		GroupID     hexBytes   `json:"group_id"`
		TreeHashes  []hexBytes `json:"tree_hashes"`
		Resolutions [][]uint32 `json:"resolutions"`
	}
	vectors.Load(t, "mls", "tree-validation.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		t.Run(fmt.Sprintf("suite%d/case%02d", v.CipherSuite, i), func(t *testing.T) {
			s := testSuite(t, v.CipherSuite)
			tree, err := decodeTree(v.Tree)
			if err != nil {
				t.Fatalf("decode tree: %v", err)
			}
			if len(tree.nodes) != len(v.TreeHashes) {
				t.Fatalf("tree has %d nodes, vector %d", len(tree.nodes), len(v.TreeHashes))
			}
			for x := range tree.nodes {
				if got := tree.treeHash(s.Hash, tm.NodeIndex(x)); !bytes.Equal(got, v.TreeHashes[x]) {
					t.Fatalf("tree hash of node %d = %x, want %x", x, got, []byte(v.TreeHashes[x]))
				}
				res := tree.resolution(tm.NodeIndex(x), nil)
				if len(res) != len(v.Resolutions[x]) {
					t.Fatalf("resolution of node %d = %v, want %v", x, res, v.Resolutions[x])
				}
				for j := range res {
					if uint32(res[j]) != v.Resolutions[x][j] {
						t.Fatalf("resolution of node %d = %v, want %v", x, res, v.Resolutions[x])
					}
				}
			}
			if err := tree.verifyParentHashes(s.Hash); err != nil {
				t.Fatalf("parent hashes: %v", err)
			}
			var err2 error
			tree.members(func(l tm.LeafIndex, ln *leafNode) {
				if err2 == nil {
					err2 = verifyLeafSignature(s, ln, v.GroupID, l)
				}
			})
			if err2 != nil {
				t.Fatal(err2)
			}
		})
	}
}

// TestTreeOperationsVectors applies one proposal to a tree
// (vectors FORMAT.md, "Tree Operations").
func TestTreeOperationsVectors(t *testing.T) {
	var vs []struct {
		CipherSuite    uint16   `json:"cipher_suite"`
		TreeBefore     hexBytes `json:"tree_before"`
		Proposal       hexBytes `json:"proposal"`
		ProposalSender uint32   `json:"proposal_sender"`
		TreeHashBefore hexBytes `json:"tree_hash_before"`
		TreeAfter      hexBytes `json:"tree_after"`
		TreeHashAfter  hexBytes `json:"tree_hash_after"`
	}
	vectors.Load(t, "mls", "tree-operations.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		var p proposal
		if err := decode(v.Proposal, &p); err != nil {
			t.Fatalf("case %d: proposal: %v", i, err)
		}
		t.Run(fmt.Sprintf("case%d_%v", i, p.typ), func(t *testing.T) {
			s := testSuite(t, v.CipherSuite)
			tree, err := decodeTree(v.TreeBefore)
			if err != nil {
				t.Fatalf("decode tree: %v", err)
			}
			if got := tree.rootHash(s.Hash); !bytes.Equal(got, v.TreeHashBefore) {
				t.Fatalf("tree hash before = %x, want %x", got, []byte(v.TreeHashBefore))
			}
			switch p.typ {
			case ProposalAdd:
				if _, err := tree.addLeaf(&p.add.leafNode); err != nil {
					t.Fatal(err)
				}
			case ProposalUpdate:
				tree.setLeaf(tm.LeafIndex(v.ProposalSender), p.update)
				tree.blankDirectPath(tm.LeafIndex(v.ProposalSender))
			case ProposalRemove:
				tree.removeLeaf(tm.LeafIndex(p.removed))
			default:
				t.Fatalf("unexpected proposal %v", p.typ)
			}
			if got := tree.encode(); !bytes.Equal(got, v.TreeAfter) {
				t.Fatalf("tree after = %x\nwant %x", got, []byte(v.TreeAfter))
			}
			if got := tree.rootHash(s.Hash); !bytes.Equal(got, v.TreeHashAfter) {
				t.Fatalf("tree hash after = %x, want %x", got, []byte(v.TreeHashAfter))
			}
			// The cache must agree with a hash computed from scratch.
			fresh, err := decodeTree(tree.encode())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh.rootHash(s.Hash), v.TreeHashAfter) {
				t.Fatal("cached tree hash differs from a fresh computation")
			}
		})
	}
}
