package mls

import (
	"crypto/sha256"
	"fmt"
	"testing"

	tm "conclave/e2ee/mls/treemath"
)

// benchGroup builds an n-member group and returns the states of two of its
// members, alice (leaf 0) and bob (leaf 1). Building a realistic tree by
// having every member commit would take minutes at n = 1000, so after the
// members are added every blank parent node gets a key pair, as if each
// member had committed once: the tree is then full, which is the steady
// state of a busy meeting, and commits touch O(log n) nodes.
func benchGroup(b *testing.B, cs CipherSuite, n int) (alice, bob *Group) {
	b.Helper()
	cfg := Config{}
	ab := newBundle(b, cs, "member-0")
	alice, err := CreateGroup([]byte("bench"), ab, GroupOptions{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	var kps []*KeyPackage
	var bobBundle *KeyPackageBundle
	for i := 1; i < n; i++ {
		kb := newBundle(b, cs, fmt.Sprint("member-", i))
		if i == 1 {
			bobBundle = kb
		}
		kps = append(kps, kb.KeyPackage())
	}
	res, err := alice.Commit(CommitOptions{Add: kps, NoPath: true})
	if err != nil {
		b.Fatal(err)
	}
	alice.MergePendingCommit()
	bob, err = JoinFromWelcome(res.Welcome, bobBundle, JoinOptions{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	// Fill the blank parents with keys derived from their index.
	s := alice.suite
	for x := tm.NodeIndex(1); uint32(x) < alice.tree.leafCount().Width(); x += 2 {
		if !alice.tree.blank(x) {
			continue
		}
		seed := sha256.Sum256([]byte(fmt.Sprint("bench node ", x)))
		priv, err := s.DeriveKeyPair(seed[:])
		if err != nil {
			b.Fatal(err)
		}
		nd := &node{parent: &parentNode{encryptionKey: priv.PublicKey()}}
		alice.tree.set(x, nd)
		bob.tree.set(x, nd)
		for _, g := range []*Group{alice, bob} {
			if tm.IsAncestor(x, g.own.Node()) {
				g.keys[x] = priv
			}
		}
	}
	alice.ctx.treeHash = alice.tree.rootHash(s.Hash)
	bob.ctx.treeHash = bob.tree.rootHash(s.Hash)
	return alice, bob
}

var benchSizes = []int{2, 10, 100, 1000}

// BenchmarkCommitCreate measures creating an empty commit with an
// UpdatePath (RFC 9420, Section 12.4.1).
func BenchmarkCommitCreate(b *testing.B) {
	for _, cs := range []CipherSuite{1, 3} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("suite%d/members=%d", cs, n), func(b *testing.B) {
				alice, _ := benchGroup(b, cs, n)
				b.ResetTimer()
				for b.Loop() {
					if _, err := alice.Commit(CommitOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCommitProcess measures processing another member's commit with
// an UpdatePath (RFC 9420, Section 12.4.2).
func BenchmarkCommitProcess(b *testing.B) {
	for _, cs := range []CipherSuite{1, 3} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("suite%d/members=%d", cs, n), func(b *testing.B) {
				alice, bob := benchGroup(b, cs, n)
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					res, err := alice.Commit(CommitOptions{})
					if err != nil {
						b.Fatal(err)
					}
					g := bob.clone()
					b.StartTimer()
					if _, err := g.ProcessMessage(res.Commit); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWelcome measures a commit adding one member and reports the
// size of its Welcome, which carries the ratchet tree.
func BenchmarkWelcome(b *testing.B) {
	for _, cs := range []CipherSuite{1, 3} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("suite%d/members=%d", cs, n), func(b *testing.B) {
				alice, _ := benchGroup(b, cs, n)
				kp := newBundle(b, cs, "joiner").KeyPackage()
				size := 0
				b.ResetTimer()
				for b.Loop() {
					res, err := alice.Commit(CommitOptions{Add: []*KeyPackage{kp}})
					if err != nil {
						b.Fatal(err)
					}
					size = len(res.Welcome)
				}
				b.ReportMetric(float64(size), "welcome-bytes")
			})
		}
	}
}
