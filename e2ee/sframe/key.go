package sframe

import (
	"crypto/cipher"
	"crypto/hkdf"
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Labels of RFC 9605, Section 4.4.2.
const (
	labelKey  = "SFrame 1.0 Secret key "
	labelSalt = "SFrame 1.0 Secret salt "
)

// deriveKeySalt implements derive_key_salt of RFC 9605, Section 4.4.2:
// sframe_secret = HKDF-Extract("", base_key), then HKDF-Expand with the label,
// the KID as 8 bytes big-endian and the suite as 2 bytes big-endian.
func deriveKeySalt(suite CipherSuite, kid KeyID, baseKey []byte) (key, salt []byte, err error) {
	p, ok := suite.params()
	if !ok {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedSuite, suite)
	}
	if len(baseKey) == 0 {
		return nil, nil, fmt.Errorf("%w: empty base key", ErrBadKey)
	}
	secret, err := hkdf.Extract(suite.hash(), baseKey, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sframe: extract: %w", err)
	}
	var suffix [10]byte
	binary.BigEndian.PutUint64(suffix[:8], uint64(kid))
	binary.BigEndian.PutUint16(suffix[8:], uint16(suite))
	key, err = hkdf.Expand(suite.hash(), secret, labelKey+string(suffix[:]), p.nk)
	if err != nil {
		return nil, nil, fmt.Errorf("sframe: expand key: %w", err)
	}
	salt, err = hkdf.Expand(suite.hash(), secret, labelSalt+string(suffix[:]), nonceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("sframe: expand salt: %w", err)
	}
	return key, salt, nil
}

// keyState is one KID's derived key: the AEAD built once (so the hot path
// sets up no cipher), the salt, and scratch space for the nonce and the AAD.
// It is not safe for concurrent use; its owner holds a mutex.
type keyState struct {
	suite CipherSuite
	kid   KeyID
	aead  cipher.AEAD
	salt  [nonceSize]byte
	nonce [nonceSize]byte
	aad   []byte // header || metadata, reused between frames
}

func newKeyState(suite CipherSuite, kid KeyID, baseKey []byte) (*keyState, error) {
	key, salt, err := deriveKeySalt(suite, kid, baseKey)
	if err != nil {
		return nil, err
	}
	aead, err := suite.newAEAD(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	k := &keyState{suite: suite, kid: kid, aead: aead, aad: make([]byte, 0, MaxHeaderSize+64)}
	copy(k.salt[:], salt)
	return k, nil
}

// makeNonce sets k.nonce to sframe_salt XOR CTR, the CTR encoded big-endian
// in AEAD.Nn bytes (RFC 9605, Section 4.4.3).
func (k *keyState) makeNonce(ctr Counter) []byte {
	k.nonce = k.salt
	binary.BigEndian.PutUint64(k.nonce[4:], binary.BigEndian.Uint64(k.salt[4:])^uint64(ctr))
	return k.nonce[:]
}

// makeAAD sets k.aad to header || metadata (Section 4.4.3).
func (k *keyState) makeAAD(header, metadata []byte) []byte {
	k.aad = append(append(k.aad[:0], header...), metadata...)
	return k.aad
}

// anyOverlap reports whether x and y share any memory.
func anyOverlap(x, y []byte) bool {
	return len(x) > 0 && len(y) > 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(x))) < uintptr(unsafe.Pointer(unsafe.SliceData(y)))+uintptr(len(y)) &&
		uintptr(unsafe.Pointer(unsafe.SliceData(y))) < uintptr(unsafe.Pointer(unsafe.SliceData(x)))+uintptr(len(x))
}

// inexactOverlap reports whether x and y share memory without starting at
// the same address, which the AEADs of crypto/cipher reject with a panic.
func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	xs := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	ys := uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	xe, ye := xs+uintptr(len(x)), ys+uintptr(len(y))
	return xs < ye && ys < xe && xs != ys
}
