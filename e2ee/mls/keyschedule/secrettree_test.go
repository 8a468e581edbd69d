package keyschedule

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
)

func testSuite(t testing.TB) *ciphersuite.Suite {
	t.Helper()
	s, err := ciphersuite.New(ciphersuite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTree(t testing.TB, leaves uint32, cfg Config) *SecretTree {
	t.Helper()
	tree, err := NewSecretTree(testSuite(t), bytes.Repeat([]byte{0x42}, 32), leaves, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// get returns the key of a generation through Consume.
func get(t *testing.T, tree *SecretTree, leaf uint32, typ RatchetType, gen uint32) ([]byte, error) {
	t.Helper()
	var key []byte
	err := tree.Consume(leaf, typ, gen, func(k, _ []byte) error {
		key = append([]byte(nil), k...)
		return nil
	})
	return key, err
}

// TestSenderReceiverAgree checks that what a sender's Next yields, a
// receiver's Consume finds, in order and out of order.
func TestSenderReceiverAgree(t *testing.T) {
	sender, receiver := newTree(t, 8, Config{}), newTree(t, 8, Config{})
	var sent []KeyNonce
	for range 10 {
		kn, err := sender.Next(5, Application)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, KeyNonce{Generation: kn.Generation, Key: append(Secret(nil), kn.Key...), Nonce: append(Secret(nil), kn.Nonce...)})
	}
	for i, kn := range sent {
		if kn.Generation != uint32(i) {
			t.Fatalf("sender generation %d, want %d", kn.Generation, i)
		}
	}
	for _, g := range []uint32{3, 0, 9, 1, 2, 8, 4, 5, 7, 6} {
		err := receiver.Consume(5, Application, g, func(key, nonce []byte) error {
			if !bytes.Equal(key, sent[g].Key) || !bytes.Equal(nonce, sent[g].Nonce) {
				return fmt.Errorf("generation %d: key/nonce differ from sender's", g)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Handshake and application ratchets are independent.
	hs, err := sender.Next(5, Handshake)
	if err != nil || hs.Generation != 0 || bytes.Equal(hs.Key, sent[0].Key) {
		t.Fatalf("handshake ratchet not independent: gen %d, %v", hs.Generation, err)
	}
}

func TestConsumedKeysAreDeleted(t *testing.T) {
	tree := newTree(t, 4, Config{})
	if _, err := get(t, tree, 1, Application, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, tree, 1, Application, 2); !errors.Is(err, ErrGenerationConsumed) {
		t.Fatalf("reused generation: err = %v, want ErrGenerationConsumed", err)
	}
	// Skipped generations 0 and 1 are still available exactly once.
	for _, g := range []uint32{0, 1} {
		if _, err := get(t, tree, 1, Application, g); err != nil {
			t.Fatalf("skipped generation %d: %v", g, err)
		}
		if _, err := get(t, tree, 1, Application, g); !errors.Is(err, ErrGenerationConsumed) {
			t.Fatalf("generation %d twice: %v", g, err)
		}
	}
}

// TestFailedUseLeavesStateUnchanged checks that a message that fails to
// decrypt neither advances the ratchet nor deletes the key.
func TestFailedUseLeavesStateUnchanged(t *testing.T) {
	tree := newTree(t, 4, Config{})
	want, err := newTree(t, 4, Config{}).Next(2, Handshake)
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("forged")
	for _, gen := range []uint32{5, 0} {
		if err := tree.Consume(2, Handshake, gen, func(_, _ []byte) error { return bad }); !errors.Is(err, bad) {
			t.Fatalf("use error not returned: %v", err)
		}
	}
	key, err := get(t, tree, 2, Handshake, 0)
	if err != nil || !bytes.Equal(key, want.Key) {
		t.Fatalf("generation 0 after failures: %v", err)
	}
	// Generation 5 failed earlier and was not stored: it is still ahead.
	if _, err := get(t, tree, 2, Handshake, 5); err != nil {
		t.Fatalf("generation 5 after failure: %v", err)
	}
	// A failure on a retained skipped key keeps it.
	if err := tree.Consume(2, Handshake, 3, func(_, _ []byte) error { return bad }); !errors.Is(err, bad) {
		t.Fatal(err)
	}
	if _, err := get(t, tree, 2, Handshake, 3); err != nil {
		t.Fatalf("retained generation 3 after failed use: %v", err)
	}
}

func TestWindowBounds(t *testing.T) {
	tree := newTree(t, 2, Config{MaxForward: 10, MaxRetained: 3})
	if _, err := get(t, tree, 0, Application, 11); !errors.Is(err, ErrGenerationTooFar) {
		t.Fatalf("gap of 11: err = %v, want ErrGenerationTooFar", err)
	}
	if _, err := get(t, tree, 0, Application, 10); err != nil {
		t.Fatalf("gap of 10: %v", err)
	}
	// Generations 0..9 were skipped; only the newest 3 (7, 8, 9) are kept.
	for g := uint32(0); g < 7; g++ {
		if _, err := get(t, tree, 0, Application, g); !errors.Is(err, ErrGenerationConsumed) {
			t.Fatalf("evicted generation %d: err = %v", g, err)
		}
	}
	for _, g := range []uint32{9, 7, 8} {
		if _, err := get(t, tree, 0, Application, g); err != nil {
			t.Fatalf("retained generation %d: %v", g, err)
		}
	}
	if n := len(tree.ratchets[ratchetKey{0, Application}].skipped); n != 0 {
		t.Fatalf("%d keys retained after all were used", n)
	}
}

func TestLeafBounds(t *testing.T) {
	tree := newTree(t, 4, Config{})
	if _, err := tree.Next(4, Application); !errors.Is(err, ErrLeafOutOfRange) {
		t.Fatalf("leaf 4 of 4: %v", err)
	}
	if _, err := get(t, tree, 1<<31, Handshake, 0); !errors.Is(err, ErrLeafOutOfRange) {
		t.Fatalf("huge leaf: %v", err)
	}
	if _, err := NewSecretTree(testSuite(t), make([]byte, 32), 3, Config{}); err == nil {
		t.Fatal("3 leaves accepted")
	}
	if _, err := NewSecretTree(testSuite(t), make([]byte, 31), 4, Config{}); !errors.Is(err, ErrSecretSize) {
		t.Fatalf("short secret: %v", err)
	}
}

// TestTreeSecretsDeleted checks the deletion schedule of RFC 9420,
// Section 9.2: after a leaf's ratchets exist, no secret remains on its path
// from the root, only the co-path siblings.
func TestTreeSecretsDeleted(t *testing.T) {
	tree := newTree(t, 8, Config{})
	if _, err := tree.Next(3, Application); err != nil {
		t.Fatal(err)
	}
	// Leaf 3 is node 6; its path is 6, 5, 3, 7; the co-path is 4, 1, 11.
	var held []int
	for x := range tree.nodes {
		held = append(held, int(x))
	}
	want := map[int]bool{4: true, 1: true, 11: true}
	if len(held) != len(want) {
		t.Fatalf("nodes held: %v, want the co-path 4, 1, 11", held)
	}
	for _, x := range held {
		if !want[x] {
			t.Fatalf("nodes held: %v, want the co-path 4, 1, 11", held)
		}
	}
	tree.Wipe()
	if len(tree.nodes) != 0 || len(tree.ratchets) != 0 {
		t.Fatal("Wipe left secrets")
	}
}

func TestSingleLeafTree(t *testing.T) {
	a, b := newTree(t, 1, Config{}), newTree(t, 1, Config{})
	kn, err := a.Next(0, Handshake)
	if err != nil {
		t.Fatal(err)
	}
	key, err := get(t, b, 0, Handshake, 0)
	if err != nil || !bytes.Equal(key, kn.Key) {
		t.Fatalf("single-leaf tree disagrees: %v", err)
	}
}

func TestRedaction(t *testing.T) {
	s := testSuite(t)
	e, err := FromEpochSecret(s, bytes.Repeat([]byte{0xab}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tree := newTree(t, 2, Config{})
	secretHex := fmt.Sprintf("%x", []byte(e.ExporterSecret))
	for _, v := range []any{e, *e, e.ExporterSecret, tree, KeyNonce{Key: Secret{1, 2, 3}}} {
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v)
		for _, out := range []string{fmt.Sprintf("%v|%+v|%#v|%x|%s", v, v, v, v, v), logged.String()} {
			if strings.Contains(out, secretHex) || strings.Contains(out, "010203") || strings.Contains(out, "[1 2 3]") {
				t.Fatalf("secret leaked: %s", out)
			}
		}
	}
}

func TestExternalInitRoundTrip(t *testing.T) {
	for _, id := range ciphersuite.Supported() {
		t.Run(id.String(), func(t *testing.T) {
			s, err := ciphersuite.New(id)
			if err != nil {
				t.Fatal(err)
			}
			e, err := FromEpochSecret(s, bytes.Repeat([]byte{7}, s.Nh()))
			if err != nil {
				t.Fatal(err)
			}
			priv, err := e.ExternalKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			kemOutput, joinerInit, err := ExternalInit(s, priv.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			memberInit, err := ExternalInitSecret(s, priv, kemOutput)
			if err != nil {
				t.Fatal(err)
			}
			if !joinerInit.Equal(memberInit) || len(memberInit) != s.Nh() {
				t.Fatal("external init secrets differ")
			}
		})
	}
}

func TestConfirmationAndMembershipTags(t *testing.T) {
	s := testSuite(t)
	e, err := FromEpochSecret(s, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tag := e.ConfirmationTag([]byte("cth"))
	if !e.VerifyConfirmationTag([]byte("cth"), tag) || e.VerifyConfirmationTag([]byte("cti"), tag) {
		t.Fatal("confirmation tag check wrong")
	}
	mt := e.MembershipTag([]byte("tbm"))
	if !e.VerifyMembershipTag([]byte("tbm"), mt) || e.VerifyMembershipTag([]byte("tbm"), tag) {
		t.Fatal("membership tag check wrong")
	}
}

func TestInputLengthsChecked(t *testing.T) {
	s := testSuite(t)
	if _, err := FromJoinerSecret(s, make([]byte, 31), nil, nil); !errors.Is(err, ErrSecretSize) {
		t.Fatalf("short joiner secret: %v", err)
	}
	if _, err := FromJoinerSecret(s, make([]byte, 32), make([]byte, 33), nil); !errors.Is(err, ErrSecretSize) {
		t.Fatalf("long psk secret: %v", err)
	}
	if _, err := PSKSecret(s, make([]PSK, 0x10000)); !errors.Is(err, ErrTooManyPSKs) {
		t.Fatalf("65536 PSKs: %v", err)
	}
	zero, err := PSKSecret(s, nil)
	if err != nil || !bytes.Equal(zero, make([]byte, 32)) {
		t.Fatalf("no PSKs must give zeros: %v", err)
	}
}

func TestApplyReuseGuard(t *testing.T) {
	nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	got := ApplyReuseGuard(nonce, [4]byte{0xff, 0, 0xff, 1})
	want := []byte{0xfe, 2, 0xfc, 5, 5, 6, 7, 8, 9, 10, 11, 12}
	if !bytes.Equal(got, want) || nonce[0] != 1 {
		t.Fatalf("got %x, want %x (input must be unchanged)", got, want)
	}
}
