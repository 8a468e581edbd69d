package keyschedule

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
	"conclave/internal/vectors"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("hex value must be a string: %s", b)
	}
	v, err := hex.DecodeString(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

func suiteFor(t *testing.T, id uint16) *ciphersuite.Suite {
	t.Helper()
	s, err := ciphersuite.New(ciphersuite.ID(id))
	if err != nil {
		t.Fatalf("suite in vectors is unsupported: %v", err)
	}
	return s
}

// checkAllSuites fails unless every supported suite appeared in a file.
func checkAllSuites(t *testing.T, file string, seen map[uint16]bool) {
	t.Helper()
	for _, id := range ciphersuite.Supported() {
		if !seen[uint16(id)] {
			t.Errorf("%s has no vector for %v", file, id)
		}
	}
}

func eq(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %s, want %s", name, hex.EncodeToString(got), hex.EncodeToString(want))
	}
}

// groupContext encodes GroupContext (RFC 9420, Section 8.1) with empty
// extensions, as key-schedule.json specifies.
func groupContext(t *testing.T, suite uint16, groupID []byte, epoch uint64, treeHash, cth []byte) []byte {
	t.Helper()
	var w tls.Writer
	w.Uint16(1) // mls10
	w.Uint16(suite)
	w.Opaque(groupID)
	w.Uint64(epoch)
	w.Opaque(treeHash)
	w.Opaque(cth)
	w.Vector(func(*tls.Writer) {})
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyScheduleVectors(t *testing.T) {
	var vs []struct {
		CipherSuite       uint16   `json:"cipher_suite"`
		GroupID           hexBytes `json:"group_id"`
		InitialInitSecret hexBytes `json:"initial_init_secret"`
		Epochs            []struct {
			TreeHash                hexBytes `json:"tree_hash"`
			CommitSecret            hexBytes `json:"commit_secret"`
			PSKSecret               hexBytes `json:"psk_secret"`
			ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
			GroupContext            hexBytes `json:"group_context"`
			JoinerSecret            hexBytes `json:"joiner_secret"`
			WelcomeSecret           hexBytes `json:"welcome_secret"`
			InitSecret              hexBytes `json:"init_secret"`
			SenderDataSecret        hexBytes `json:"sender_data_secret"`
			EncryptionSecret        hexBytes `json:"encryption_secret"`
			ExporterSecret          hexBytes `json:"exporter_secret"`
			EpochAuthenticator      hexBytes `json:"epoch_authenticator"`
			ExternalSecret          hexBytes `json:"external_secret"`
			ConfirmationKey         hexBytes `json:"confirmation_key"`
			MembershipKey           hexBytes `json:"membership_key"`
			ResumptionPSK           hexBytes `json:"resumption_psk"`
			ExternalPub             hexBytes `json:"external_pub"`
			Exporter                struct {
				Label   string   `json:"label"`
				Context hexBytes `json:"context"`
				Length  int      `json:"length"`
				Secret  hexBytes `json:"secret"`
			} `json:"exporter"`
		} `json:"epochs"`
	}
	vectors.Load(t, "mls", "key-schedule.json", &vs)
	seen := map[uint16]bool{}
	for i, v := range vs {
		seen[v.CipherSuite] = true
		t.Run(fmt.Sprintf("%d/suite-%d", i, v.CipherSuite), func(t *testing.T) {
			s := suiteFor(t, v.CipherSuite)
			initSecret := []byte(v.InitialInitSecret)
			if len(v.Epochs) == 0 {
				t.Fatal("no epochs")
			}
			for n, ep := range v.Epochs {
				t.Run(fmt.Sprintf("epoch-%d", n), func(t *testing.T) {
					gc := groupContext(t, v.CipherSuite, v.GroupID, uint64(n), ep.TreeHash, ep.ConfirmedTranscriptHash)
					eq(t, "group_context", gc, ep.GroupContext)
					e, err := FromInitSecret(s, initSecret, ep.CommitSecret, ep.PSKSecret, gc)
					if err != nil {
						t.Fatal(err)
					}
					eq(t, "joiner_secret", e.JoinerSecret, ep.JoinerSecret)
					eq(t, "welcome_secret", e.WelcomeSecret, ep.WelcomeSecret)
					eq(t, "init_secret", e.InitSecret, ep.InitSecret)
					eq(t, "sender_data_secret", e.SenderDataSecret, ep.SenderDataSecret)
					eq(t, "encryption_secret", e.EncryptionSecret, ep.EncryptionSecret)
					eq(t, "exporter_secret", e.ExporterSecret, ep.ExporterSecret)
					eq(t, "epoch_authenticator", e.EpochAuthenticator, ep.EpochAuthenticator)
					eq(t, "external_secret", e.ExternalSecret, ep.ExternalSecret)
					eq(t, "confirmation_key", e.ConfirmationKey, ep.ConfirmationKey)
					eq(t, "membership_key", e.MembershipKey, ep.MembershipKey)
					eq(t, "resumption_psk", e.ResumptionPSK, ep.ResumptionPSK)
					eq(t, "welcome_secret (joiner path)", WelcomeSecretFromJoiner(s, ep.JoinerSecret, ep.PSKSecret), ep.WelcomeSecret)

					ext, err := e.ExternalKeyPair()
					if err != nil {
						t.Fatal(err)
					}
					eq(t, "external_pub", ext.PublicKey(), ep.ExternalPub)

					x := ep.Exporter
					got, err := e.Export(x.Label, x.Context, x.Length)
					if err != nil {
						t.Fatal(err)
					}
					eq(t, "exporter.secret", got, x.Secret)

					// A joiner starting from joiner_secret reaches the same epoch.
					j, err := FromJoinerSecret(s, ep.JoinerSecret, ep.PSKSecret, gc)
					if err != nil {
						t.Fatal(err)
					}
					eq(t, "epoch_authenticator (joiner)", j.EpochAuthenticator, ep.EpochAuthenticator)
				})
				initSecret = ep.InitSecret
			}
		})
	}
	checkAllSuites(t, "key-schedule.json", seen)
}

// encodeExternalPSKID encodes PreSharedKeyID with psktype external
// (RFC 9420, Section 8.4).
func encodeExternalPSKID(t *testing.T, id, nonce []byte) []byte {
	t.Helper()
	var w tls.Writer
	w.Uint8(1) // external
	w.Opaque(id)
	w.Opaque(nonce)
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPSKSecretVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16 `json:"cipher_suite"`
		PSKs        []struct {
			ID    hexBytes `json:"psk_id"`
			PSK   hexBytes `json:"psk"`
			Nonce hexBytes `json:"psk_nonce"`
		} `json:"psks"`
		PSKSecret hexBytes `json:"psk_secret"`
	}
	vectors.Load(t, "mls", "psk_secret.json", &vs)
	seen := map[uint16]bool{}
	for i, v := range vs {
		seen[v.CipherSuite] = true
		t.Run(fmt.Sprintf("%d/suite-%d/psks-%d", i, v.CipherSuite, len(v.PSKs)), func(t *testing.T) {
			s := suiteFor(t, v.CipherSuite)
			var psks []PSK
			for _, p := range v.PSKs {
				psks = append(psks, PSK{ID: encodeExternalPSKID(t, p.ID, p.Nonce), Secret: Secret(p.PSK)})
			}
			got, err := PSKSecret(s, psks)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "psk_secret", got, v.PSKSecret)
		})
	}
	checkAllSuites(t, "psk_secret.json", seen)
}

