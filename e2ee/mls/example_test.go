package mls_test

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"conclave/e2ee/mls"
)

func member(name string) *mls.KeyPackageBundle {
	cs := mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
	sig, err := mls.GenerateSignatureKey(cs, rand.Reader)
	if err != nil {
		panic(err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{
		CipherSuite:  cs,
		Credential:   mls.BasicCredential([]byte(name)),
		SignatureKey: sig,
	}, mls.Config{})
	if err != nil {
		panic(err)
	}
	return kp
}

// A group is created, a member is added through a commit and a Welcome,
// and both derive the same epoch authenticator and exported secret.
func Example() {
	alice, bob := member("alice"), member("bob")
	cfg := mls.Config{}

	group, err := mls.CreateGroup([]byte("meeting-1"), alice, mls.GroupOptions{}, cfg)
	if err != nil {
		panic(err)
	}
	res, err := group.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{bob.KeyPackage()}})
	if err != nil {
		panic(err)
	}
	// Once the delivery service has accepted the commit:
	if _, err := group.MergePendingCommit(); err != nil {
		panic(err)
	}
	bobGroup, err := mls.JoinFromWelcome(res.Welcome, bob, mls.JoinOptions{}, cfg)
	if err != nil {
		panic(err)
	}

	ct, _ := bobGroup.Seal([]byte("hello, alice"), nil)
	msg, _ := group.ProcessMessage(ct)
	a, _ := group.Export("conclave test", nil, 16)
	b, _ := bobGroup.Export("conclave test", nil, 16)

	fmt.Println(group.Epoch(), len(group.Members()), string(msg.ApplicationData))
	fmt.Println(bytes.Equal(group.EpochAuthenticator(), bobGroup.EpochAuthenticator()), bytes.Equal(a, b))
	// Output:
	// 1 2 hello, alice
	// true true
}

// A delivery service listed in external_senders may propose removals;
// clients that use AllowExternalRemoveOnly accept nothing else from it.
func ExampleExternalRemove() {
	cs := mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
	ds, _ := mls.GenerateSignatureKey(cs, rand.Reader)
	ext, _ := mls.ExternalSendersExtension([][]byte{ds.PublicKey()}, []mls.Credential{mls.BasicCredential([]byte("ds"))})
	cfg := mls.Config{ExternalProposals: mls.AllowExternalRemoveOnly}

	alice, bob := member("alice"), member("bob")
	group, _ := mls.CreateGroup([]byte("meeting-2"), alice, mls.GroupOptions{Extensions: []mls.Extension{ext}}, cfg)
	res, _ := group.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{bob.KeyPackage()}})
	group.MergePendingCommit()

	remove, _ := mls.ExternalRemove(group.GroupID(), group.Epoch(), 0, ds, 1)
	r, err := group.ProcessMessage(remove)
	fmt.Println(r.Proposal, err)
	commit, _ := group.Commit(mls.CommitOptions{})
	group.MergePendingCommit()
	_ = res
	_ = commit
	fmt.Println(len(group.Members()))
	// Output:
	// remove <nil>
	// 1
}
