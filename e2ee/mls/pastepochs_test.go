package mls

import (
	"errors"
	"fmt"
	"testing"
)

// trio returns alice (leaf 0), bob (1) and carol (2) in epoch 1, plus any
// extra members named in more (leaves 3...), all with cfg.
func trio(t *testing.T, cfg Config, more ...string) (gs []*Group, bundles []*KeyPackageBundle) {
	t.Helper()
	names := append([]string{"alice", "bob", "carol"}, more...)
	for _, n := range names {
		bundles = append(bundles, newBundle(t, 1, n))
	}
	alice, err := CreateGroup([]byte("late-messages"), bundles[0], GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var kps []*KeyPackage
	for _, b := range bundles[1:] {
		kps = append(kps, b.KeyPackage())
	}
	res := commitAndMerge(t, alice, CommitOptions{Add: kps})
	gs = []*Group{alice}
	for _, b := range bundles[1:] {
		g, err := JoinFromWelcome(res.Welcome, b, JoinOptions{}, cfg)
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		gs = append(gs, g)
	}
	agree(t, gs...)
	return gs, bundles
}

func seal(t *testing.T, g *Group, text string) []byte {
	t.Helper()
	ct, err := g.Seal([]byte(text), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// Alice seals in epoch N, Bob's commit N->N+1 is delivered first: Carol
// still reads Alice's message and learns it is from epoch N
// (RFC 9420, Section 15.3).
func TestLateApplicationMessage(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			gs, _ := trio(t, Config{PublicHandshake: public, PaddingBlock: 32})
			alice, bob, carol := gs[0], gs[1], gs[2]
			n := alice.Epoch()
			msg := seal(t, alice, "sent just before the commit")
			commitAndMerge(t, bob, CommitOptions{}, alice, carol)
			agree(t, alice, bob, carol)
			r, err := carol.ProcessMessage(msg)
			if err != nil {
				t.Fatalf("late message: %v", err)
			}
			if string(r.ApplicationData) != "sent just before the commit" || string(r.AuthenticatedData) != "ad" {
				t.Fatalf("late message content %q / %q", r.ApplicationData, r.AuthenticatedData)
			}
			if r.Epoch != n || !r.Late || r.Type != ContentApplication {
				t.Fatalf("late message: epoch %d (want %d), late %v, type %v", r.Epoch, n, r.Late, r.Type)
			}
			if r.From == nil || r.From.Leaf != alice.OwnLeaf() || string(r.From.Credential.Identity) != "alice" {
				t.Fatalf("late message from %+v", r.From)
			}
			// Bob, the committer, too.
			if r, err := bob.ProcessMessage(msg); err != nil || !r.Late {
				t.Fatalf("committer reading late message: %v %+v", err, r)
			}
			// A message of the current epoch is not late.
			r, err = carol.ProcessMessage(seal(t, alice, "now"))
			if err != nil || r.Late || r.Epoch != n+1 || r.From == nil || r.From.Leaf != alice.OwnLeaf() {
				t.Fatalf("current message: %v %+v", err, r)
			}
		})
	}
}

// A message of epoch N opens after up to K commits and fails with
// ErrWrongEpoch after K+1; K <= 0... negative disables the window.
func TestPastEpochWindow(t *testing.T) {
	cases := []struct {
		name       string
		pastEpochs int
		k          int
	}{
		{"default", 0, DefaultPastEpochs},
		{"one", 1, 1},
		{"three", 3, 3},
		{"disabled", -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gs, _ := trio(t, Config{PastEpochs: tc.pastEpochs})
			alice, bob, carol := gs[0], gs[1], gs[2]
			n := alice.Epoch()
			msgs := make([][]byte, tc.k+2)
			for i := range msgs {
				msgs[i] = seal(t, alice, fmt.Sprint("message ", i))
			}
			for c := 1; c <= tc.k+1; c++ {
				commitAndMerge(t, bob, CommitOptions{}, alice, carol)
				if got := len(carol.PastEpochs()); got > tc.k {
					t.Fatalf("after %d commits %d past epochs kept, window %d", c, got, tc.k)
				}
				r, err := carol.ProcessMessage(msgs[c])
				if c <= tc.k {
					if err != nil || r.Epoch != n || !r.Late {
						t.Fatalf("%d commits later: %v %+v", c, err, r)
					}
					continue
				}
				if !errors.Is(err, ErrWrongEpoch) {
					t.Fatalf("%d commits later, window %d: err %v, want ErrWrongEpoch", c, tc.k, err)
				}
			}
		})
	}
}