// TestTranscriptHashVectors checks transcript-hashes.json. The
// AuthenticatedContent type belongs to package conclave/e2ee/mls, which this
// package must not import; only its split is needed here. For a Commit,
// AuthenticatedContent = ConfirmedTranscriptHashInput || confirmation_tag,
// where the tag is the final field, a MAC<V> of exactly KDF.Nh bytes (HMAC
// with the suite hash) behind its varint length header (one byte for Nh of 32
// or 48, two bytes for 64). The full decode of the structure is left to
// package mls.
func TestTranscriptHashVectors(t *testing.T) {
	var vs []struct {
		CipherSuite          uint16   `json:"cipher_suite"`
		ConfirmationKey      hexBytes `json:"confirmation_key"`
		AuthenticatedContent hexBytes `json:"authenticated_content"`
		InterimBefore        hexBytes `json:"interim_transcript_hash_before"`
		ConfirmedAfter       hexBytes `json:"confirmed_transcript_hash_after"`
		InterimAfter         hexBytes `json:"interim_transcript_hash_after"`
	}
	vectors.Load(t, "mls", "transcript-hashes.json", &vs)
	seen := map[uint16]bool{}
	for i, v := range vs {
		seen[v.CipherSuite] = true
		t.Run(fmt.Sprintf("%d/suite-%d", i, v.CipherSuite), func(t *testing.T) {
			s := suiteFor(t, v.CipherSuite)
			ac := v.AuthenticatedContent
			var hw tls.Writer
			hw.Varint(uint64(s.Nh()))
			header, err := hw.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			split := len(ac) - s.Nh() - len(header)
			if split < 0 || !bytes.Equal(ac[split:split+len(header)], header) {
				t.Fatalf("authenticated_content does not end with a %d-byte confirmation_tag", s.Nh())
			}
			confirmedInput, tag := ac[:split], ac[split+len(header):]
			// The AuthenticatedContent must carry a Commit; its wire format
			// is mls_public_message (1) or mls_private_message (2).
			r := tls.NewReader(confirmedInput)
			if wf, err := r.Uint16(); err != nil || (wf != 1 && wf != 2) {
				t.Fatalf("wire_format %d, %v", wf, err)
			}

			confirmed := ConfirmedTranscriptHash(s, v.InterimBefore, confirmedInput)
			eq(t, "confirmed_transcript_hash_after", confirmed, v.ConfirmedAfter)
			if !s.VerifyMAC(v.ConfirmationKey, v.ConfirmedAfter, tag) {
				t.Error("confirmation_tag is not MAC(confirmation_key, confirmed_transcript_hash_after)")
			}
			interim, err := InterimTranscriptHash(s, confirmed, tag)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "interim_transcript_hash_after", interim, v.InterimAfter)
		})
	}
	checkAllSuites(t, "transcript-hashes.json", seen)
}

