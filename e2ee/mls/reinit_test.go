package mls

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// threeMembers returns alice, bob and carol in a fresh group of suite cs.
func threeMembers(t *testing.T, cs CipherSuite, cfg Config) (alice, bob, carol *Group) {
	t.Helper()
	ab, bb, cb := newBundle(t, cs, "alice"), newBundle(t, cs, "bob"), newBundle(t, cs, "carol")
	alice, err := CreateGroup([]byte("old-group"), ab, GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage(), cb.KeyPackage()}})
	if bob, err = JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg); err != nil {
		t.Fatal(err)
	}
	if carol, err = JoinFromWelcome(res.Welcome, cb, JoinOptions{}, cfg); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, bob, carol)
	return alice, bob, carol
}

func reload(t *testing.T, g *Group) *Group {
	t.Helper()
	b, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadGroup(b, g.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReInit runs RFC 9420, Section 11.2: Bob proposes moving the group to
// cipher suite 3 under a new ID, Alice commits the proposal, and Carol
// creates the successor group whose Welcome injects the old group's
// resumption PSK (usage reinit, Section 8.6); Alice and Bob join it with
// their old state.
func TestReInit(t *testing.T) {
	cfg := Config{}
	alice, bob, carol := threeMembers(t, 1, cfg)
	beforeReInit := reload(t, bob)
	ext, err := RequiredCapabilitiesExtension(nil, nil, []CredentialType{CredentialBasic})
	if err != nil {
		t.Fatal(err)
	}
	want := ReInitOptions{GroupID: []byte("new-group"), CipherSuite: 3, Extensions: []Extension{ext}}
	prop, err := bob.ProposeReInit(want)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, bob, prop, alice, carol)
	res, err := alice.Commit(CommitOptions{CommitReInit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Group{bob, carol} {
		r, err := g.ProcessMessage(res.Commit)
		if err != nil || !r.Commit.ReInit {
			t.Fatalf("leaf %d: ReInit commit: %v", g.OwnLeaf(), err)
		}
	}
	agree(t, alice, bob, carol)
	for _, g := range []*Group{alice, bob, carol} {
		got := g.PendingReInit()
		if got == nil || !bytes.Equal(got.GroupID, want.GroupID) || got.CipherSuite != want.CipherSuite || len(got.Extensions) != 1 {
			t.Fatalf("leaf %d: PendingReInit = %+v", g.OwnLeaf(), got)
		}
		if g.Active() {
			t.Fatalf("leaf %d still active after ReInit", g.OwnLeaf())
		}
		if _, err := g.Seal([]byte("x"), nil); err == nil {
			t.Fatalf("leaf %d sends after ReInit", g.OwnLeaf())
		}
	}
	if _, err := alice.Commit(CommitOptions{}); err == nil {
		t.Fatal("commit accepted after ReInit")
	}

	// Step 3: Carol recreates the group with new KeyPackages in suite 3.
	ab3, bb3, cb3 := newBundle(t, 3, "alice"), newBundle(t, 3, "bob"), newBundle(t, 3, "carol")
	if _, _, err := carol.ReInitGroup(newBundle(t, 1, "carol"), []*KeyPackage{ab3.KeyPackage()}, cfg); !errors.Is(err, ErrInvalidKeyPackage) {
		t.Fatalf("creator KeyPackage of the old suite: %v", err)
	}
	next, welcome, err := carol.ReInitGroup(cb3, []*KeyPackage{ab3.KeyPackage(), bb3.KeyPackage()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if next.Epoch() != 1 || next.CipherSuite() != 3 || !bytes.Equal(next.GroupID(), want.GroupID) || len(next.Extensions()) != 1 {
		t.Fatalf("successor: epoch %d, suite %d, id %q", next.Epoch(), next.CipherSuite(), next.GroupID())
	}

	t.Run("join needs the old group", func(t *testing.T) {
		if _, err := JoinFromWelcome(welcome, ab3, JoinOptions{}, cfg); !errors.Is(err, ErrMissingPSK) {
			t.Fatalf("err = %v, want ErrMissingPSK", err)
		}
	})
	t.Run("old group not reinitialized", func(t *testing.T) {
		_, err := JoinFromWelcome(welcome, bb3, JoinOptions{Resumption: beforeReInit}, cfg)
		if !errors.Is(err, ErrInvalidWelcome) || !strings.Contains(err.Error(), "11.2") {
			t.Fatalf("err = %v, want ErrInvalidWelcome citing Section 11.2", err)
		}
	})
	t.Run("another group", func(t *testing.T) {
		other, _, _ := threeMembers(t, 1, cfg)
		other.ctx.groupID = []byte("unrelated")
		if _, err := JoinFromWelcome(welcome, bb3, JoinOptions{Resumption: other}, cfg); !errors.Is(err, ErrMissingPSK) {
			t.Fatalf("err = %v, want ErrMissingPSK", err)
		}
	})
	na, err := JoinFromWelcome(welcome, ab3, JoinOptions{Resumption: alice}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := JoinFromWelcome(welcome, bb3, JoinOptions{Resumption: bob}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	agree(t, next, na, nb)
	commitAndMerge(t, nb, CommitOptions{}, next, na)
	agree(t, next, na, nb)
	// The resumption PSK is part of the new group's key schedule: the same
	// Welcome opened with a different PSK value fails.
	forged := reload(t, alice)
	forged.resumption[len(forged.resumption)-1].psk = bytes.Repeat([]byte{1}, 32)
	if _, err := JoinFromWelcome(welcome, ab3, JoinOptions{Resumption: forged}, cfg); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("joined with the wrong resumption PSK: %v", err)
	}
}

func TestReInitCommitRules(t *testing.T) {
	alice, bob, carol := threeMembers(t, 1, Config{})
	ri := &ReInitOptions{GroupID: []byte("x"), CipherSuite: 1}
	if _, err := alice.Commit(CommitOptions{ReInit: ri, Remove: []uint32{carol.OwnLeaf()}}); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("ReInit with a Remove: %v", err)
	}
	if _, err := alice.Commit(CommitOptions{CommitReInit: true}); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("CommitReInit without a proposal: %v", err)
	}
	if _, err := alice.ProposeReInit(ReInitOptions{GroupID: []byte("x"), CipherSuite: 0x77}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ReInit to an unknown suite: %v", err)
	}
	// By value, from the committer.
	res := commitAndMerge(t, alice, CommitOptions{ReInit: ri}, bob, carol)
	if res.Welcome != nil || alice.PendingReInit() == nil || bob.PendingReInit() == nil {
		t.Fatal("inline ReInit not applied")
	}
	agree(t, alice, bob, carol)
	// A reinit PSK may not appear in a regular PreSharedKey proposal.
	g := bob.clone()
	g.reinit = nil
	p := &proposal{typ: ProposalPSK, psk: &preSharedKeyID{pskType: pskResumption, usage: usageReInit,
		pskGroupID: g.ctx.groupID, pskEpoch: g.ctx.epoch, pskNonce: make([]byte, 32)}}
	if _, err := g.applyProposals([]resolvedProposal{{p: p, sender: sender{typ: SenderMember}}}, sender{typ: SenderMember, index: 1}, 1, false, false); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("reinit PSK proposal: %v", err)
	}
}

// TestBranch runs RFC 9420, Section 11.3: Alice branches a subgroup with
// Bob, who checks that its members come from the old group.
func TestBranch(t *testing.T) {
	cfg := Config{}
	alice, bob, carol := threeMembers(t, 1, cfg)
	bb2 := newBundle(t, 1, "bob")
	sub, welcome, err := alice.Branch([]byte("sub"), newBundle(t, 1, "alice"), []*KeyPackage{bb2.KeyPackage()}, GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := JoinFromWelcome(welcome, bb2, JoinOptions{Resumption: bob}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	agree(t, sub, nb)
	if len(nb.Members()) != 2 {
		t.Fatalf("branch has %d members", len(nb.Members()))
	}
	// The old group goes on.
	commitAndMerge(t, carol, CommitOptions{}, alice, bob)
	agree(t, alice, bob, carol)

	// A branch that brings in a stranger is refused by the joiners.
	bb3 := newBundle(t, 1, "bob")
	_, welcome, err = alice.Branch([]byte("sub2"), newBundle(t, 1, "alice"),
		[]*KeyPackage{bb3.KeyPackage(), newBundle(t, 1, "mallory").KeyPackage()}, GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := JoinFromWelcome(welcome, bb3, JoinOptions{Resumption: bob}, cfg); !errors.Is(err, ErrInvalidWelcome) || !strings.Contains(err.Error(), "11.3") {
		t.Fatalf("branch with a stranger: %v", err)
	}
	if _, _, err := alice.Branch([]byte("sub3"), newBundle(t, 3, "alice"), []*KeyPackage{bb3.KeyPackage()}, GroupOptions{}, cfg); !errors.Is(err, ErrInvalidKeyPackage) {
		t.Fatalf("branch to another suite: %v", err)
	}
}

// TestProposePSK: a member proposes an external PSK and a resumption PSK
// (RFC 9420, Section 12.1.4); another commits them by reference.
func TestProposePSK(t *testing.T) {
	known := func(id []byte) ([]byte, bool) {
		if string(id) == "room-psk" {
			return bytes.Repeat([]byte{9}, 32), true
		}
		return nil, false
	}
	cfg := Config{ExternalPSK: known}
	alice, bob, carol := threeMembers(t, 1, cfg)
	if _, err := alice.ProposePSK([]byte("unknown")); !errors.Is(err, ErrMissingPSK) {
		t.Fatalf("unknown PSK: %v", err)
	}
	p1, err := alice.ProposePSK([]byte("room-psk"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := alice.ProposeResumptionPSK(alice.Epoch())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ProposeResumptionPSK(alice.Epoch() + 5); !errors.Is(err, ErrMissingPSK) {
		t.Fatalf("resumption PSK of a future epoch: %v", err)
	}
	deliver(t, alice, p1, bob, carol)
	deliver(t, alice, p2, bob, carol)
	res, err := bob.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	deliver(t, bob, res.Commit, alice, carol)
	agree(t, alice, bob, carol)

	// Without the external PSK, the commit is refused.
	p3, err := alice.ProposePSK([]byte("room-psk"))
	if err != nil {
		t.Fatal(err)
	}
	dave := reload(t, carol)
	dave.cfg.ExternalPSK = nil
	deliver(t, alice, p3, bob, carol, dave)
	res, err = bob.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dave.ProcessMessage(res.Commit); !errors.Is(err, ErrMissingPSK) {
		t.Fatalf("commit of an unknown PSK: %v", err)
	}
}

// TestProposeGroupContextExtensions: a standalone GroupContextExtensions
// proposal (RFC 9420, Section 12.1.7) committed by another member.
func TestProposeGroupContextExtensions(t *testing.T) {
	alice, bob, carol := threeMembers(t, 1, Config{})
	ext, err := RequiredCapabilitiesExtension(nil, nil, []CredentialType{CredentialBasic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ProposeGroupContextExtensions([]Extension{{Type: 0xff00, Data: []byte{1}}}); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("extension no member supports: %v", err)
	}
	if _, err := alice.ProposeGroupContextExtensions([]Extension{ext, ext}); !errors.Is(err, ErrInvalidProposal) {
		t.Fatalf("duplicate extensions: %v", err)
	}
	p, err := alice.ProposeGroupContextExtensions([]Extension{ext})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, alice, p, bob, carol)
	res, err := carol.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	deliver(t, carol, res.Commit, alice, bob)
	agree(t, alice, bob, carol)
	for _, g := range []*Group{alice, bob, carol} {
		if e := g.Extensions(); len(e) != 1 || e[0].Type != ExtensionRequiredCapabilities || !bytes.Equal(e[0].Data, ext.Data) {
			t.Fatalf("leaf %d extensions: %+v", g.OwnLeaf(), e)
		}
	}
}

// TestCommitPathKeysUnique checks the rule of RFC 9420, Section 12.4.2
// (and Section 16.8's uniqueness of tree key pairs): the keys of a received
// UpdatePath must be new to the tree and distinct from one another.
func TestCommitPathKeysUnique(t *testing.T) {
	alice, bob, carol := threeMembers(t, 1, Config{})
	w := alice.clone()
	up, _, err := createUpdatePath(w.suite, w.cfg.rand(), w.tree, w.keys, w.own, w.tree.leaf(w.own).clone(), w.sig.priv, w.ctx.groupID, nil,
		func(th []byte) []byte { w.ctx.treeHash = th; return w.encodedContext() })
	if err != nil {
		t.Fatal(err)
	}
	check := func(up *updatePath) error {
		return bob.clone().checkCommitLeaf(bob, up, alice.own, false, &applied{})
	}
	if err := check(up); err != nil {
		t.Fatalf("valid path: %v", err)
	}
	if len(up.nodes) == 0 {
		t.Fatal("expected a path with parent nodes")
	}
	reused := *up
	reused.nodes = append([]updatePathNode(nil), up.nodes...)
	reused.nodes[0].encryptionKey = carol.tree.leaf(carol.own).encryptionKey
	if err := check(&reused); !errors.Is(err, ErrInvalidCommit) || !strings.Contains(err.Error(), "already in node") {
		t.Fatalf("path key already in the tree: %v", err)
	}
	repeated := *up
	repeated.nodes = append([]updatePathNode(nil), up.nodes...)
	repeated.nodes[0].encryptionKey = up.leafNode.encryptionKey
	if err := check(&repeated); !errors.Is(err, ErrInvalidCommit) || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("path key repeated: %v", err)
	}
}
