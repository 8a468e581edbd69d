package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"conclave/e2ee/mls"
)

// These helpers build what a malicious delivery service could send. The mls
// package builds only external Removes (the one thing Conclave's DS may
// propose), so an external Add is framed here by hand from RFC 9420,
// Sections 6 and 6.1.

// externalAdd frames an Add proposal of kp signed by the external sender at
// index (RFC 9420, Section 12.1.8) with the Ed25519 key priv.
func externalAdd(t *testing.T, groupID []byte, epoch uint64, index uint32, priv *mls.SignatureKey, kp *mls.KeyPackage) []byte {
	t.Helper()
	var content []byte
	content = appendOpaque(content, groupID)
	content = binary.BigEndian.AppendUint64(content, epoch)
	content = append(content, byte(mls.SenderExternal))
	content = binary.BigEndian.AppendUint32(content, index)
	content = appendOpaque(content, nil) // authenticated_data
	content = append(content, byte(mls.ContentProposal))
	content = binary.BigEndian.AppendUint16(content, uint16(mls.ProposalAdd))
	content = append(content, kp.Bytes()[4:]...) // KeyPackage without the MLSMessage header
	tbs := []byte{0, 1, 0, byte(mls.WireFormatPublicMessage)}
	tbs = append(tbs, content...)
	var signContent []byte
	signContent = appendOpaque(signContent, []byte("MLS 1.0 FramedContentTBS"))
	signContent = appendOpaque(signContent, tbs)
	seed, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var key ed25519.PrivateKey
	switch len(seed) {
	case ed25519.SeedSize:
		key = ed25519.NewKeyFromSeed(seed)
	case ed25519.PrivateKeySize:
		key = ed25519.PrivateKey(seed)
	default:
		t.Fatalf("unexpected Ed25519 private key of %d bytes", len(seed))
	}
	msg := []byte{0, 1, 0, byte(mls.WireFormatPublicMessage)}
	msg = append(msg, content...)
	msg = appendOpaque(msg, ed25519.Sign(key, signContent))
	return msg
}

// rogueKeyPackage is a KeyPackage of a listener the server wants in.
func rogueKeyPackage(t *testing.T) *mls.KeyPackageBundle {
	t.Helper()
	id := Identity{Participant: "P_ROGUE", DisplayName: "innocent", Kind: KindBrowser}
	cred, err := id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := mls.GenerateSignatureKey(CipherSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: CipherSuite, Credential: cred, SignatureKey: sk}, mls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// rogueGroup is a group the server makes up with the real group's ID and
// external senders, advanced to epoch, with itself as the only member.
func rogueGroup(t *testing.T, d *fakeDS, groupID []byte, epoch uint64) (*mls.Group, *mls.KeyPackageBundle) {
	t.Helper()
	kp := rogueKeyPackage(t)
	ext, err := mls.ExternalSendersExtension([][]byte{d.key.PublicKey()}, []mls.Credential{mls.BasicCredential(d.cred)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := mls.Config{PublicHandshake: true}
	g, err := mls.CreateGroup(groupID, kp, mls.GroupOptions{Extensions: []mls.Extension{ext}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for g.Epoch() < epoch {
		if _, err := g.Commit(mls.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
	}
	return g, kp
}
