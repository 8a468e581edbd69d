package mls

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conclave/internal/vectors"
)

type passiveClientVector struct {
	CipherSuite  uint16 `json:"cipher_suite"`
	ExternalPSKs []struct {
		PSKID hexBytes `json:"psk_id"`
		PSK   hexBytes `json:"psk"`
	} `json:"external_psks"`
	KeyPackage                hexBytes `json:"key_package"`
	SignaturePriv             hexBytes `json:"signature_priv"`
	EncryptionPriv            hexBytes `json:"encryption_priv"`
	InitPriv                  hexBytes `json:"init_priv"`
	Welcome                   hexBytes `json:"welcome"`
	RatchetTree               hexBytes `json:"ratchet_tree"`
	InitialEpochAuthenticator hexBytes `json:"initial_epoch_authenticator"`
	Epochs                    []struct {
		Proposals          []hexBytes `json:"proposals"`
		Commit             hexBytes   `json:"commit"`
		EpochAuthenticator hexBytes   `json:"epoch_authenticator"`
	} `json:"epochs"`
}

// TestPassiveClientVectors runs every passive-client-*.json file
// (vectors FORMAT.md, "Passive Client Scenarios"), one subtest per file
// and one per case. An unsupported cipher suite fails.
func TestPassiveClientVectors(t *testing.T) {
	dir := vectors.Dir(t, "mls")
	files, err := filepath.Glob(filepath.Join(dir, "passive-client-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no passive-client-*.json in %s: %v", dir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			var vs []passiveClientVector
			vectors.Load(t, "mls", name, &vs)
			if len(vs) == 0 {
				t.Fatal("no cases")
			}
			for i := range vs {
				v := &vs[i]
				t.Run(fmt.Sprintf("case%03d_suite%d", i, v.CipherSuite), func(t *testing.T) {
					runPassiveClient(t, v)
				})
			}
		})
	}
}

func runPassiveClient(t *testing.T, v *passiveClientVector) {
	kp, err := ParseKeyPackage(v.KeyPackage)
	if err != nil {
		t.Fatalf("key package: %v", err)
	}
	if kp.CipherSuite() != CipherSuite(v.CipherSuite) {
		t.Fatalf("key package suite %d, vector %d", kp.CipherSuite(), v.CipherSuite)
	}
	bundle, err := bundleFromKeys(kp, v.InitPriv, v.EncryptionPriv, v.SignaturePriv)
	if err != nil {
		t.Fatalf("private keys do not match the key package: %v", err)
	}
	psks := map[string][]byte{}
	for _, p := range v.ExternalPSKs {
		psks[string(p.PSKID)] = p.PSK
	}
	nb, na := kp.Lifetime()
	now := nb.Add(na.Sub(nb) / 2)
	cfg := Config{
		Now:         func() time.Time { return now },
		MaxLifetime: -1, // the vectors' KeyPackages last until 2^64-1
		ExternalPSK: func(id []byte) ([]byte, bool) { p, ok := psks[string(id)]; return p, ok },
	}
	g, err := JoinFromWelcome(v.Welcome, bundle, JoinOptions{RatchetTree: v.RatchetTree}, cfg)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if !bytes.Equal(g.EpochAuthenticator(), v.InitialEpochAuthenticator) {
		t.Fatalf("initial epoch authenticator %x, want %x", g.EpochAuthenticator(), []byte(v.InitialEpochAuthenticator))
	}
	for i, ep := range v.Epochs {
		for j, p := range ep.Proposals {
			if _, err := g.ProcessMessage(p); err != nil {
				t.Fatalf("epoch %d: proposal %d: %v", i, j, err)
			}
		}
		r, err := g.ProcessMessage(ep.Commit)
		if err != nil {
			t.Fatalf("epoch %d: commit: %v", i, err)
		}
		if r.Commit == nil {
			t.Fatalf("epoch %d: commit message processed as %v", i, r.Type)
		}
		if !bytes.Equal(g.EpochAuthenticator(), ep.EpochAuthenticator) {
			t.Fatalf("epoch %d: epoch authenticator %x, want %x", i, g.EpochAuthenticator(), []byte(ep.EpochAuthenticator))
		}
	}
}