func TestSecretTreeVectors(t *testing.T) {
	type gen struct {
		Generation       uint32   `json:"generation"`
		HandshakeKey     hexBytes `json:"handshake_key"`
		HandshakeNonce   hexBytes `json:"handshake_nonce"`
		ApplicationKey   hexBytes `json:"application_key"`
		ApplicationNonce hexBytes `json:"application_nonce"`
	}
	var vs []struct {
		CipherSuite uint16 `json:"cipher_suite"`
		SenderData  struct {
			Secret     hexBytes `json:"sender_data_secret"`
			Ciphertext hexBytes `json:"ciphertext"`
			Key        hexBytes `json:"key"`
			Nonce      hexBytes `json:"nonce"`
		} `json:"sender_data"`
		EncryptionSecret hexBytes `json:"encryption_secret"`
		Leaves           [][]gen  `json:"leaves"`
	}
	vectors.Load(t, "mls", "secret-tree.json", &vs)
	seen := map[uint16]bool{}
	for i, v := range vs {
		seen[v.CipherSuite] = true
		t.Run(fmt.Sprintf("%d/suite-%d/leaves-%d", i, v.CipherSuite, len(v.Leaves)), func(t *testing.T) {
			s := suiteFor(t, v.CipherSuite)
			key, nonce, err := SenderDataKeyNonce(s, v.SenderData.Secret, v.SenderData.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "sender_data key", key, v.SenderData.Key)
			eq(t, "sender_data nonce", nonce, v.SenderData.Nonce)

			tree, err := NewSecretTree(s, v.EncryptionSecret, uint32(len(v.Leaves)), Config{})
			if err != nil {
				t.Fatal(err)
			}
			for leaf, gens := range v.Leaves {
				for _, g := range gens {
					for _, c := range []struct {
						typ        RatchetType
						key, nonce []byte
					}{{Handshake, g.HandshakeKey, g.HandshakeNonce}, {Application, g.ApplicationKey, g.ApplicationNonce}} {
						err := tree.Consume(uint32(leaf), c.typ, g.Generation, func(key, nonce []byte) error {
							eq(t, fmt.Sprintf("leaf %d %v key %d", leaf, c.typ, g.Generation), key, c.key)
							eq(t, fmt.Sprintf("leaf %d %v nonce %d", leaf, c.typ, g.Generation), nonce, c.nonce)
							return nil
						})
						if err != nil {
							t.Fatalf("leaf %d %v generation %d: %v", leaf, c.typ, g.Generation, err)
						}
					}
				}
			}
		})
	}
	checkAllSuites(t, "secret-tree.json", seen)
}
