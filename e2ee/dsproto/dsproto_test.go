package dsproto

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"conclave/e2ee/mls"
	"conclave/signaling/token"
)

// realMLS builds a real KeyPackage, commit, Welcome and application message
// with package mls, so that tests and fuzz seeds carry the bytes the
// protocol really carries.
type realMLS struct {
	keyPackage, ref, commit, welcome, app, remove []byte
	dsKey                                         []byte
	token                                         []byte // an access token as the server mints it
}

func newRealMLS(t testing.TB) realMLS {
	t.Helper()
	cs := mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
	cfg := mls.Config{PublicHandshake: true}
	bundle := func(name string) *mls.KeyPackageBundle {
		sk, err := mls.GenerateSignatureKey(cs, nil)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: cs, Credential: mls.BasicCredential([]byte(name)), SignatureKey: sk}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	ds, err := mls.GenerateSignatureKey(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := mls.ExternalSendersExtension([][]byte{ds.PublicKey()}, []mls.Credential{mls.BasicCredential([]byte("ds"))})
	if err != nil {
		t.Fatal(err)
	}
	g, err := mls.CreateGroup(bytes.Repeat([]byte{7}, 32), bundle("alice"), mls.GroupOptions{Extensions: []mls.Extension{ext}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bob := bundle("bob")
	res, err := g.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{bob.KeyPackage()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	app, err := g.Seal([]byte("hello"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := mls.ExternalRemove(g.GroupID(), g.Epoch(), 0, ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.NewIssuer("conclave", bytes.Repeat([]byte{0x42}, 32)).Issue(token.Claims{
		Identity: "P_ABCDEFGHJKLMNPQR", Name: "Alice", Room: "room-key", Metadata: `{"kind":"browser"}`, CanPublish: true, CanSubscribe: true,
	}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return realMLS{
		keyPackage: bob.KeyPackage().Bytes(), ref: bob.KeyPackage().Ref(),
		commit: res.Commit, welcome: res.Welcome, app: app, remove: rm, dsKey: ds.PublicKey(),
		token: []byte(tok),
	}
}

// sampleMessages has one message of every type, filled with real data.
func sampleMessages(r realMLS) []Message {
	return []Message{
		&Hello{},
		&Hello{HaveEpoch: 7, GroupID: bytes.Repeat([]byte{7}, 32), Leaf: 3},
		&KeyPackage{KeyPackage: r.keyPackage, Proof: bytes.Repeat([]byte{1}, 32)},
		&KeyPackage{KeyPackage: r.keyPackage},
		&Commit{Commit: r.commit, Welcome: r.welcome},
		&Commit{Commit: r.commit},
		&Application{Message: r.app},
		&Refuse{Ref: r.ref},
		&Joined{Epoch: 1, Leaf: 1},
		&GroupCreated{GroupID: bytes.Repeat([]byte{7}, 32)},
		&ServerHello{SignatureKey: r.dsKey, Credential: []byte("conclave-ds"), Role: RoleJoin, Epoch: 4, GroupID: []byte{1, 2}},
		&JoinRequest{Ref: r.ref, KeyPackage: r.keyPackage, Proof: bytes.Repeat([]byte{2}, 32), Participant: []byte("P_abc")},
		&Handshake{Seq: 1 << 40, Message: r.commit},
		&Handshake{Seq: 2, Message: r.remove},
		&CommitResult{OK: true, Epoch: 9},
		&CommitResult{Epoch: 9},
		&MLSWelcome{Welcome: r.welcome},
		&RelayedApplication{Message: r.app, Participant: []byte("P_abc")},
		&Lobby{State: LobbyRefused, Reason: []byte("refused by a member")},
		&LobbyGone{Ref: r.ref},
		&Error{Code: CodeMalformed, Text: []byte("bad")},
		&RefreshToken{Token: r.token},
		&RefreshToken{Token: []byte("x")},
	}
}

func TestRoundTrip(t *testing.T) {
	seen := map[Type]bool{}
	for _, m := range sampleMessages(newRealMLS(t)) {
		seen[m.Type()] = true
		t.Run(m.Type().String(), func(t *testing.T) {
			b, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != Version || Type(b[1]) != m.Type() {
				t.Fatalf("header %x, want version %d type %d", b[:2], Version, m.Type())
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip: got %+v, want %+v", got, m)
			}
			// Every strict prefix is truncated and must fail.
			for n := 0; n < len(b); n++ {
				if _, err := Unmarshal(b[:n]); err == nil {
					t.Fatalf("prefix of %d of %d bytes decoded", n, len(b))
				}
			}
			if _, err := Unmarshal(append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("trailing byte: %v, want ErrMalformed", err)
			}
		})
	}
	for ty := range typeNames {
		if !seen[ty] {
			t.Errorf("no sample of %v", ty)
		}
	}
}

func TestDirections(t *testing.T) {
	for ty := range typeNames {
		if ty.FromClient() == ty.FromServer() {
			t.Errorf("%v: FromClient %v FromServer %v", ty, ty.FromClient(), ty.FromServer())
		}
	}
	if Type(8).FromClient() || Type(74).FromServer() || Type(0).FromClient() {
		t.Error("unassigned types claim a direction")
	}
}

func TestRefused(t *testing.T) {
	big := make([]byte, MaxMessageSize+1)
	big[0], big[1] = Version, byte(TypeApplication)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"header only version", []byte{1}, ErrMalformed},
		{"version 0", []byte{0, 1}, ErrVersion},
		{"version 2", []byte{2, 4, 0}, ErrVersion},
		{"type 0", []byte{1, 0}, ErrUnknownType},
		{"type 8", []byte{1, 8}, ErrUnknownType},
		{"type 63", []byte{1, 63}, ErrUnknownType},
		{"type 74", []byte{1, 74}, ErrUnknownType},
		{"type 255", []byte{1, 255}, ErrUnknownType},
		{"oversized message", big, ErrTooLarge},
		{"non-minimal 2-byte length", []byte{1, 4, 0x40, 0x01, 0}, ErrMalformed},
		{"non-minimal 4-byte length", []byte{1, 4, 0x80, 0, 0, 0x01, 0}, ErrMalformed},
		{"reserved length prefix", []byte{1, 4, 0xc0, 0, 0, 0, 0, 0, 0, 1}, ErrMalformed},
		{"length past end", []byte{1, 4, 5, 1, 2}, ErrMalformed},
		{"group id over bound", append([]byte{1, 7, 0x41, 0x00}, make([]byte, 256+8)...), ErrTooLarge},
		{"proof over bound", append([]byte{1, 2, 0, 0x40, 65}, make([]byte, 65)...), ErrTooLarge},
		{"ref over bound", append([]byte{1, 5, 0x40, 65}, make([]byte, 65)...), ErrTooLarge},
		{"commit result ok 2", []byte{1, 67, 2, 0, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"hello leaf without epoch", []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"hello epoch without leaf", []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0}, ErrMalformed},
		{"huge declared length", []byte{1, 4, 0xbf, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"refresh token empty", []byte{1, 73, 0}, ErrMalformed},
		{"refresh token with a space", []byte{1, 73, 3, 'a', ' ', 'b'}, ErrMalformed},
		{"refresh token with a control byte", []byte{1, 73, 2, 'a', '\n'}, ErrMalformed},
		{"refresh token with a high byte", []byte{1, 73, 2, 'a', 0xc3}, ErrMalformed},
		{"refresh token over bound", append([]byte{1, 73, 0x60, 0x01}, bytes.Repeat([]byte{'a'}, MaxToken+1)...), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Unmarshal(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal = %v, %v; want %v", m, err, tc.want)
			}
		})
	}
}

func TestMarshalBounds(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"group id", &GroupCreated{GroupID: make([]byte, MaxGroupID+1)}},
		{"key package", &KeyPackage{KeyPackage: make([]byte, MaxKeyPackage+1)}},
		{"proof", &KeyPackage{Proof: make([]byte, MaxProof+1)}},
		{"participant", &RelayedApplication{Participant: make([]byte, MaxParticipant+1)}},
		{"text", &Error{Text: make([]byte, MaxText+1)}},
		{"whole message", &Application{Message: make([]byte, MaxMessageSize)}},
		{"token over bound", &RefreshToken{Token: bytes.Repeat([]byte{'a'}, MaxToken+1)}},
		{"empty token", &RefreshToken{}},
		{"token not ASCII", &RefreshToken{Token: []byte("a b")}},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := Marshal(tc.m); err == nil {
				t.Fatalf("Marshal accepted %d bytes", len(b))
			}
		})
	}
	// The largest application message that fits still round-trips.
	m := &Application{Message: make([]byte, MaxMessageSize-2-4)}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxMessageSize {
		t.Fatalf("largest message is %d bytes, want %d", len(b), MaxMessageSize)
	}
	if _, err := Unmarshal(b); err != nil {
		t.Fatal(err)
	}
}

// FuzzUnmarshal checks that any input either fails to decode or decodes to
// a message that encodes back to exactly the same bytes (the encoding is
// canonical: minimal lengths, no trailing bytes), and never panics.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMessages(newRealMLS(f)) {
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 4, 0x40, 0x01, 0})
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			if m != nil {
				t.Fatal("a failed decode returned a message")
			}
			return
		}
		again, err := Marshal(m)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", m.Type(), err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip of %v changed the bytes:\n in  %x\n out %x", m.Type(), b, again)
		}
	})
}
