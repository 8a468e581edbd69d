package mls

import (
	"bytes"
	"fmt"
	"testing"

	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
	"conclave/internal/vectors"
)

// TestWelcomeVectors follows vectors FORMAT.md, "Welcome".
func TestWelcomeVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16   `json:"cipher_suite"`
		InitPriv    hexBytes `json:"init_priv"`
		SignerPub   hexBytes `json:"signer_pub"`
		KeyPackage  hexBytes `json:"key_package"`
		Welcome     hexBytes `json:"welcome"`
	}
	vectors.Load(t, "mls", "welcome.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		t.Run(fmt.Sprintf("suite%d/case%d", v.CipherSuite, i), func(t *testing.T) {
			s := testSuite(t, v.CipherSuite)
			kp, err := ParseKeyPackage(v.KeyPackage)
			if err != nil {
				t.Fatal(err)
			}
			var m mlsMessage
			if err := decode(v.Welcome, &m); err != nil || m.wireFormat != WireFormatWelcome {
				t.Fatalf("welcome: %v", err)
			}
			var egs *encryptedGroupSecrets
			for j := range m.welcome.secrets {
				if bytes.Equal(m.welcome.secrets[j].newMember, kp.Ref()) {
					egs = &m.welcome.secrets[j]
				}
			}
			if egs == nil {
				t.Fatal("no secrets for the key package")
			}
			initPriv, err := s.NewHPKEPrivateKey(v.InitPriv)
			if err != nil {
				t.Fatal(err)
			}
			gsb, err := s.DecryptWithLabel(initPriv, "Welcome", m.welcome.encryptedGroupInfo, egs.encryptedGroupSecrets.kemOutput, egs.encryptedGroupSecrets.ciphertext)
			if err != nil {
				t.Fatalf("group secrets: %v", err)
			}
			var gs groupSecrets
			if err := decode(gsb, &gs); err != nil {
				t.Fatal(err)
			}
			key, nonce, err := keyschedule.WelcomeKeyNonce(s, keyschedule.WelcomeSecretFromJoiner(s, gs.joinerSecret, nil))
			if err != nil {
				t.Fatal(err)
			}
			gib, err := s.Open(key, nonce, nil, m.welcome.encryptedGroupInfo)
			if err != nil {
				t.Fatalf("group info: %v", err)
			}
			var gi groupInfo
			if err := decode(gib, &gi); err != nil {
				t.Fatal(err)
			}
			var w tlsWriterForTest
			gi.marshalTBS(&w.Writer)
			tbs, _ := w.Bytes()
			if err := s.VerifyWithLabel(v.SignerPub, "GroupInfoTBS", tbs, gi.signature); err != nil {
				t.Fatalf("group info signature: %v", err)
			}
			ep, err := keyschedule.FromJoinerSecret(s, gs.joinerSecret, nil, mustEncode(&gi.groupContext))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyConfirmationTag(s, ep.ConfirmationKey, gi.groupContext.confirmedTranscriptHash, gi.confirmationTag); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type messageProtectionVector struct {
	CipherSuite             uint16   `json:"cipher_suite"`
	GroupID                 hexBytes `json:"group_id"`
	Epoch                   uint64   `json:"epoch"`
	TreeHash                hexBytes `json:"tree_hash"`
	ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
	SignaturePriv           hexBytes `json:"signature_priv"`
	SignaturePub            hexBytes `json:"signature_pub"`
	EncryptionSecret        hexBytes `json:"encryption_secret"`
	SenderDataSecret        hexBytes `json:"sender_data_secret"`
	MembershipKey           hexBytes `json:"membership_key"`
	Proposal                hexBytes `json:"proposal"`
	ProposalPub             hexBytes `json:"proposal_pub"`
	ProposalPriv            hexBytes `json:"proposal_priv"`
	Commit                  hexBytes `json:"commit"`
	CommitPub               hexBytes `json:"commit_pub"`
	CommitPriv              hexBytes `json:"commit_priv"`
	Application             hexBytes `json:"application"`
	ApplicationPriv         hexBytes `json:"application_priv"`
}

// protectionGroup builds the minimal two-member group state that
// message-protection.json describes: leaf 1 is the sender.
func protectionGroup(t *testing.T, v *messageProtectionVector) *Group {
	t.Helper()
	s := testSuite(t, v.CipherSuite)
	cs := CipherSuite(v.CipherSuite)
	sig, err := ParseSignatureKey(cs, v.SignaturePriv)
	if err != nil {
		t.Fatal(err)
	}
	tree := newTree(2)
	tree.setLeaf(1, &leafNode{signatureKey: v.SignaturePub})
	mk, err := newTrackedTree(s, v.EncryptionSecret, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Group{
		suite: s, sig: sig, own: 1, tree: tree, msgKeys: mk, keys: nodeKeys{},
		ctx: groupContext{version: ProtocolVersionMLS10, cipherSuite: cs, groupID: v.GroupID, epoch: v.Epoch,
			treeHash: v.TreeHash, confirmedTranscriptHash: v.ConfirmedTranscriptHash},
		epoch: &keyschedule.Epoch{SenderDataSecret: keyschedule.Secret(v.SenderDataSecret), MembershipKey: keyschedule.Secret(v.MembershipKey)},
	}
}

// unprotectForTest returns the content of a protected message.
func unprotectForTest(g *Group, msg []byte) (*authenticatedContent, error) {
	var m mlsMessage
	if err := decode(msg, &m); err != nil {
		return nil, err
	}
	var out *authenticatedContent
	err := g.unprotect(&m, func(ac *authenticatedContent) error { out = ac; return nil })
	return out, err
}

// TestMessageProtectionVectors follows vectors FORMAT.md, "Message Protection".
func TestMessageProtectionVectors(t *testing.T) {
	var vs []messageProtectionVector
	vectors.Load(t, "mls", "message-protection.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i := range vs {
		v := &vs[i]
		t.Run(fmt.Sprintf("suite%d/case%d", v.CipherSuite, i), func(t *testing.T) {
			var prop proposal
			if err := decode(v.Proposal, &prop); err != nil {
				t.Fatal(err)
			}
			var com commit
			if err := decode(v.Commit, &com); err != nil {
				t.Fatal(err)
			}
			kinds := []struct {
				name    string
				raw     []byte
				pub     []byte
				priv    []byte
				content func(*framedContent)
			}{
				{"proposal", v.Proposal, v.ProposalPub, v.ProposalPriv, func(c *framedContent) { c.contentType = ContentProposal; c.proposal = &prop }},
				{"commit", v.Commit, v.CommitPub, v.CommitPriv, func(c *framedContent) { c.contentType = ContentCommit; c.commit = &com }},
				{"application", v.Application, nil, v.ApplicationPriv, func(c *framedContent) {
					c.contentType = ContentApplication
					c.applicationData = v.Application
				}},
			}
			for _, k := range kinds {
				t.Run(k.name, func(t *testing.T) {
					body := func(ac *authenticatedContent) []byte {
						var w tlsWriterForTest
						ac.content.marshalBody(&w.Writer)
						b, _ := w.Bytes()
						if ac.content.contentType == ContentApplication {
							return ac.content.applicationData
						}
						return b
					}
					if k.pub != nil {
						ac, err := unprotectForTest(protectionGroup(t, v), k.pub)
						if err != nil {
							t.Fatalf("unprotect vector PublicMessage: %v", err)
						}
						if !bytes.Equal(body(ac), k.raw) {
							t.Fatal("PublicMessage content differs")
						}
					}
					ac, err := unprotectForTest(protectionGroup(t, v), k.priv)
					if err != nil {
						t.Fatalf("unprotect vector PrivateMessage: %v", err)
					}
					if !bytes.Equal(body(ac), k.raw) {
						t.Fatal("PrivateMessage content differs")
					}
					for _, wf := range []WireFormat{WireFormatPublicMessage, WireFormatPrivateMessage} {
						g := protectionGroup(t, v)
						ac := &authenticatedContent{wireFormat: wf, content: framedContent{
							groupID: v.GroupID, epoch: v.Epoch, sender: sender{typ: SenderMember, index: 1}}}
						k.content(&ac.content)
						ac.auth.signature, err = signContent(g.suite, g.sig.priv, wf, &ac.content, g.encodedContext())
						if err != nil {
							t.Fatal(err)
						}
						if ac.content.contentType == ContentCommit {
							ac.auth.confirmationTag = g.suite.MAC(v.MembershipKey, []byte("any tag"))
						}
						msg, err := g.protect(ac)
						if wf == WireFormatPublicMessage && k.name == "application" {
							if err == nil {
								t.Fatal("application data protected as a PublicMessage")
							}
							continue
						}
						if err != nil {
							t.Fatalf("protect %v: %v", wf, err)
						}
						got, err := unprotectForTest(protectionGroup(t, v), msg)
						if err != nil {
							t.Fatalf("unprotect own %v: %v", wf, err)
						}
						if !bytes.Equal(body(got), k.raw) {
							t.Fatalf("own %v: content differs", wf)
						}
					}
				})
			}
		})
	}
}

var _ = tm.LeafIndex(0)
