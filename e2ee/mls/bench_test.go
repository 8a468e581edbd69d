package mls

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"conclave/e2ee/mls/ciphersuite"
	tm "conclave/e2ee/mls/treemath"
)

// benchGroup builds an n-member group and returns the states of two of its
// members, alice (leaf 0) and bob (leaf 1).
//
// A group whose members were all added by one commit has blank parent
// nodes, so its first commits encrypt to every leaf (O(n)); a busy meeting
// soon reaches the steady state where every parent node holds a key and a
// commit touches O(log n) nodes. Reaching it with real commits needs one
// commit from every other member, each processed by all the others, which
// takes minutes at n = 1000. So after the Add commit the tree is filled the
// way those commits would have filled it: each even leaf, from the right,
// replaces its direct path with fresh key pairs, sets the parent hashes and
// re-signs its leaf (source commit) with its own signature key (RFC 9420,
// Sections 7.4, 7.5 and 7.9). The resulting tree is parent-hash valid with
// valid leaf signatures (checked here), so another implementation accepts
// it in a Welcome: the ts-mls comparison joins this very tree.
func benchGroup(tb testing.TB, cs CipherSuite, n int) (alice, bob *Group) {
	tb.Helper()
	cfg := Config{}
	bundles := make([]*KeyPackageBundle, n)
	for i := range bundles {
		bundles[i] = newBundle(tb, cs, fmt.Sprint("member-", i))
	}
	alice, err := CreateGroup([]byte("bench"), bundles[0], GroupOptions{}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if n == 1 {
		return alice, nil
	}
	var kps []*KeyPackage
	for _, b := range bundles[1:] {
		kps = append(kps, b.KeyPackage())
	}
	res, err := alice.Commit(CommitOptions{Add: kps, NoPath: true})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := alice.MergePendingCommit(); err != nil {
		tb.Fatal(err)
	}
	bob, err = JoinFromWelcome(res.Welcome, bundles[1], JoinOptions{}, cfg)
	if err != nil {
		tb.Fatal(err)
	}

	s := alice.suite
	t := alice.tree
	priv := map[tm.NodeIndex]*ciphersuite.HPKEPrivateKey{}
	derive := func(x tm.NodeIndex, committer int) *ciphersuite.HPKEPrivateKey {
		seed := sha256.Sum256(fmt.Appendf(nil, "bench node %d by %d", x, committer))
		k, err := s.DeriveKeyPair(seed[:])
		if err != nil {
			tb.Fatal(err)
		}
		priv[x] = k
		return k
	}
	for j := (n - 1) &^ 1; j >= 0; j -= 2 {
		l := tm.LeafIndex(j)
		t.blankDirectPath(l)
		steps := t.filteredDirectPath(l)
		for _, st := range steps {
			t.set(st.parent, &node{parent: &parentNode{encryptionKey: derive(st.parent, j).PublicKey()}})
		}
		leaf := t.leaf(l).clone()
		leaf.source = sourceCommit
		leaf.lifetime = lifetime{}
		leaf.encryptionKey = derive(l.Node(), j).PublicKey()
		leaf.parentHash = setPathParentHashes(s.Hash, t, steps)
		if err := signLeaf(s, bundles[j].sig.priv, leaf, alice.ctx.groupID, l); err != nil {
			tb.Fatal(err)
		}
		t.setLeaf(l, leaf)
	}
	if err := validateTree(s, &cfg, t, &groupContext{groupID: alice.ctx.groupID, treeHash: t.rootHash(s.Hash)}); err != nil {
		tb.Fatalf("bench tree: %v", err)
	}
	bob.tree = t.clone()
	for _, g := range []*Group{alice, bob} {
		g.ctx.treeHash = g.tree.rootHash(s.Hash)
		// Odd leaves never committed and keep their KeyPackage's key.
		g.keys = nodeKeys{g.own.Node(): g.keys[g.own.Node()]}
		for _, x := range append([]tm.NodeIndex{g.own.Node()}, tm.DirectPath(g.own.Node(), t.leafCount())...) {
			if k := priv[x]; k != nil && !t.blank(x) {
				g.keys[x] = k
			}
		}
	}
	// One real commit checks that both members hold a consistent state.
	res, err = alice.Commit(CommitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := alice.MergePendingCommit(); err != nil {
		tb.Fatal(err)
	}
	if _, err := bob.ProcessMessage(res.Commit); err != nil {
		tb.Fatalf("bench group: bob cannot follow alice: %v", err)
	}
	if !bytes.Equal(alice.EpochAuthenticator(), bob.EpochAuthenticator()) {
		tb.Fatal("bench group: alice and bob disagree")
	}
	return alice, bob
}

var benchSizes = []int{2, 10, 100, 1000}

// cpuMeter accumulates the process CPU time of the measured parts of a
// benchmark and reports it as cpu-ns/op.
type cpuMeter struct {
	start, total time.Duration
}

func (m *cpuMeter) Start() { m.start = ProcessCPUTime() }
func (m *cpuMeter) Stop()  { m.total += ProcessCPUTime() - m.start }
func (m *cpuMeter) Report(b *testing.B, n int) {
	if n > 0 && m.total > 0 {
		b.ReportMetric(float64(m.total.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// BenchmarkCommitCreate measures creating an empty commit with an
// UpdatePath (RFC 9420, Section 12.4.1).
func BenchmarkCommitCreate(b *testing.B) {
	for _, cs := range []CipherSuite{1, 3} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("suite%d/members=%d", cs, n), func(b *testing.B) {
				alice, _ := benchGroup(b, cs, n)
				var cpu cpuMeter
				iters := 0
				b.ResetTimer()
				cpu.Start()
				for b.Loop() {
					if _, err := alice.Commit(CommitOptions{}); err != nil {
						b.Fatal(err)
					}
					iters++
				}
				cpu.Stop()
				cpu.Report(b, iters)
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
				res, err := alice.Commit(CommitOptions{})
				if err != nil {
					b.Fatal(err)
				}
				var cpu cpuMeter
				iters := 0
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					g := bob.CloneForBench()
					b.StartTimer()
					cpu.Start()
					if _, err := g.ProcessMessage(res.Commit); err != nil {
						b.Fatal(err)
					}
					cpu.Stop()
					iters++
				}
				cpu.Report(b, iters)
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
				var cpu cpuMeter
				iters := 0
				b.ResetTimer()
				cpu.Start()
				for b.Loop() {
					res, err := alice.Commit(CommitOptions{Add: []*KeyPackage{kp}})
					if err != nil {
						b.Fatal(err)
					}
					size = len(res.Welcome)
					iters++
				}
				cpu.Stop()
				cpu.Report(b, iters)
				b.ReportMetric(float64(size), "welcome-bytes")
			})
		}
	}
}
