package mls

import (
	"bytes"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/keyschedule"
	"conclave/internal/vectors"
)

// messageSeeds returns the MLSMessage encodings of messages.json.
func messageSeeds(f *testing.F, fields ...string) [][]byte {
	var vs []map[string]hexBytes
	vectors.Load(f, "mls", "messages.json", &vs)
	var out [][]byte
	for i, v := range vs {
		if i >= 20 {
			break
		}
		for _, k := range fields {
			out = append(out, v[k])
		}
	}
	return out
}

// FuzzMLSMessage checks that any MLSMessage that decodes re-encodes to the
// same bytes (the encoding is canonical) and that decoding never panics.
func FuzzMLSMessage(f *testing.F) {
	for _, s := range messageSeeds(f, "mls_welcome", "mls_group_info", "mls_key_package",
		"public_message_application", "public_message_proposal", "public_message_commit", "private_message") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m mlsMessage
		if err := decode(data, &m); err != nil {
			return
		}
		out, err := encode(&m)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip differs: %v", err)
		}
		if _, err := InspectMessage(data); err != nil {
			t.Fatalf("InspectMessage rejects a message that decodes: %v", err)
		}
	})
}

// FuzzKeyPackage checks ParseKeyPackage: an accepted KeyPackage has a
// valid signature and re-encodes to the input.
func FuzzKeyPackage(f *testing.F) {
	for _, s := range messageSeeds(f, "mls_key_package") {
		f.Add(s)
	}
	f.Add(newBundle(f, 1, "seed").KeyPackage().Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := ParseKeyPackage(data)
		if err != nil {
			return
		}
		if !bytes.Equal(kp.Bytes(), data) {
			t.Fatal("KeyPackage round trip differs")
		}
		s, err := suiteFor(kp.CipherSuite())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.VerifyWithLabel(kp.kp.leafNode.signatureKey, "KeyPackageTBS", kpTBS(&kp.kp), kp.kp.signature); err != nil {
			t.Fatal("accepted KeyPackage with a bad signature")
		}
	})
}

// FuzzWelcome feeds Welcomes to a client with a fixed KeyPackage: only a
// Welcome made for it may succeed, and nothing panics.
func FuzzWelcome(f *testing.F) {
	for _, s := range messageSeeds(f, "mls_welcome") {
		f.Add(s)
	}
	ab, bb := newBundle(f, 1, "alice"), newBundle(f, 1, "bob")
	alice, err := CreateGroup([]byte("fuzz"), ab, GroupOptions{}, Config{})
	if err != nil {
		f.Fatal(err)
	}
	res, err := alice.Commit(CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
	if err != nil {
		f.Fatal(err)
	}
	alice.MergePendingCommit()
	f.Add(res.Welcome)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := JoinFromWelcome(data, bb, JoinOptions{}, Config{})
		if err != nil {
			return
		}
		if !bytes.Equal(g.EpochAuthenticator(), alice.EpochAuthenticator()) {
			t.Fatal("joined a group other than alice's")
		}
	})
}

