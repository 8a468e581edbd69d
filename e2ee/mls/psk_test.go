package mls

import (
	"bytes"
	"errors"
	"testing"
)

// TestExternalPSKCommit injects an external PSK (RFC 9420, Section 8.4): a
// member that lacks it refuses the commit and stays where it was.
func TestExternalPSKCommit(t *testing.T) {
	cs := CipherSuite(1)
	known := func(id []byte) ([]byte, bool) {
		if string(id) == "room-psk" {
			return bytes.Repeat([]byte{7}, 32), true
		}
		return nil, false
	}
	ab, bb, cb := newBundle(t, cs, "alice"), newBundle(t, cs, "bob"), newBundle(t, cs, "carol")
	cfg := Config{ExternalPSK: known}
	alice, _ := CreateGroup([]byte("psk"), ab, GroupOptions{}, cfg)
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage(), cb.KeyPackage()}})
	bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := JoinFromWelcome(res.Welcome, cb, JoinOptions{}, Config{}) // knows no PSK
	if err != nil {
		t.Fatal(err)
	}
	r, err := alice.Commit(CommitOptions{ExternalPSKs: [][]byte{[]byte("room-psk")}})
	if err != nil {
		t.Fatal(err)
	}
	alice.MergePendingCommit()
	if _, err := bob.ProcessMessage(r.Commit); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, bob)
	before, _ := carol.MarshalBinary()
	if _, err := carol.ProcessMessage(r.Commit); !errors.Is(err, ErrMissingPSK) {
		t.Fatalf("got %v, want ErrMissingPSK", err)
	}
	if after, _ := carol.MarshalBinary(); !bytes.Equal(before, after) {
		t.Fatal("refused commit changed carol's state")
	}
}

// TestCommitPrefersRemove: with an Update and a Remove for one leaf cached,
// the committer includes only the Remove (RFC 9420, Section 12.2).
func TestCommitPrefersRemove(t *testing.T) {
	cs := CipherSuite(1)
	ab, bb, cb := newBundle(t, cs, "alice"), newBundle(t, cs, "bob"), newBundle(t, cs, "carol")
	alice, _ := CreateGroup([]byte("pref"), ab, GroupOptions{}, Config{})
	res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage(), cb.KeyPackage()}})
	bob, _ := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, Config{})
	carol, _ := JoinFromWelcome(res.Welcome, cb, JoinOptions{}, Config{})
	up, err := bob.ProposeUpdate()
	if err != nil {
		t.Fatal(err)
	}
	rm, err := carol.ProposeRemove(bob.OwnLeaf())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{up, rm} {
		if _, err := alice.ProcessMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := carol.ProcessMessage(up); err != nil {
		t.Fatal(err)
	}
	r, err := alice.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := alice.MergePendingCommit()
	if len(sum.Commit.Removed) != 1 || len(sum.Commit.Updated) != 0 {
		t.Fatalf("commit summary %+v, want only the Remove", sum.Commit)
	}
	if _, err := carol.ProcessMessage(r.Commit); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, carol)
}
