package mls

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRandomGroupEvolution runs random sequences of adds, removes, updates,
// external joins and commits among simulated members. After every commit,
// every member must hold the same epoch authenticator, exporter output and
// roster, and an application message from a random member must decrypt
// everywhere.
func TestRandomGroupEvolution(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		for _, cs := range []CipherSuite{1, 3} {
			t.Run(fmt.Sprintf("suite%d/seed%d", cs, seed), func(t *testing.T) {
				runRandomEvolution(t, cs, seed, 40)
			})
		}
	}
}

func runRandomEvolution(t *testing.T, cs CipherSuite, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	cfg := Config{PublicHandshake: seed%2 == 0}
	next := 0
	bundles := map[string]*KeyPackageBundle{}
	fresh := func() *KeyPackageBundle {
		next++
		b := newBundle(t, cs, fmt.Sprintf("member-%d", next))
		bundles[string(b.KeyPackage().Ref())] = b
		return b
	}
	first, err := CreateGroup([]byte(fmt.Sprintf("prop-%d", seed)), fresh(), GroupOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	members := []*Group{first}
	pick := func() *Group { return members[rng.IntN(len(members))] }
	broadcast := func(from *Group, msg []byte) {
		for _, g := range members {
			if g == from {
				continue
			}
			if _, err := g.ProcessMessage(msg); err != nil {
				t.Fatalf("leaf %d: %v", g.OwnLeaf(), err)
			}
		}
	}
	for step := 0; step < steps; step++ {
		committer := pick()
		var opts CommitOptions
		switch op := rng.IntN(5); {
		case op == 0 || len(members) < 3:
			n := 1 + rng.IntN(3)
			for range n {
				opts.Add = append(opts.Add, fresh().KeyPackage())
			}
		case op == 1:
			victim := pick()
			if victim == committer {
				continue
			}
			opts.Remove = []uint32{victim.OwnLeaf()}
		case op == 2:
			// Someone else proposes an update first.
			u := pick()
			if u == committer {
				continue
			}
			msg, err := u.ProposeUpdate()
			if err != nil {
				t.Fatal(err)
			}
			broadcast(u, msg)
		case op == 3:
			// An outsider joins with an external commit.
			gi, err := committer.GroupInfo(GroupInfoOptions{RatchetTree: true, ExternalPub: true})
			if err != nil {
				t.Fatal(err)
			}
			g, msg, err := JoinExternal(gi, fresh(), ExternalJoinOptions{}, cfg)
			if err != nil {
				t.Fatalf("step %d: external join: %v", step, err)
			}
			broadcast(g, msg)
			members = append(members, g)
			checkAgreement(t, step, members)
			continue
		}
		res, err := committer.Commit(opts)
		if err != nil {
			t.Fatalf("step %d: commit: %v", step, err)
		}
		if _, err := committer.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
		var stay []*Group
		for _, g := range members {
			if g != committer {
				r, err := g.ProcessMessage(res.Commit)
				if err != nil {
					t.Fatalf("step %d: leaf %d: %v", step, g.OwnLeaf(), err)
				}
				if r.Commit.SelfRemoved {
					continue
				}
			}
			stay = append(stay, g)
		}
		members = stay
		members = append(members, joinAdded(t, res, opts, bundles, cfg)...)
		checkAgreement(t, step, members)
	}
}

// joinAdded joins every member added by a commit from its Welcome.
func joinAdded(t *testing.T, res *CommitResult, opts CommitOptions, bundles map[string]*KeyPackageBundle, cfg Config) []*Group {
	t.Helper()
	var out []*Group
	for _, kp := range opts.Add {
		b := bundles[string(kp.Ref())]
		g, err := JoinFromWelcome(res.Welcome, b, JoinOptions{}, cfg)
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		out = append(out, g)
	}
	return out
}

func checkAgreement(t *testing.T, step int, members []*Group) {
	t.Helper()
	ref := members[0]
	roster := fmt.Sprint(ref.Members())
	for _, g := range members[1:] {
		if g.Epoch() != ref.Epoch() || !bytes.Equal(g.EpochAuthenticator(), ref.EpochAuthenticator()) {
			t.Fatalf("step %d: leaf %d disagrees with leaf %d", step, g.OwnLeaf(), ref.OwnLeaf())
		}
		if fmt.Sprint(g.Members()) != roster {
			t.Fatalf("step %d: rosters differ", step)
		}
	}
	from := members[step%len(members)]
	ct, err := from.Seal([]byte(fmt.Sprint("step ", step)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range members {
		if g == from {
			continue
		}
		r, err := g.ProcessMessage(ct)
		if err != nil || string(r.ApplicationData) != fmt.Sprint("step ", step) {
			t.Fatalf("step %d: leaf %d cannot read leaf %d: %v", step, g.OwnLeaf(), from.OwnLeaf(), err)
		}
	}
}
