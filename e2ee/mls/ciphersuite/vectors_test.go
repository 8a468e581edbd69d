package ciphersuite

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"conclave/internal/vectors"
)

// hexBytes decodes a JSON hex string.
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

type cryptoBasics struct {
	CipherSuite uint16 `json:"cipher_suite"`
	RefHash     struct {
		Label string   `json:"label"`
		Value hexBytes `json:"value"`
		Out   hexBytes `json:"out"`
	} `json:"ref_hash"`
	ExpandWithLabel struct {
		Secret  hexBytes `json:"secret"`
		Label   string   `json:"label"`
		Context hexBytes `json:"context"`
		Length  int      `json:"length"`
		Out     hexBytes `json:"out"`
	} `json:"expand_with_label"`
	DeriveSecret struct {
		Secret hexBytes `json:"secret"`
		Label  string   `json:"label"`
		Out    hexBytes `json:"out"`
	} `json:"derive_secret"`
	DeriveTreeSecret struct {
		Secret     hexBytes `json:"secret"`
		Label      string   `json:"label"`
		Generation uint32   `json:"generation"`
		Length     int      `json:"length"`
		Out        hexBytes `json:"out"`
	} `json:"derive_tree_secret"`
	SignWithLabel struct {
		Priv      hexBytes `json:"priv"`
		Pub       hexBytes `json:"pub"`
		Content   hexBytes `json:"content"`
		Label     string   `json:"label"`
		Signature hexBytes `json:"signature"`
	} `json:"sign_with_label"`
	EncryptWithLabel struct {
		Priv       hexBytes `json:"priv"`
		Pub        hexBytes `json:"pub"`
		Label      string   `json:"label"`
		Context    hexBytes `json:"context"`
		Plaintext  hexBytes `json:"plaintext"`
		KEMOutput  hexBytes `json:"kem_output"`
		Ciphertext hexBytes `json:"ciphertext"`
	} `json:"encrypt_with_label"`
}

// TestCryptoBasicsVectors runs crypto-basics.json for every suite in the file;
// a suite this package cannot build fails.
func TestCryptoBasicsVectors(t *testing.T) {
	var vs []cryptoBasics
	vectors.Load(t, "mls", "crypto-basics.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	seen := map[ID]bool{}
	for _, v := range vs {
		id := ID(v.CipherSuite)
		seen[id] = true
		t.Run(fmt.Sprintf("suite-%d", v.CipherSuite), func(t *testing.T) {
			s, err := New(id)
			if err != nil {
				t.Fatalf("suite in vectors is unsupported: %v", err)
			}
			t.Run("ref_hash", func(t *testing.T) {
				if got := s.RefHash(v.RefHash.Label, v.RefHash.Value); !bytes.Equal(got, v.RefHash.Out) {
					t.Fatalf("got %x, want %x", got, v.RefHash.Out)
				}
			})
			t.Run("expand_with_label", func(t *testing.T) {
				e := v.ExpandWithLabel
				got, err := s.ExpandWithLabel(e.Secret, e.Label, e.Context, e.Length)
				if err != nil || !bytes.Equal(got, e.Out) {
					t.Fatalf("got %x, %v; want %x", got, err, e.Out)
				}
			})
			t.Run("derive_secret", func(t *testing.T) {
				e := v.DeriveSecret
				if got := s.DeriveSecret(e.Secret, e.Label); !bytes.Equal(got, e.Out) {
					t.Fatalf("got %x, want %x", got, e.Out)
				}
			})
			t.Run("derive_tree_secret", func(t *testing.T) {
				e := v.DeriveTreeSecret
				got, err := s.DeriveTreeSecret(e.Secret, e.Label, e.Generation, e.Length)
				if err != nil || !bytes.Equal(got, e.Out) {
					t.Fatalf("got %x, %v; want %x", got, err, e.Out)
				}
			})
			t.Run("sign_with_label", func(t *testing.T) {
				e := v.SignWithLabel
				priv, err := s.NewSignaturePrivateKey(e.Priv)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(priv.PublicKey(), e.Pub) {
					t.Fatalf("public key %x, want %x", priv.PublicKey(), e.Pub)
				}
				if err := s.VerifyWithLabel(e.Pub, e.Label, e.Content, e.Signature); err != nil {
					t.Fatalf("vector signature: %v", err)
				}
				sig, err := s.SignWithLabel(priv, e.Label, e.Content)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyWithLabel(e.Pub, e.Label, e.Content, sig); err != nil {
					t.Fatalf("own signature: %v", err)
				}
				if err := s.VerifyWithLabel(e.Pub, e.Label+"x", e.Content, e.Signature); !errors.Is(err, ErrVerify) {
					t.Fatalf("wrong label verified: %v", err)
				}
				raw, err := priv.Bytes()
				if err != nil || !bytes.Equal(raw, e.Priv) {
					t.Fatalf("Bytes() = %x, %v; want %x", raw, err, e.Priv)
				}
			})
			t.Run("encrypt_with_label", func(t *testing.T) {
				e := v.EncryptWithLabel
				priv, err := s.NewHPKEPrivateKey(e.Priv)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(priv.PublicKey(), e.Pub) {
					t.Fatalf("public key %x, want %x", priv.PublicKey(), e.Pub)
				}
				pt, err := s.DecryptWithLabel(priv, e.Label, e.Context, e.KEMOutput, e.Ciphertext)
				if err != nil || !bytes.Equal(pt, e.Plaintext) {
					t.Fatalf("decrypt vector: %x, %v; want %x", pt, err, e.Plaintext)
				}
				kemOut, ct, err := s.EncryptWithLabel(e.Pub, e.Label, e.Context, e.Plaintext)
				if err != nil {
					t.Fatal(err)
				}
				pt, err = s.DecryptWithLabel(priv, e.Label, e.Context, kemOut, ct)
				if err != nil || !bytes.Equal(pt, e.Plaintext) {
					t.Fatalf("decrypt own: %x, %v", pt, err)
				}
				if _, err := s.DecryptWithLabel(priv, e.Label, append([]byte{1}, e.Context...), e.KEMOutput, e.Ciphertext); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("wrong context decrypted: %v", err)
				}
			})
		})
	}
	for _, id := range Supported() {
		if !seen[id] {
			t.Errorf("crypto-basics.json has no vector for %v", id)
		}
	}
}
