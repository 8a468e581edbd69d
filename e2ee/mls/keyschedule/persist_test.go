package keyschedule

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
)

// usedTree returns a tree of 8 leaves in which leaf 5 received generations
// 3 and 1 of its application ratchet (keeping 0 and 2 for late messages),
// leaf 2 sent two handshake messages, and the keys the sender used, by
// generation, for leaf 5.
func usedTree(t testing.TB) (*SecretTree, [][]byte) {
	t.Helper()
	sender, tree := newTree(t, 8, Config{}), newTree(t, 8, Config{})
	var sent [][]byte
	for range 6 {
		kn, err := sender.Next(5, Application)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, bytes.Clone(kn.Key))
	}
	for _, g := range []uint32{3, 1} {
		if err := tree.Consume(5, Application, g, func([]byte, []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := tree.Next(2, Handshake); err != nil {
			t.Fatal(err)
		}
	}
	return tree, sent
}

func roundTrip(t *testing.T, tree *SecretTree, cfg Config) (*SecretTree, []byte) {
	t.Helper()
	b, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalSecretTree(tree.suite, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return got, b
}

// TestSecretTreeRoundTrip checks that a restored tree continues exactly
// where the saved one stood: skipped keys open late messages once, used
// generations stay refused, ratchets continue, and untouched leaves derive
// the same keys.
func TestSecretTreeRoundTrip(t *testing.T) {
	tree, sent := usedTree(t)
	restored, b := roundTrip(t, tree, Config{})
	again, err := restored.MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-marshalled tree differs (%v)", err)
	}
	for _, g := range []uint32{2, 0, 5, 4} {
		err := restored.Consume(5, Application, g, func(key, _ []byte) error {
			if !bytes.Equal(key, sent[g]) {
				t.Errorf("generation %d: key differs from the sender's", g)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("generation %d after restore: %v", g, err)
		}
	}
	for _, g := range []uint32{0, 1, 2, 3, 4, 5} {
		if err := restored.Consume(5, Application, g, func([]byte, []byte) error { return nil }); !errors.Is(err, ErrGenerationConsumed) {
			t.Fatalf("generation %d used twice: %v", g, err)
		}
	}
	want, err := tree.Next(2, Handshake)
	if err != nil {
		t.Fatal(err)
	}
	got, err := restored.Next(2, Handshake)
	if err != nil || got.Generation != 2 || !bytes.Equal(got.Key, want.Key) {
		t.Fatalf("sending ratchet after restore: generation %d, same key %v, %v", got.Generation, bytes.Equal(got.Key, want.Key), err)
	}
	for _, leaf := range []uint32{0, 7} {
		a, err := tree.Next(leaf, Application)
		if err != nil {
			t.Fatal(err)
		}
		b, err := restored.Next(leaf, Application)
		if err != nil || !bytes.Equal(a.Key, b.Key) {
			t.Fatalf("leaf %d: restored tree derives another key (%v)", leaf, err)
		}
	}
}

// TestSecretTreeSavesOnlyUnconsumed checks that the saved bytes hold
// neither encryption_secret once it has been split, nor keys already used,
// but do hold the keys kept for late messages.
func TestSecretTreeSavesOnlyUnconsumed(t *testing.T) {
	fresh := newTree(t, 8, Config{})
	b, err := fresh.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	root := bytes.Repeat([]byte{0x42}, 32)
	if !bytes.Contains(b, root) {
		t.Fatal("an untouched tree must save its root secret (nothing else is unconsumed)")
	}
	tree, sent := usedTree(t)
	b, err = tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, root) {
		t.Fatal("saved tree contains encryption_secret after it was consumed")
	}
	for g, key := range sent {
		kept := g == 0 || g == 2
		if bytes.Contains(b, key) != kept {
			t.Errorf("generation %d key in saved bytes: %v, want %v", g, !kept, kept)
		}
	}
}

func TestSecretTreeEvictsOnRestore(t *testing.T) {
	tree, _ := usedTree(t)
	restored, _ := roundTrip(t, tree, Config{MaxRetained: 1})
	// Generation 0 is the oldest skipped key and goes first.
	if err := restored.Consume(5, Application, 0, func([]byte, []byte) error { return nil }); !errors.Is(err, ErrGenerationConsumed) {
		t.Fatalf("evicted generation 0: %v", err)
	}
	if err := restored.Consume(5, Application, 2, func([]byte, []byte) error { return nil }); err != nil {
		t.Fatalf("kept generation 2: %v", err)
	}
}

// TestSecretTreeRejectsBadState checks the consistency rules of
// UnmarshalSecretTree on hand-made and corrupted inputs.
func TestSecretTreeRejectsBadState(t *testing.T) {
	s := testSuite(t)
	tree, _ := usedTree(t)
	good, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	other, err := ciphersuite.New(ciphersuite.MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	secret := func(b byte) []byte { return append([]byte{32}, bytes.Repeat([]byte{b}, 32)...) }
	// header: version 1, suite 1, 4 leaves.
	header := []byte{1, 0, 1, 0, 0, 0, 4}
	node := func(x byte, b byte) []byte { return append([]byte{0, 0, 0, x}, secret(b)...) }
	vec := func(parts ...[]byte) []byte {
		body := bytes.Join(parts, nil)
		if len(body) < 64 {
			return append([]byte{byte(len(body))}, body...)
		}
		// Two-byte MLS varint (RFC 9420, Section 2.1.2).
		return append([]byte{0x40 | byte(len(body)>>8), byte(len(body))}, body...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		data []byte
		s    *ciphersuite.Suite
		want string
	}{
		{"other suite", good, other, "cipher suite"},
		{"truncated", good[:len(good)-1], s, "truncated"},
		{"trailing byte", append(bytes.Clone(good), 0), s, "trailing"},
		{"version 2", append([]byte{2}, good[1:]...), s, "version 2"},
		{"leaf count 3", cat([]byte{1, 0, 1, 0, 0, 0, 3}, vec(), vec()), s, "leaf count 3"},
		{"node outside tree", cat(header, vec(node(7, 1)), vec()), s, "outside"},
		{"node and ancestor", cat(header, vec(node(1, 1), node(3, 2)), vec()), s, "ancestor"},
		{"node twice", cat(header, vec(node(5, 1), node(5, 2)), vec()), s, "twice"},
		{"short node secret", cat(header, vec([]byte{0, 0, 0, 3, 1, 9}), vec()), s, "1 bytes"},
		{"lone ratchet", cat(header, vec(node(4, 1)), vec(cat([]byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, secret(3), vec()))), s, "without its"},
		{"ratchet under node", cat(header, vec(node(1, 1)),
			vec(cat([]byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, secret(3), vec()), cat([]byte{0, 0, 0, 0, 2, 0, 0, 0, 0, 0}, secret(4), vec()))), s, "ancestor"},
		{"skipped ahead of ratchet", cat(header, vec(),
			vec(cat([]byte{0, 0, 0, 0, 1, 0, 0, 0, 1, 0}, secret(3), vec(cat([]byte{0, 0, 0, 1}, []byte{16}, bytes.Repeat([]byte{5}, 16), []byte{12}, bytes.Repeat([]byte{6}, 12)))),
				cat([]byte{0, 0, 0, 0, 2, 0, 0, 0, 0, 0}, secret(4), vec()))), s, "not below"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := UnmarshalSecretTree(c.s, c.data, Config{}); !errors.Is(err, ErrSavedState) {
				t.Fatalf("err = %v, want ErrSavedState", err)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
	// The well-formed hand-made tree those cases corrupt is accepted.
	ok := cat(header, vec(node(1, 1), node(5, 2)), vec())
	if _, err := UnmarshalSecretTree(s, ok, Config{}); err != nil {
		t.Fatalf("valid hand-made tree: %v", err)
	}
}

func TestRestoreEpoch(t *testing.T) {
	s := testSuite(t)
	ep, err := FromEpochSecret(s, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	saved := *ep
	saved.EncryptionSecret = nil
	got, err := RestoreEpoch(s, &saved)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ep.Export("label", []byte("ctx"), 16)
	b, err := got.Export("label", []byte("ctx"), 16)
	if err != nil || !bytes.Equal(a, b) || got.EncryptionSecret != nil {
		t.Fatalf("restored epoch exports differently or keeps encryption_secret (%v)", err)
	}
	saved.ExporterSecret[0] ^= 1
	if bytes.Equal(got.ExporterSecret, saved.ExporterSecret) {
		t.Fatal("RestoreEpoch did not copy the secrets")
	}
	saved.MembershipKey = nil
	if _, err := RestoreEpoch(s, &saved); !errors.Is(err, ErrSecretSize) {
		t.Fatalf("missing membership_key: %v", err)
	}
}

// FuzzUnmarshalSecretTree feeds arbitrary bytes to UnmarshalSecretTree:
// whatever it accepts re-marshals canonically (a second round trip is
// byte-identical) and can be used without panicking.
func FuzzUnmarshalSecretTree(f *testing.F) {
	tree, _ := usedTree(f)
	b, err := tree.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	fresh, _ := newTree(f, 1, Config{}).MarshalBinary()
	f.Add(fresh)
	s := testSuite(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := UnmarshalSecretTree(s, data, Config{MaxRetained: 4})
		if err != nil {
			if !errors.Is(err, ErrSavedState) {
				t.Fatalf("error %v does not wrap ErrSavedState", err)
			}
			return
		}
		m1, err := got.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		again, err := UnmarshalSecretTree(s, m1, Config{MaxRetained: 4})
		if err != nil {
			t.Fatalf("re-marshalled tree refused: %v", err)
		}
		m2, _ := again.MarshalBinary()
		if !bytes.Equal(m1, m2) {
			t.Fatal("marshalling is not canonical")
		}
		for leaf := range min(got.LeafCount(), 4) {
			_ = got.Consume(leaf, Application, 0, func([]byte, []byte) error { return nil })
			_, _ = got.Next(leaf, Handshake)
		}
	})
}

// TestFailedConsumeChangesNothing checks that a message that fails on a
// leaf never used before does not even split the tree: the saved bytes
// before and after are identical.
func TestFailedConsumeChangesNothing(t *testing.T) {
	tree, _ := usedTree(t)
	before, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("does not decrypt")
	for _, leaf := range []uint32{6, 5, 0} {
		if err := tree.Consume(leaf, Handshake, 7, func([]byte, []byte) error { return fail }); !errors.Is(err, fail) {
			t.Fatalf("leaf %d: %v", leaf, err)
		}
	}
	after, _ := tree.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("failed Consume changed the saved tree")
	}
	// The same generation still works afterwards.
	if err := tree.Consume(6, Handshake, 7, func([]byte, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
