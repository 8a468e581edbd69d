package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
)

func startPeer(t *testing.T) (*Peer, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	p, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, ctx
}

// keyPackage holds what the test needs from a KeyPackage (RFC 9420,
// Section 10) and the byte ranges its two signatures cover.
type keyPackage struct {
	suite        uint16
	initKey      []byte
	encKey       []byte
	sigKey       []byte
	identity     []byte
	leafTBS      []byte // LeafNodeTBS for leaf_node_source = key_package
	leafSig      []byte
	keyPackageTB []byte // KeyPackageTBS
	kpSig        []byte
}

// parseKeyPackageMessage decodes an MLSMessage carrying a KeyPackage with
// the lower half's TLS reader only (package mls owns the full types).
func parseKeyPackageMessage(b []byte) (*keyPackage, error) {
	r := tls.NewReader(b)
	u16 := func() uint16 {
		v, _ := r.Uint16()
		return v
	}
	if v, wf := u16(), u16(); v != 1 || wf != 5 {
		return nil, fmt.Errorf("MLSMessage version %d wire_format %d, want mls10 key_package", v, wf)
	}
	kpStart := r.Offset()
	if v := u16(); v != 1 {
		return nil, fmt.Errorf("KeyPackage version %d", v)
	}
	kp := &keyPackage{suite: u16()}
	var err error
	if kp.initKey, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	leafStart := r.Offset()
	if kp.encKey, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	if kp.sigKey, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	credType, err := r.Uint16()
	if err != nil {
		return nil, err
	}
	if credType != 1 {
		return nil, fmt.Errorf("credential type %d, want basic", credType)
	}
	if kp.identity, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	for range 5 { // Capabilities: versions, cipher_suites, extensions, proposals, credentials
		if _, err := r.Vector(1 << 12); err != nil {
			return nil, err
		}
	}
	source, err := r.Uint8()
	if err != nil {
		return nil, err
	}
	if source != 1 {
		return nil, fmt.Errorf("leaf_node_source %d, want key_package", source)
	}
	if _, err := r.Uint64(); err != nil { // lifetime.not_before
		return nil, err
	}
	if _, err := r.Uint64(); err != nil { // lifetime.not_after
		return nil, err
	}
	if _, err := r.Vector(1 << 16); err != nil { // leaf extensions
		return nil, err
	}
	kp.leafTBS = b[leafStart:r.Offset()]
	if kp.leafSig, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	if _, err := r.Vector(1 << 16); err != nil { // KeyPackage extensions
		return nil, err
	}
	kp.keyPackageTB = b[kpStart:r.Offset()]
	if kp.kpSig, err = r.Opaque(1 << 10); err != nil {
		return nil, err
	}
	return kp, r.Done()
}

// TestTSMLSKeyPackagesVerify checks the lower half against ts-mls in every
// suite: KeyPackages ts-mls signs verify with VerifyWithLabel (labels,
// SignContent encoding, Ed25519/Ed448 and DER ECDSA), its HPKE keys parse,
// and a flipped bit fails.
func TestTSMLSKeyPackagesVerify(t *testing.T) {
	p, ctx := startPeer(t)
	for _, id := range ciphersuite.Supported() {
		t.Run(id.String(), func(t *testing.T) {
			s, err := ciphersuite.New(id)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := p.KeyPackage(ctx, "kp-"+id.String(), uint16(id))
			if err != nil {
				t.Fatal(err)
			}
			kp, err := parseKeyPackageMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			if kp.suite != uint16(id) || string(kp.identity) != "kp-"+id.String() {
				t.Fatalf("suite %d identity %q", kp.suite, kp.identity)
			}
			for _, k := range [][]byte{kp.initKey, kp.encKey} {
				if err := s.ValidateHPKEPublicKey(k); err != nil {
					t.Fatalf("HPKE key: %v", err)
				}
			}
			if err := s.ValidateSignaturePublicKey(kp.sigKey); err != nil {
				t.Fatalf("%v (key %x)", err, kp.sigKey)
			}
			if err := s.VerifyWithLabel(kp.sigKey, "LeafNodeTBS", kp.leafTBS, kp.leafSig); err != nil {
				t.Fatalf("LeafNode signature: %v", err)
			}
			if err := s.VerifyWithLabel(kp.sigKey, "KeyPackageTBS", kp.keyPackageTB, kp.kpSig); err != nil {
				t.Fatalf("KeyPackage signature: %v", err)
			}
			flipped := bytes.Clone(kp.keyPackageTB)
			flipped[len(flipped)/2] ^= 1
			if err := s.VerifyWithLabel(kp.sigKey, "KeyPackageTBS", flipped, kp.kpSig); !errors.Is(err, ciphersuite.ErrVerify) {
				t.Fatalf("flipped KeyPackageTBS verified: %v", err)
			}
		})
	}
}

// TestPeerGroupFlow drives a ts-mls-only group through the Go client, the
// sequence the package mls interop test interleaves with Go members.
func TestPeerGroupFlow(t *testing.T) {
	p, ctx := startPeer(t)
	const suite = uint16(ciphersuite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if _, err := p.CreateGroup(ctx, "alice", suite, []byte("room")); err != nil {
		t.Fatal(err)
	}
	bobKP, err := p.KeyPackage(ctx, "bob", suite)
	if err != nil {
		t.Fatal(err)
	}
	add, err := p.Add(ctx, "alice", [][]byte{bobKP}, PublicMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(add.Welcome) == 0 || add.Epoch.Epoch != 1 {
		t.Fatalf("add: epoch %d, welcome %d bytes", add.Epoch.Epoch, len(add.Welcome))
	}
	joined, err := p.Join(ctx, "bob", add.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joined.EpochAuthenticator, add.EpochAuthenticator) {
		t.Fatal("joiner's epoch authenticator differs")
	}
	upd, err := p.Commit(ctx, "bob", PrivateMessage)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Process(ctx, "alice", upd.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 2 || !bytes.Equal(got.EpochAuthenticator, upd.EpochAuthenticator) {
		t.Fatalf("after bob's commit: epoch %d, authenticators equal %v", got.Epoch, bytes.Equal(got.EpochAuthenticator, upd.EpochAuthenticator))
	}
	ea, err := p.Export(ctx, "alice", "conclave sframe", []byte{1}, 32)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := p.Export(ctx, "bob", "conclave sframe", []byte{1}, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(ea) != 32 || !bytes.Equal(ea, eb) {
		t.Fatal("exported secrets differ")
	}
	rm, err := p.Remove(ctx, "alice", []uint32{1}, PrivateMessage)
	if err != nil {
		t.Fatal(err)
	}
	if rm.Epoch.Epoch != 3 {
		t.Fatalf("remove: epoch %d", rm.Epoch.Epoch)
	}
	st, err := p.State(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 1 || st.Members[0].Identity != "alice" {
		t.Fatalf("roster after remove: %+v", st.Members)
	}
	// A rejected request is an ErrPeer and the driver keeps serving.
	if _, err := p.Process(ctx, "alice", upd.Commit); !errors.Is(err, ErrPeer) {
		t.Fatalf("replayed commit: %v", err)
	}
	if _, err := p.EpochAuthenticator(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}