// FuzzGroupInfo checks GroupInfo decoding (round trip) and that external
// joins from arbitrary GroupInfos never panic.
func FuzzGroupInfo(f *testing.F) {
	for _, s := range messageSeeds(f, "mls_group_info") {
		f.Add(s)
	}
	ab := newBundle(f, 1, "alice")
	alice, err := CreateGroup([]byte("fuzz"), ab, GroupOptions{}, Config{})
	if err != nil {
		f.Fatal(err)
	}
	gi, err := alice.GroupInfo(GroupInfoOptions{RatchetTree: true, ExternalPub: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(gi)
	joiner := newBundle(f, 1, "joiner")
	f.Fuzz(func(t *testing.T, data []byte) {
		var m mlsMessage
		if err := decode(data, &m); err == nil {
			out, _ := encode(&m)
			if !bytes.Equal(out, data) {
				t.Fatal("round trip differs")
			}
		}
		g, msg, err := JoinExternal(data, joiner, ExternalJoinOptions{}, Config{})
		if err != nil {
			return
		}
		if g.Epoch() == 0 || len(msg) == 0 {
			t.Fatal("external join produced no new epoch")
		}
	})
}

// FuzzRatchetTree checks the ratchet_tree decoder: accepted trees re-encode
// to the input, and hashing and validating them never panics.
func FuzzRatchetTree(f *testing.F) {
	for _, s := range messageSeeds(f, "ratchet_tree") {
		f.Add(s)
	}
	var tv []struct {
		Tree hexBytes `json:"tree"`
	}
	vectors.Load(f, "mls", "tree-validation.json", &tv)
	for i, v := range tv {
		if i%10 == 0 {
			f.Add([]byte(v.Tree))
		}
	}
	s := testSuite(f, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := decodeTree(data)
		if err != nil {
			return
		}
		if !bytes.Equal(tree.encode(), data) {
			t.Fatal("tree round trip differs")
		}
		_ = tree.rootHash(s.Hash)
		_ = tree.verifyParentHashes(s.Hash)
		_ = checkUniqueKeys(tree)
	})
}

// FuzzProcessMessage feeds arbitrary messages to a live group member:
// whatever is rejected must leave its state byte for byte unchanged.
func FuzzProcessMessage(f *testing.F) {
	for _, public := range []bool{false, true} {
		cfg := Config{PublicHandshake: public}
		ab, bb, cb := newBundle(f, 1, "alice"), newBundle(f, 1, "bob"), newBundle(f, 1, "carol")
		alice, _ := CreateGroup([]byte("fuzz"), ab, GroupOptions{}, cfg)
		res, _ := alice.Commit(CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
		alice.MergePendingCommit()
		bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
		if err != nil {
			f.Fatal(err)
		}
		app, _ := alice.Seal([]byte("hi"), nil)
		prop, _ := alice.ProposeAdd(cb.KeyPackage())
		com, _ := alice.Commit(CommitOptions{})
		f.Add(app)
		f.Add(prop)
		f.Add(com.Commit)
		_ = bob
	}
	cfg := Config{}
	ab, bb := newBundle(f, 1, "alice"), newBundle(f, 1, "bob")
	alice, _ := CreateGroup([]byte("fuzz"), ab, GroupOptions{}, cfg)
	res, _ := alice.Commit(CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
	alice.MergePendingCommit()
	bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
	if err != nil {
		f.Fatal(err)
	}
	app, _ := alice.Seal([]byte("hello"), nil)
	com, _ := alice.Commit(CommitOptions{})
	f.Add(app)
	f.Add(com.Commit)
	saved, err := bob.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := LoadGroup(saved, cfg)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := g.MarshalBinary()
		if _, err := g.ProcessMessage(data); err != nil {
			after, _ := g.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatalf("rejected message changed the state: %v", err)
			}
		}
	})
}

// FuzzProcessLateMessage feeds arbitrary messages to a member that keeps a
// past epoch: a rejected message leaves its state, past epochs included,
// unchanged; an accepted application message of a past epoch opens once
// only.
func FuzzProcessLateMessage(f *testing.F) {
	cfg := Config{}
	ab, bb := newBundle(f, 1, "alice"), newBundle(f, 1, "bob")
	alice, _ := CreateGroup([]byte("fuzz-late"), ab, GroupOptions{}, cfg)
	res, _ := alice.Commit(CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
	alice.MergePendingCommit()
	bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
	if err != nil {
		f.Fatal(err)
	}
	late, _ := alice.Seal([]byte("late"), []byte("ad"))
	prop, _ := alice.ProposeUpdate()
	alice.proposals = nil // not committed: a past-epoch proposal for bob
	com, err := alice.Commit(CommitOptions{})
	if err != nil {
		f.Fatal(err)
	}
	alice.MergePendingCommit()
	if _, err := bob.ProcessMessage(com.Commit); err != nil {
		f.Fatal(err)
	}
	current, _ := alice.Seal([]byte("now"), nil)
	f.Add(late)
	f.Add(prop)
	f.Add(current)
	f.Add(com.Commit)
	// copyOf gives each input its own bob: the past epoch's secret tree is
	// copied, not shared.
	copyOf := func(t *testing.T) *Group {
		g := bob.clone()
		g.msgKeys = copyTree(t, g.suite, g.msgKeys)
		for i, p := range g.past {
			cp := *p
			cp.msgKeys = copyTree(t, g.suite, p.msgKeys)
			g.past[i] = &cp
		}
		return g
	}
	pastState := func(t *testing.T, g *Group) []byte {
		var out []byte
		for _, p := range g.past {
			b, err := p.msgKeys.t.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		s, _ := g.MarshalBinary()
		return append(out, s...)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := copyOf(t)
		before := pastState(t, g)
		r, err := g.ProcessMessage(data)
		if err != nil {
			if !bytes.Equal(before, pastState(t, g)) {
				t.Fatalf("rejected message changed the state: %v", err)
			}
			return
		}
		if !r.Late {
			return
		}
		if r.Type != ContentApplication || r.Epoch >= g.Epoch() || r.From == nil {
			t.Fatalf("late message accepted as %+v", r)
		}
		if _, err := g.ProcessMessage(data); err == nil {
			t.Fatal("late message opened twice")
		}
	})
}

func copyTree(t *testing.T, s *ciphersuite.Suite, m *trackedTree) *trackedTree {
	b, err := m.t.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st, err := keyschedule.UnmarshalSecretTree(s, b, keyschedule.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &trackedTree{t: st}
}
