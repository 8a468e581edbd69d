package keyschedule

import (
	"bytes"
	"testing"
)

func BenchmarkFromInitSecret(b *testing.B) {
	s := testSuite(b)
	init, commit, gc := make([]byte, 32), make([]byte, 32), bytes.Repeat([]byte{1}, 120)
	for b.Loop() {
		if _, err := FromInitSecret(s, init, commit, nil, gc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSecretTreeFirstKey measures deriving a leaf's first key in a fresh
// 1024-leaf tree (ten tree levels plus the ratchet roots).
func BenchmarkSecretTreeFirstKey(b *testing.B) {
	s := testSuite(b)
	secret := make([]byte, 32)
	for b.Loop() {
		tree, err := NewSecretTree(s, secret, 1024, Config{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tree.Next(517, Application); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRatchetStep measures one receive step on an established ratchet.
func BenchmarkRatchetStep(b *testing.B) {
	tree := newTree(b, 2, Config{})
	gen := uint32(0)
	noop := func(_, _ []byte) error { return nil }
	for b.Loop() {
		if err := tree.Consume(1, Application, gen, noop); err != nil {
			b.Fatal(err)
		}
		gen++
	}
}
