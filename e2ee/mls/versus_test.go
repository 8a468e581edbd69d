package mls_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"conclave/e2ee/mls"
	"conclave/e2ee/mls/interop"
)

// BenchmarkVersusTSMLS times this package and ts-mls 1.6.4 (under Node,
// with nobleCryptoProvider, through interop/bench.mjs) doing the same
// operations on the same group, in the same run:
//
//   - create: a commit with no proposals and an UpdatePath (RFC 9420,
//     Section 12.4.1), from leaf 0 (Go) and leaf 1 (ts-mls), the two
//     leaves under the same parent, so both paths have the same shape;
//   - process: processing that commit from the other side (Section
//     12.4.2): Go at leaf 0 processes the ts-mls commit and ts-mls at leaf
//     1 a Go commit;
//   - welcome: a commit adding one member, without an UpdatePath (ts-mls
//     adds none to an Add-only commit; the Go default adds one), reporting
//     the Welcome's size (welcome-bytes), which carries the ratchet tree.
//
// The group is BenchGroup's (every parent node keyed, as after each
// member's first commit; see benchGroup) with leaf 1 handed to a ts-mls
// client by a commit removing bob and adding it, whose Welcome ts-mls
// joins: so ts-mls validates and uses the very tree the Go side measures.
// Commits are PrivateMessages on both sides. Besides wall time (ns/op), each
// reports the process's CPU time per operation (cpu-ns/op), a steadier
// figure on a shared machine. interop/bench.sh runs this and prints a table.
func BenchmarkVersusTSMLS(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peer, err := interop.StartBench(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := peer.Close(); err != nil {
			b.Error(err)
		}
	}()
	for _, cs := range []mls.CipherSuite{1, 3} {
		for _, n := range []int{2, 10, 100, 1000} {
			b.Run(fmt.Sprintf("suite%d/members=%d", cs, n), func(b *testing.B) {
				benchVersus(ctx, b, peer, cs, n)
			})
		}
	}
}

func benchVersus(ctx context.Context, b *testing.B, peer *interop.Peer, cs mls.CipherSuite, n int) {
	client := fmt.Sprintf("ts-%d-%d", cs, n)
	alice, _ := mls.BenchGroup(b, cs, n)
	tsKP, err := peer.KeyPackage(ctx, client, uint16(cs))
	if err != nil {
		b.Fatal(err)
	}
	kp, err := mls.ParseKeyPackage(tsKP)
	if err != nil {
		b.Fatal(err)
	}
	res, err := alice.Commit(mls.CommitOptions{Remove: []uint32{1}, Add: []*mls.KeyPackage{kp}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := alice.MergePendingCommit(); err != nil {
		b.Fatal(err)
	}
	ep, err := peer.Join(ctx, client, res.Welcome, nil)
	if err != nil {
		b.Fatal(err)
	}
	if ep.Epoch != alice.Epoch() || !bytes.Equal(ep.EpochAuthenticator, alice.EpochAuthenticator()) {
		b.Fatal("ts-mls and Go disagree on the benchmark group's epoch")
	}
	joiner := joinerKeyPackage(b, cs)

	// Every commit advances the sender's handshake ratchet, so Go's timed
	// commits are made by a copy: alice's own commit for ts-mls to process
	// must stay within ts-mls's window of future generations.
	b.Run("create/go", func(b *testing.B) {
		g := alice.CloneForBench()
		var cpu cpuMeter
		cpu.start()
		for b.Loop() {
			if _, err := g.Commit(mls.CommitOptions{}); err != nil {
				b.Fatal(err)
			}
			cpu.n++
		}
		cpu.stop()
		cpu.report(b)
	})
	b.Run("create/ts-mls", func(b *testing.B) {
		t, _, err := peer.BenchCommit(ctx, client, b.N, interop.PrivateMessage)
		if err != nil {
			b.Fatal(err)
		}
		reportTiming(b, t)
	})
	b.Run("process/go", func(b *testing.B) {
		_, commit, err := peer.BenchCommit(ctx, client, 1, interop.PrivateMessage)
		if err != nil {
			b.Fatal(err)
		}
		var cpu cpuMeter
		for b.Loop() {
			b.StopTimer()
			g := alice.CloneForBench()
			b.StartTimer()
			cpu.start()
			r, err := g.ProcessMessage(commit)
			cpu.stop()
			if err != nil || r.Commit == nil {
				b.Fatalf("processing the ts-mls commit: %v", err)
			}
			cpu.n++
		}
		cpu.report(b)
	})
	b.Run("process/ts-mls", func(b *testing.B) {
		res, err := alice.CloneForBench().Commit(mls.CommitOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t, err := peer.BenchProcess(ctx, client, b.N, res.Commit)
		if err != nil {
			b.Fatal(err)
		}
		reportTiming(b, t)
	})
	b.Run("welcome/go", func(b *testing.B) {
		g := alice.CloneForBench()
		var cpu cpuMeter
		size := 0
		cpu.start()
		for b.Loop() {
			res, err := g.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{joiner}, NoPath: true})
			if err != nil {
				b.Fatal(err)
			}
			size = len(res.Welcome)
			cpu.n++
		}
		cpu.stop()
		cpu.report(b)
		b.ReportMetric(float64(size), "welcome-bytes")
	})
	b.Run("welcome/ts-mls", func(b *testing.B) {
		t, size, err := peer.BenchAdd(ctx, client, b.N, joiner.Bytes(), interop.PrivateMessage)
		if err != nil {
			b.Fatal(err)
		}
		reportTiming(b, t)
		b.ReportMetric(float64(size), "welcome-bytes")
	})
}

func joinerKeyPackage(b *testing.B, cs mls.CipherSuite) *mls.KeyPackage {
	sig, err := mls.GenerateSignatureKey(cs, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	kb, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: cs, Credential: mls.BasicCredential([]byte("joiner")), SignatureKey: sig}, mls.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return kb.KeyPackage()
}

// reportTiming replaces the benchmark's own figures, which include the
// round trip to Node, with the ones bench.mjs measured inside Node.
func reportTiming(b *testing.B, t interop.Timing) {
	b.ReportMetric(t.NsPerOp, "ns/op")
	b.ReportMetric(t.CPUNsPerOp, "cpu-ns/op")
}

// cpuMeter accumulates process CPU time over the measured operations.
type cpuMeter struct {
	began, total time.Duration
	n            int
}

func (m *cpuMeter) start() { m.began = mls.ProcessCPUTime() }
func (m *cpuMeter) stop()  { m.total += mls.ProcessCPUTime() - m.began }
func (m *cpuMeter) report(b *testing.B) {
	if m.n > 0 && m.total > 0 {
		b.ReportMetric(float64(m.total.Nanoseconds())/float64(m.n), "cpu-ns/op")
	}
}
