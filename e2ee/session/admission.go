package session

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// LinkSecretSize is the length of the decoded link fragment secret
// (DESIGN.md P3: 128 random bits).
const LinkSecretSize = 16

// Labels of the admission derivations (docs/e2ee-protocol.md, "Keys and
// codes"). Changing one breaks every client of the other version.
const (
	admissionInfo = "Conclave admission v1 "
	proofLabel    = "Conclave admission proof v1"
	attestLabel   = "Conclave attestation v1"
	// GroupIDSize is the length of a Conclave group ID (random).
	GroupIDSize = 32
)

// ErrAdmission: an admission proof or attestation does not verify.
var ErrAdmission = errors.New("session: admission proof does not verify")

// admissionKey is k = HKDF-SHA256(IKM = link secret, salt = "",
// info = "Conclave admission v1 " || roomID, L = 32) (RFC 5869).
// The server has neither input: it knows only a hash of the room ID.
type admissionKey [32]byte

func newAdmissionKey(secret []byte, roomID string) (*admissionKey, error) {
	if len(secret) != LinkSecretSize {
		return nil, fmt.Errorf("%w: link secret of %d bytes, want %d", ErrAdmission, len(secret), LinkSecretSize)
	}
	if roomID == "" {
		return nil, fmt.Errorf("%w: empty room ID", ErrAdmission)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, admissionInfo+roomID, 32)
	if err != nil {
		return nil, fmt.Errorf("session: admission key: %w", err)
	}
	var out admissionKey
	copy(out[:], k)
	clear(k)
	return &out, nil
}

func (k *admissionKey) mac(label string, data []byte) []byte {
	h := hmac.New(sha256.New, k[:])
	h.Write([]byte(label))
	h.Write(data)
	return h.Sum(nil)
}

// proof is HMAC-SHA256(k, "Conclave admission proof v1" || KeyPackageRef).
func (k *admissionKey) proof(ref []byte) []byte { return k.mac(proofLabel, ref) }

// verifyProof compares in constant time.
func (k *admissionKey) verifyProof(ref, proof []byte) bool {
	return hmac.Equal(k.proof(ref), proof)
}

// attestation is HMAC-SHA256(k, "Conclave attestation v1" ||
// epoch_authenticator || uint32 leaf): a member holding the link secret tells
// a joiner at leaf that the group it joined is the one the link's holders
// run. A server forging a Welcome into a group of its own knows that group's
// epoch authenticator but not k. (An addition to docs/e2ee-protocol.md.)
func (k *admissionKey) attestation(epochAuthenticator []byte, leaf uint32) []byte {
	b := binary.BigEndian.AppendUint32(bytes.Clone(epochAuthenticator), leaf)
	return k.mac(attestLabel, b)
}

// AdmissionProof computes the proof a joiner holding the link secret sends
// with its KeyPackage (docs/e2ee-protocol.md, "Keys and codes"). Exported for
// other implementations' tests; sessions compute it themselves.
func AdmissionProof(secret []byte, roomID string, keyPackageRef []byte) ([]byte, error) {
	k, err := newAdmissionKey(secret, roomID)
	if err != nil {
		return nil, err
	}
	defer clear(k[:])
	return k.proof(keyPackageRef), nil
}

// NewLinkSecret returns a fresh link secret.
func NewLinkSecret() []byte {
	b := make([]byte, LinkSecretSize)
	rand.Read(b)
	return b
}
