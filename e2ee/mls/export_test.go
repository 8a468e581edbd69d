package mls

import (
	"testing"

	"conclave/e2ee/mls/keyschedule"
)

// Test-only hooks for the external benchmarks in versus_test.go.

// BenchGroup is benchGroup for package mls_test.
func BenchGroup(tb testing.TB, cs CipherSuite, n int) (alice, bob *Group) {
	return benchGroup(tb, cs, n)
}

// CloneForBench returns an independent copy of g, so that a benchmark can
// process one message many times from the same state.
// Unlike clone, it also copies the secret tree, so that a message key used
// by the copy is still there for the next one.
func (g *Group) CloneForBench() *Group {
	c := g.clone()
	b, err := g.msgKeys.t.MarshalBinary()
	if err != nil {
		panic(err)
	}
	t, err := keyschedule.UnmarshalSecretTree(g.suite, b, secretTreeConfig(g.cfg.OutOfOrder))
	if err != nil {
		panic(err)
	}
	c.msgKeys = &trackedTree{t: t}
	return c
}
