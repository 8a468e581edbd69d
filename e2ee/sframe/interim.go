package sframe

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Interim keying, until MLS keys replace it (Conclave shared interfaces,
// point 3). It exists only so that media is encrypted before the MLS work lands; the
// "E2EE meetings" issue deletes this file. Everyone holding the meeting link
// secret can derive every key, so it protects against the server only.

// InterimSuite is the cipher suite of the interim keying.
const InterimSuite = AES128GCMSHA256_128

// InterimLinkSecretSize is the length of the decoded link fragment secret.
const InterimLinkSecretSize = 16

// interimInfo prefixes the room ID in the HKDF info.
const interimInfo = "Conclave interim SFrame base key "

// InterimBaseKey derives the meeting's shared base key from the link secret
// (the 16 bytes of the URL fragment, base64url-decoded) and the room ID:
// HKDF-Expand(HKDF-Extract(salt = "", IKM = secret),
// "Conclave interim SFrame base key " + roomID, 16) with SHA-256.
func InterimBaseKey(linkSecret []byte, roomID string) ([]byte, error) {
	if len(linkSecret) != InterimLinkSecretSize {
		return nil, fmt.Errorf("%w: link secret is %d bytes, want %d", ErrBadKey, len(linkSecret), InterimLinkSecretSize)
	}
	prk, err := hkdf.Extract(sha256.New, linkSecret, nil)
	if err != nil {
		return nil, fmt.Errorf("sframe: interim extract: %w", err)
	}
	k, err := hkdf.Expand(sha256.New, prk, interimInfo+roomID, InterimSuite.KeySize())
	if err != nil {
		return nil, fmt.Errorf("sframe: interim expand: %w", err)
	}
	return k, nil
}

// NewInterimSender returns a participant's Sender under the interim keying,
// with a random 63-bit KID read from rand (crypto/rand.Reader in production).
func NewInterimSender(linkSecret []byte, roomID string, rand io.Reader) (*Sender, error) {
	base, err := InterimBaseKey(linkSecret, roomID)
	if err != nil {
		return nil, err
	}
	defer clear(base)
	var b [8]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("sframe: interim kid: %w", err)
	}
	kid := KeyID(binary.BigEndian.Uint64(b[:]) >> 1)
	return NewSender(InterimSuite, kid, base)
}

// NewInterimReceiver returns a Receiver that derives the key of any KID it
// sees from the meeting's shared base key (RFC 9605, Section 4.4.2), keeping
// a replay window per KID.
func NewInterimReceiver(linkSecret []byte, roomID string, opts ...ReceiverOption) (*Receiver, error) {
	base, err := InterimBaseKey(linkSecret, roomID)
	if err != nil {
		return nil, err
	}
	r, err := NewReceiver(InterimSuite, opts...)
	if err != nil {
		return nil, err
	}
	r.source = func(KeyID) ([]byte, uint64, bool) { return base, 0, true }
	return r, nil
}