// Proposals and commits of a past epoch are still refused (RFC 9420,
// Section 12.4.2), whether private or public; the group is unchanged.
func TestPastEpochHandshakeRejected(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			gs, _ := trio(t, Config{PublicHandshake: public}, "dave")
			alice, bob, carol, dave := gs[0], gs[1], gs[2], gs[3]
			prop, err := alice.ProposeUpdate()
			if err != nil {
				t.Fatal(err)
			}
			rival, err := dave.Commit(CommitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			commitAndMerge(t, bob, CommitOptions{}, carol)
			epoch, auth := carol.Epoch(), carol.EpochAuthenticator()
			for name, msg := range map[string][]byte{"proposal": prop, "commit": rival.Commit} {
				if _, err := carol.ProcessMessage(msg); !errors.Is(err, ErrWrongEpoch) {
					t.Fatalf("past-epoch %s: err %v, want ErrWrongEpoch", name, err)
				}
			}
			if carol.Epoch() != epoch || string(carol.EpochAuthenticator()) != string(auth) || len(carol.proposals) != 0 {
				t.Fatal("a past-epoch handshake message changed the group")
			}
		})
	}
}

// A late message opens once; its replay fails and consumes nothing else.
func TestLateMessageReplay(t *testing.T) {
	gs, _ := trio(t, Config{})
	alice, bob, carol := gs[0], gs[1], gs[2]
	first, second := seal(t, alice, "one"), seal(t, alice, "two")
	commitAndMerge(t, bob, CommitOptions{}, alice, carol)
	if _, err := carol.ProcessMessage(second); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.ProcessMessage(second); !errors.Is(err, ErrGeneration) {
		t.Fatalf("replayed late message: err %v, want ErrGeneration", err)
	}
	// An earlier generation skipped over stays available, once.
	if r, err := carol.ProcessMessage(first); err != nil || string(r.ApplicationData) != "one" {
		t.Fatalf("skipped late message: %v", err)
	}
	if _, err := carol.ProcessMessage(first); !errors.Is(err, ErrGeneration) {
		t.Fatalf("replayed skipped late message: err %v, want ErrGeneration", err)
	}
}

// forgePast seals an application message as leaf in g's kept past epoch,
// signed with key: what a member holding that epoch's secrets could build.
// A leaf outside the epoch's secret tree is encrypted with leaf 0's key.
func forgePast(t *testing.T, g *Group, epoch uint64, leaf uint32, key *SignatureKey, text string) []byte {
	t.Helper()
	p := g.findPast(epoch)
	if p == nil {
		t.Fatalf("epoch %d not kept", epoch)
	}
	ac := &authenticatedContent{wireFormat: WireFormatPrivateMessage, content: framedContent{
		groupID: g.ctx.groupID, epoch: epoch, sender: sender{typ: SenderMember, index: leaf},
		authenticatedData: []byte{}, contentType: ContentApplication, applicationData: []byte(text),
	}}
	var err error
	if ac.auth.signature, err = signContent(g.suite, key.priv, ac.wireFormat, &ac.content, p.groupContext); err != nil {
		t.Fatal(err)
	}
	var keys messageKeys = p.msgKeys
	if leaf >= p.msgKeys.t.LeafCount() {
		keys = aliasKeys{p.msgKeys}
	}
	pm, err := encryptContent(g.suite, keys, p.senderDataSecret, ac, 0, [4]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	b, err := encode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatPrivateMessage, private: pm})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aliasKeys hands out leaf 0's keys for any leaf.
