package sframe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
)

// ctrHMAC is the compound AEAD of RFC 9605, Section 4.5.1: AES-CTR for
// confidentiality and a truncated HMAC-SHA256 over lengths, nonce, AAD and
// ciphertext (encrypt-then-MAC).
//
// It keeps its HMAC state and counter blocks in the struct so that Seal and
// Open allocate nothing; it is therefore NOT safe for concurrent use. Every
// caller in this package holds the owning key's mutex.
type ctrHMAC struct {
	block cipher.Block
	mac   hash.Hash
	nt    int

	ctr    [aes.BlockSize]byte
	stream [aes.BlockSize]byte
	lens   [24]byte
	sum    [sha256.Size]byte
}

var errOpen = errors.New("sframe: message authentication failed")

func newCTRHMAC(encKey, authKey []byte, nt int) (*ctrHMAC, error) {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	return &ctrHMAC{block: block, mac: hmac.New(sha256.New, authKey), nt: nt}, nil
}

func (c *ctrHMAC) NonceSize() int { return nonceSize }
func (c *ctrHMAC) Overhead() int  { return c.nt }

// xorKeyStream applies AES-CTR with initial counter nonce || 0x00000000
// (Section 4.5.1) to src, writing dst. dst and src may be the same slice.
func (c *ctrHMAC) xorKeyStream(dst, src, nonce []byte) {
	copy(c.ctr[:nonceSize], nonce)
	binary.BigEndian.PutUint32(c.ctr[nonceSize:], 0)
	for len(src) > 0 {
		c.block.Encrypt(c.stream[:], c.ctr[:])
		n := subtle.XORBytes(dst, src, c.stream[:])
		dst, src = dst[n:], src[n:]
		// The 32-bit block counter: a frame would need 64 GiB to wrap it.
		binary.BigEndian.PutUint32(c.ctr[nonceSize:], binary.BigEndian.Uint32(c.ctr[nonceSize:])+1)
	}
}

// tag computes compute_tag of Section 4.5.1 into c.sum[:c.nt].
func (c *ctrHMAC) tag(nonce, aad, ct []byte) []byte {
	binary.BigEndian.PutUint64(c.lens[0:], uint64(len(aad)))
	binary.BigEndian.PutUint64(c.lens[8:], uint64(len(ct)))
	binary.BigEndian.PutUint64(c.lens[16:], uint64(c.nt))
	c.mac.Reset()
	c.mac.Write(c.lens[:])
	c.mac.Write(nonce)
	c.mac.Write(aad)
	c.mac.Write(ct)
	return c.mac.Sum(c.sum[:0])[:c.nt]
}

// Seal implements AEAD.Encrypt of Section 4.5.1, appending ct || tag to dst.
func (c *ctrHMAC) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != nonceSize {
		panic("sframe: bad nonce length") // unreachable: nonces are built in this package
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.nt)
	ct := out[:len(plaintext)]
	c.xorKeyStream(ct, plaintext, nonce)
	copy(out[len(plaintext):], c.tag(nonce, aad, ct))
	return ret
}

// Open implements AEAD.Decrypt of Section 4.5.1: the tag is checked in
// constant time before anything is decrypted.
func (c *ctrHMAC) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != nonceSize || len(ciphertext) < c.nt {
		return nil, errOpen
	}
	inner, tag := ciphertext[:len(ciphertext)-c.nt], ciphertext[len(ciphertext)-c.nt:]
	if subtle.ConstantTimeCompare(tag, c.tag(nonce, aad, inner)) != 1 {
		return nil, errOpen
	}
	ret, out := sliceForAppend(dst, len(inner))
	c.xorKeyStream(out, inner, nonce)
	return ret, nil
}

// sliceForAppend extends in by n bytes, reusing its capacity when it can,
// and returns the whole slice and the n new bytes.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}
