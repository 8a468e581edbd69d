package session

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"regexp"
	"testing"
)

func TestIdentityRoundTrip(t *testing.T) {
	for _, id := range []Identity{
		{Participant: "P_ABC", DisplayName: "Ada", Kind: KindBrowser},
		{Participant: "P_X", DisplayName: "", Kind: KindBot},
		{Participant: "P_G", DisplayName: "Desk phone", Kind: KindPhone, Detail: "+41 22 000 00 00 via gw1"},
		{Participant: "P_U", DisplayName: "Zoë 日本", Kind: KindBrowser, Detail: string(bytes.Repeat([]byte("d"), 300))},
	} {
		t.Run(id.DisplayName+"/"+id.Kind.String(), func(t *testing.T) {
			b, err := id.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseIdentity(b)
			if err != nil || got != id {
				t.Fatalf("ParseIdentity = %+v, %v", got, err)
			}
		})
	}
}

func TestIdentityRefused(t *testing.T) {
	good, _ := Identity{Participant: "P_A", DisplayName: "a", Kind: KindBot}.MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":              nil,
		"version 2":          append([]byte{2}, good[1:]...),
		"trailing byte":      append(bytes.Clone(good), 0),
		"truncated":          good[:len(good)-1],
		"kind 0":             {1, 3, 'P', '_', 'A', 0, 0, 0},
		"kind 4":             {1, 3, 'P', '_', 'A', 0, 4, 0},
		"no participant":     {1, 0, 0, 2, 0},
		"non-minimal length": {1, 0x40, 3, 'P', '_', 'A', 0, 2, 0},
		"bad UTF-8 name":     {1, 1, 'P', 1, 0xff, 2, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseIdentity(b); !errors.Is(err, ErrIdentity) {
				t.Fatalf("ParseIdentity(%x) = %v, want ErrIdentity", b, err)
			}
		})
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, id := range []Identity{
		{Participant: "P_ABC", DisplayName: "Ada", Kind: KindBrowser},
		{Participant: "P_G", DisplayName: "Phone", Kind: KindPhone, Detail: "gw"},
	} {
		b, _ := id.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			return
		}
		// One encoding per identity: re-encoding gives the same bytes.
		again, err := id.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x -> %+v -> %x (%v)", b, id, again, err)
		}
	})
}

// The proof follows docs/e2ee-protocol.md exactly, computed here from the
// standard library alone; a wrong secret or room gives another proof.
func TestAdmissionProof(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, LinkSecretSize)
	ref := bytes.Repeat([]byte{0xab}, 32)
	k, err := hkdf.Key(sha256.New, secret, nil, "Conclave admission v1 room-1", 32)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, k)
	h.Write([]byte("Conclave admission proof v1"))
	h.Write(ref)
	want := h.Sum(nil)
	got, err := AdmissionProof(secret, "room-1", ref)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AdmissionProof = %x, %v; want %x", got, err, want)
	}
	other := bytes.Clone(secret)
	other[0] ^= 1
	for name, p := range map[string]func() ([]byte, error){
		"other secret": func() ([]byte, error) { return AdmissionProof(other, "room-1", ref) },
		"other room":   func() ([]byte, error) { return AdmissionProof(secret, "room-2", ref) },
		"other ref":    func() ([]byte, error) { return AdmissionProof(secret, "room-1", ref[1:]) },
	} {
		if q, _ := p(); bytes.Equal(q, want) {
			t.Errorf("%s gives the same proof", name)
		}
	}
	if _, err := AdmissionProof(secret[:15], "room-1", ref); !errors.Is(err, ErrAdmission) {
		t.Errorf("short secret: %v", err)
	}
}

func TestSecurityCodeFormat(t *testing.T) {
	re := regexp.MustCompile(`^\d{4} \d{4} \d{4} \d{4} \d{4}$`)
	a := SecurityCode([]byte("epoch authenticator one........."))
	b := SecurityCode([]byte("epoch authenticator two........."))
	if !re.MatchString(a) || !re.MatchString(b) || a == b {
		t.Fatalf("codes %q %q", a, b)
	}
	if SecurityCode([]byte("epoch authenticator one.........")) != a {
		t.Fatal("code is not deterministic")
	}
}

// FuzzHandle feeds arbitrary DS messages to a member and a joiner: no panic,
// and a message that fails to decode changes nothing (no output).
func FuzzHandle(f *testing.F) {
	n := newNetwork(f)
	cs := n.meeting("a", "b")
	for _, m := range n.ds.seen {
		if len(m) > 1 && m[1] >= 64 {
			f.Add(m)
		}
	}
	f.Add([]byte{1, 66, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	st, err := cs[0].s.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Restore(cs[0].s.cfg, st, n.now)
		if err != nil {
			t.Fatal(err)
		}
		epoch := s.Epoch()
		_, derr := decode(b)
		o, err := s.Handle(b, n.now)
		if derr != nil && err == nil {
			t.Fatalf("Handle accepted what decode refused: %v", derr)
		}
		if derr != nil && (len(o.Send) != 0 || s.Epoch() != epoch) {
			t.Fatalf("undecodable message had effects: %d sent, epoch %d -> %d", len(o.Send), epoch, s.Epoch())
		}
	})
}