type aliasKeys struct{ t *trackedTree }

func (a aliasKeys) next(_ uint32, handshake bool) ([]byte, []byte, uint32, error) {
	return a.t.next(0, handshake)
}

func (a aliasKeys) consume(_ uint32, handshake bool, gen uint32, use func(key, nonce []byte) error) error {
	return a.t.consume(0, handshake, gen, use)
}

// A message claiming a past epoch must come from a member of that epoch,
// checked against that epoch's tree, not the current one.
func TestLateMessageSenderMustBeMemberThen(t *testing.T) {
	gs, bs := trio(t, Config{}, "dave")
	alice, bob, carol, dave := gs[0], gs[1], gs[2], gs[3]
	daveLeaf := dave.OwnLeaf()
	// Epoch N: Bob removes Dave, whose leaf is blank in N.
	commitAndMerge(t, bob, CommitOptions{Remove: []uint32{daveLeaf}}, alice, carol)
	n := alice.Epoch()
	// Epoch N+1: Eve takes Dave's old leaf.
	eb := newBundle(t, 1, "eve")
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{eb.KeyPackage()}}, bob, carol)
	eve, err := JoinFromWelcome(res.Welcome, eb, JoinOptions{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if eve.OwnLeaf() != daveLeaf {
		t.Fatalf("eve at leaf %d, want dave's old leaf %d", eve.OwnLeaf(), daveLeaf)
	}
	cases := []struct {
		name string
		leaf uint32
		key  *SignatureKey
		ok   bool
	}{
		{"member then (control)", bob.OwnLeaf(), bs[1].sig, true},
		{"blank then, member now", daveLeaf, eb.sig, false},
		{"removed by the commit into that epoch", daveLeaf, bs[3].sig, false},
		{"outside that epoch's tree", 7, eb.sig, false},
		{"member then, wrong key", bob.OwnLeaf(), eb.sig, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := forgePast(t, alice, n, tc.leaf, tc.key, tc.name)
			r, err := carol.ProcessMessage(msg)
			if tc.ok {
				if err != nil || !r.Late || r.Epoch != n || r.From == nil || r.From.Leaf != tc.leaf {
					t.Fatalf("control message: %v %+v", err, r)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as leaf %d: %+v", tc.leaf, r)
			}
			if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrGeneration) {
				t.Fatalf("err %v, want ErrAuthentication", err)
			}
		})
	}
}

