package mls

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

func newBundle(t testing.TB, cs CipherSuite, name string) *KeyPackageBundle {
	t.Helper()
	sig, err := GenerateSignatureKey(cs, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKeyPackage(KeyPackageOptions{CipherSuite: cs, Credential: BasicCredential([]byte(name)), SignatureKey: sig}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliver hands a handshake message to every group but the sender's and
// checks they all reach the sender's epoch authenticator.
func deliver(t testing.TB, from *Group, msg []byte, to ...*Group) {
	t.Helper()
	for _, g := range to {
		if g == from {
			continue
		}
		if _, err := g.ProcessMessage(msg); err != nil {
			t.Fatalf("leaf %d processing: %v", g.OwnLeaf(), err)
		}
	}
}

func agree(t testing.TB, gs ...*Group) {
	t.Helper()
	for _, g := range gs[1:] {
		if g.Epoch() != gs[0].Epoch() || !bytes.Equal(g.EpochAuthenticator(), gs[0].EpochAuthenticator()) {
			t.Fatalf("leaf %d (epoch %d) disagrees with leaf %d (epoch %d)", g.OwnLeaf(), g.Epoch(), gs[0].OwnLeaf(), gs[0].Epoch())
		}
		a, _ := g.Export("test", nil, 32)
		b, _ := gs[0].Export("test", nil, 32)
		if !bytes.Equal(a, b) {
			t.Fatalf("exporter differs between leaves %d and %d", g.OwnLeaf(), gs[0].OwnLeaf())
		}
	}
}

func commitAndMerge(t testing.TB, g *Group, opts CommitOptions, others ...*Group) *CommitResult {
	t.Helper()
	res, err := g.Commit(opts)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if _, err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	deliver(t, g, res.Commit, others...)
	return res
}

func TestGroupLifecycle(t *testing.T) {
	for _, cs := range []CipherSuite{1, 2, 3, 4, 5, 6, 7} {
		for _, public := range []bool{false, true} {
			t.Run(fmt.Sprintf("suite%d/public=%v", cs, public), func(t *testing.T) {
				testLifecycle(t, cs, public)
			})
		}
	}
}

func testLifecycle(t *testing.T, cs CipherSuite, public bool) {
	cfg := Config{PublicHandshake: public, PaddingBlock: 32}
	ab, bb, cb := newBundle(t, cs, "alice"), newBundle(t, cs, "bob"), newBundle(t, cs, "carol")
	alice, err := CreateGroup([]byte("group-"+fmt.Sprint(cs)), ab, GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage(), cb.KeyPackage()}})
	bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
	if err != nil {
		t.Fatalf("bob joins: %v", err)
	}
	carol, err := JoinFromWelcome(res.Welcome, cb, JoinOptions{}, cfg)
	if err != nil {
		t.Fatalf("carol joins: %v", err)
	}
	agree(t, alice, bob, carol)
	if n := len(alice.Members()); n != 3 {
		t.Fatalf("%d members", n)
	}

	// Application messages both ways.
	ct, err := bob.Seal([]byte("hello"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Group{alice, carol} {
		r, err := g.ProcessMessage(ct)
		if err != nil || string(r.ApplicationData) != "hello" || r.Sender.Index != bob.OwnLeaf() {
			t.Fatalf("application message: %v %+v", err, r)
		}
	}
	if _, err := alice.ProcessMessage(ct); err == nil {
		t.Fatal("replayed application message accepted")
	}

	// Bob proposes an update, Carol commits it.
	up, err := bob.ProposeUpdate()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, bob, up, alice, carol)
	commitAndMerge(t, carol, CommitOptions{}, alice, bob)
	agree(t, alice, bob, carol)

	// Save and restore Bob.
	saved, err := bob.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bob, err = LoadGroup(saved, cfg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	agree(t, alice, bob, carol)

	// A tampered commit is refused and changes nothing.
	res, err = alice.Commit(CommitOptions{Remove: []uint32{carol.OwnLeaf()}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := bob.MarshalBinary()
	bad := bytes.Clone(res.Commit)
	bad[len(bad)-5] ^= 1
	if _, err := bob.ProcessMessage(bad); err == nil {
		t.Fatal("tampered commit accepted")
	}
	after, _ := bob.MarshalBinary()
	if bob.Epoch() != alice.Epoch() || !bytes.Equal(before, after) {
		t.Fatal("rejected commit changed the group")
	}
	alice.MergePendingCommit()
	deliver(t, alice, res.Commit, bob)
	r, err := carol.ProcessMessage(res.Commit)
	if err != nil || !r.Commit.SelfRemoved || carol.Active() {
		t.Fatalf("carol's removal: %v %+v", err, r)
	}
	agree(t, alice, bob)

	// Carol, removed, cannot read what follows.
	ct, _ = alice.Seal([]byte("secret"), nil)
	if _, err := carol.ProcessMessage(ct); err == nil {
		t.Fatal("removed member decrypted a message")
	}
	if _, err := bob.ProcessMessage(ct); err != nil {
		t.Fatal(err)
	}

	// Carol rejoins with an external commit.
	gi, err := alice.GroupInfo(GroupInfoOptions{RatchetTree: true, ExternalPub: true})
	if err != nil {
		t.Fatal(err)
	}
	cb2 := newBundle(t, cs, "carol")
	carol, msg, err := JoinExternal(gi, cb2, ExternalJoinOptions{}, cfg)
	if err != nil {
		t.Fatalf("external join: %v", err)
	}
	deliver(t, carol, msg, alice, bob)
	agree(t, alice, bob, carol)

	// Bob loses his state and resyncs with an external commit.
	gi, _ = carol.GroupInfo(GroupInfoOptions{RatchetTree: true, ExternalPub: true})
	bb2 := newBundle(t, cs, "bob")
	oldBob := bob.OwnLeaf()
	bob, msg, err = JoinExternal(gi, bb2, ExternalJoinOptions{Resync: true, OldLeaf: oldBob}, cfg)
	if err != nil {
		t.Fatalf("resync: %v", err)
	}
	deliver(t, bob, msg, alice, carol)
	agree(t, alice, bob, carol)
	if n := len(carol.Members()); n != 3 {
		t.Fatalf("%d members after resync", n)
	}
}

func TestExternalSenderPolicy(t *testing.T) {
	cs := CipherSuite(1)
	ds, err := GenerateSignatureKey(cs, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := ExternalSendersExtension([][]byte{ds.PublicKey()}, []Credential{BasicCredential([]byte("delivery-service"))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ExternalProposals: AllowExternalRemoveOnly}
	ab, bb := newBundle(t, cs, "alice"), newBundle(t, cs, "bob")
	alice, err := CreateGroup([]byte("g"), ab, GroupOptions{Extensions: []Extension{ext}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
	bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The delivery service proposes adding a member: refused.
	eve := newBundle(t, cs, "eve")
	kp := eve.KeyPackage().kp
	add, err := externalProposal(alice.GroupID(), alice.Epoch(), 0, ds, &proposal{typ: ProposalAdd, add: &kp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.ProcessMessage(add); !errors.Is(err, ErrRejectedByPolicy) {
		t.Fatalf("external Add: got %v, want ErrRejectedByPolicy", err)
	}
	// It proposes removing Alice: accepted; Bob commits it.
	rm, err := ExternalRemove(alice.GroupID(), alice.Epoch(), 0, ds, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.ProcessMessage(rm); err != nil {
		t.Fatalf("external Remove: %v", err)
	}
	if _, err := alice.ProcessMessage(rm); err != nil {
		t.Fatal(err)
	}
	res = commitAndMerge(t, bob, CommitOptions{})
	r, err := alice.ProcessMessage(res.Commit)
	if err != nil || !r.Commit.SelfRemoved {
		t.Fatalf("alice removed: %v %+v", err, r)
	}
	if len(bob.Members()) != 1 {
		t.Fatal("alice still in the roster")
	}
}
