package session

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// LinkSecretSize is the length of the decoded link fragment secret
// (DESIGN.md P3: 128 random bits).
const LinkSecretSize = 16

// Labels of the admission derivations (docs/e2ee-protocol.md, "Keys and
// codes"). Changing one breaks every client of the other version.
const (
	admissionInfo  = "Conclave admission v1 "
	proofLabel     = "Conclave admission proof v1"
	groupTagLabel  = "Conclave group id v1"
	groupNonceSize = 16
	groupTagSize   = 16
	// GroupIDSize is the length of a Conclave group ID: a random nonce and
	// a tag over it keyed from the link secret.
	GroupIDSize = groupNonceSize + groupTagSize
)

// ErrAdmission: an admission proof or a group ID tag does not verify.
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

// newGroupID returns nonce || HMAC-SHA256(k, "Conclave group id v1" ||
// nonce)[:16]. A joiner that holds the link secret checks the tag of the group
// a Welcome brings it into: a server that forges a Welcome into a group of its
// own making cannot produce it. (An addition to docs/e2ee-protocol.md.)
func (k *admissionKey) newGroupID(rand io.Reader) ([]byte, error) {
	id := make([]byte, groupNonceSize, GroupIDSize)
	if _, err := io.ReadFull(rand, id); err != nil {
		return nil, fmt.Errorf("session: group id nonce: %w", err)
	}
	return append(id, k.mac(groupTagLabel, id)[:groupTagSize]...), nil
}

func (k *admissionKey) verifyGroupID(id []byte) bool {
	if len(id) != GroupIDSize {
		return false
	}
	return hmac.Equal(k.mac(groupTagLabel, id[:groupNonceSize])[:groupTagSize], id[groupNonceSize:])
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