// Past epochs are deleted when a commit removes this member, on
// ForgetPastEpochs, and are not saved by MarshalBinary.
func TestPastEpochsDeleted(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		gs, _ := trio(t, Config{})
		alice, bob, carol := gs[0], gs[1], gs[2]
		msg := seal(t, alice, "before the removal")
		commitAndMerge(t, bob, CommitOptions{Remove: []uint32{carol.OwnLeaf()}}, alice, carol)
		if len(carol.past) != 0 {
			t.Fatalf("removed member keeps %d past epochs", len(carol.past))
		}
		if _, err := carol.ProcessMessage(msg); !errors.Is(err, ErrNotMember) {
			t.Fatalf("removed member: err %v, want ErrNotMember", err)
		}
	})
	t.Run("forget", func(t *testing.T) {
		gs, _ := trio(t, Config{})
		alice, bob, carol := gs[0], gs[1], gs[2]
		msg := seal(t, alice, "late")
		commitAndMerge(t, bob, CommitOptions{}, alice, carol)
		kept := carol.past[len(carol.past)-1]
		carol.ForgetPastEpochs()
		if len(carol.PastEpochs()) != 0 {
			t.Fatal("past epochs still listed")
		}
		for _, b := range kept.senderDataSecret {
			if b != 0 {
				t.Fatal("sender_data_secret not wiped")
			}
		}
		if _, err := carol.ProcessMessage(msg); !errors.Is(err, ErrWrongEpoch) {
			t.Fatalf("after ForgetPastEpochs: err %v, want ErrWrongEpoch", err)
		}
	})
	t.Run("window wipes", func(t *testing.T) {
		gs, _ := trio(t, Config{PastEpochs: 1})
		alice, bob, carol := gs[0], gs[1], gs[2]
		commitAndMerge(t, bob, CommitOptions{}, alice, carol)
		oldest := carol.past[0]
		commitAndMerge(t, bob, CommitOptions{}, alice, carol)
		if carol.past[0] == oldest {
			t.Fatal("epoch out of the window still kept")
		}
		for _, b := range oldest.senderDataSecret {
			if b != 0 {
				t.Fatal("sender_data_secret of a dropped epoch not wiped")
			}
		}
	})
	t.Run("not saved", func(t *testing.T) {
		gs, _ := trio(t, Config{})
		alice, bob, carol := gs[0], gs[1], gs[2]
		msg := seal(t, alice, "late")
		commitAndMerge(t, bob, CommitOptions{}, alice, carol)
		saved, err := carol.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := LoadGroup(saved, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := loaded.ProcessMessage(msg); !errors.Is(err, ErrWrongEpoch) {
			t.Fatalf("reloaded group: err %v, want ErrWrongEpoch", err)
		}
	})
}

// A member removed by a later commit can no longer post late messages, even
// ones it sealed while a member: its keys may be why it was removed. A
// member whose leaf a commit only updated can.
func TestLateMessageFromRemovedMember(t *testing.T) {
	cases := []struct {
		name string
		// removeAfter is how many empty commits precede the Remove.
		removeAfter int
	}{
		{"removed by the commit that ended the epoch", 0},
		{"removed by a later commit", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gs, _ := trio(t, Config{}, "dave")
			alice, bob, carol, dave := gs[0], gs[1], gs[2], gs[3]
			n := alice.Epoch()
			fromDave, fromAlice, fromBob := seal(t, dave, "dave"), seal(t, alice, "alice"), seal(t, bob, "bob")
			for range tc.removeAfter {
				commitAndMerge(t, bob, CommitOptions{}, alice, carol, dave)
			}
			commitAndMerge(t, bob, CommitOptions{Remove: []uint32{dave.OwnLeaf()}}, alice, carol, dave)
			if _, err := carol.ProcessMessage(fromDave); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("late message of a removed member: err %v, want ErrAuthentication", err)
			}
			for _, m := range [][]byte{fromAlice, fromBob} { // Bob's leaf was updated by his commits
				if r, err := carol.ProcessMessage(m); err != nil || r.Epoch != n || !r.Late {
					t.Fatalf("late message of a remaining member: %v %+v", err, r)
				}
			}
		})
	}
}

// ForgetPastEpochs with a commit pending: merging it brings back no
// forgotten epoch, and the epoch the commit ends is still kept.
func TestForgetPastEpochsWithPendingCommit(t *testing.T) {
	gs, _ := trio(t, Config{})
	alice, bob, carol := gs[0], gs[1], gs[2]
	commitAndMerge(t, bob, CommitOptions{}, alice, carol)
	forgotten := carol.Epoch() - 1
	late := seal(t, alice, "sealed before carol's commit")
	if _, err := carol.Commit(CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	carol.ForgetPastEpochs()
	if _, err := carol.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if got := carol.PastEpochs(); len(got) != 1 || got[0] == forgotten {
		t.Fatalf("past epochs after merge %v, forgotten %d", got, forgotten)
	}
	if r, err := carol.ProcessMessage(late); err != nil || !r.Late {
		t.Fatalf("late message of the epoch the commit ended: %v", err)
	}
}
