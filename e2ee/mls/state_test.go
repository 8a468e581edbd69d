package mls

import (
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"conclave/e2ee/mls/keyschedule"
)

// TestStateKeepsOutOfOrderKeys checks that a member restored from saved
// state opens the late messages it had kept keys for, exactly once, and
// refuses the ones it had already read.
func TestStateKeepsOutOfOrderKeys(t *testing.T) {
	for _, cs := range []CipherSuite{1, 5} {
		t.Run(fmt.Sprintf("suite%d", cs), func(t *testing.T) {
			cfg := Config{}
			alice, err := CreateGroup([]byte("ooo"), newBundle(t, cs, "alice"), GroupOptions{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			bb := newBundle(t, cs, "bob")
			res := commitAndMerge(t, alice, CommitOptions{Add: []*KeyPackage{bb.KeyPackage()}})
			bob, err := JoinFromWelcome(res.Welcome, bb, JoinOptions{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var msgs [][]byte
			for i := range 4 {
				m, err := alice.Seal(fmt.Appendf(nil, "message %d", i), nil)
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, m)
			}
			for _, i := range []int{3, 1} {
				if _, err := bob.ProcessMessage(msgs[i]); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			saved, err := bob.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored, err := LoadGroup(saved, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{2, 0} {
				r, err := restored.ProcessMessage(msgs[i])
				if err != nil {
					t.Fatalf("late message %d after restore: %v", i, err)
				}
				if want := fmt.Sprintf("message %d", i); string(r.ApplicationData) != want {
					t.Fatalf("late message %d: %q", i, r.ApplicationData)
				}
			}
			for i := range msgs {
				if _, err := restored.ProcessMessage(msgs[i]); !errors.Is(err, ErrGeneration) {
					t.Fatalf("message %d read twice: %v", i, err)
				}
			}
			m, err := alice.Seal([]byte("after"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := restored.ProcessMessage(m); err != nil || string(r.ApplicationData) != "after" {
				t.Fatalf("next message after restore: %v", err)
			}
			m, err = restored.Seal([]byte("reply"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := alice.ProcessMessage(m); err != nil || string(r.ApplicationData) != "reply" {
				t.Fatalf("reply from the restored member: %v", err)
			}
		})
	}
}

// TestStateOmitsEncryptionSecret checks that saved state never holds the
// epoch's encryption_secret once the secret tree has split it (RFC 9420,
// Section 9.2). The group's first epoch secret is the first Nh bytes of
// Config.Rand, so the test can compute encryption_secret itself.
func TestStateOmitsEncryptionSecret(t *testing.T) {
	seed := [32]byte{'s', 't', 'a', 't', 'e'}
	twin := mrand.NewChaCha8(seed)
	epochSecret := make([]byte, 32)
	if _, err := twin.Read(epochSecret); err != nil {
		t.Fatal(err)
	}
	g, err := CreateGroup([]byte("minimal"), newBundle(t, 1, "alice"), GroupOptions{}, Config{Rand: mrand.NewChaCha8(seed)})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := keyschedule.FromEpochSecret(g.suite, epochSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ep.EpochAuthenticator, g.EpochAuthenticator()) {
		t.Fatal("test does not reproduce the group's epoch secret")
	}
	encryptionSecret := bytes.Clone(ep.EncryptionSecret)
	if g.epoch.EncryptionSecret != nil {
		t.Fatal("the group keeps encryption_secret beside its secret tree")
	}
	before, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is consumed yet: the tree's root is encryption_secret itself.
	if !bytes.Contains(before, encryptionSecret) {
		t.Fatal("an untouched secret tree should save its root")
	}
	if _, err := g.Seal([]byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	after, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, encryptionSecret) {
		t.Fatal("saved state contains encryption_secret after it was consumed")
	}
	restored, err := LoadGroup(after, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if restored.epoch.EncryptionSecret != nil {
		t.Fatal("restored group holds an encryption_secret")
	}
}

func TestStateVersions(t *testing.T) {
	g, err := CreateGroup([]byte("versions"), newBundle(t, 1, "alice"), GroupOptions{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if saved[0] != 0 || saved[1] != stateVersion {
		t.Fatalf("state starts with version %d", int(saved[0])<<8|int(saved[1]))
	}
	for _, c := range []struct {
		version uint16
		want    string
	}{{1, "version 1 state"}, {0, "version 0"}, {stateVersion + 1, fmt.Sprintf("version %d", stateVersion+1)}} {
		t.Run(fmt.Sprint("v", c.version), func(t *testing.T) {
			old := bytes.Clone(saved)
			old[0], old[1] = byte(c.version>>8), byte(c.version)
			_, err := LoadGroup(old, Config{})
			if !errors.Is(err, ErrStateVersion) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrStateVersion saying %q", err, c.want)
			}
		})
	}
}
