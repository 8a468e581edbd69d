package keyschedule

import (
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
)

// SenderDataKeyNonce derives the key and nonce that protect a
// PrivateMessage's SenderData (RFC 9420, Section 6.3.2):
//
//	ciphertext_sample = ciphertext[0..KDF.Nh-1]
//	sender_data_key = ExpandWithLabel(sender_data_secret, "key", ciphertext_sample, AEAD.Nk)
//	sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", ciphertext_sample, AEAD.Nn)
//
// A ciphertext shorter than KDF.Nh is used whole.
func SenderDataKeyNonce(suite *ciphersuite.Suite, senderDataSecret, ciphertext []byte) (key, nonce Secret, err error) {
	sample := ciphertext
	if len(sample) > suite.Nh() {
		sample = sample[:suite.Nh()]
	}
	key, err = suite.ExpandWithLabel(senderDataSecret, "key", sample, suite.AEADKeySize())
	if err != nil {
		return nil, nil, fmt.Errorf("keyschedule: sender_data_key: %w", err)
	}
	nonce, err = suite.ExpandWithLabel(senderDataSecret, "nonce", sample, suite.AEADNonceSize())
	if err != nil {
		return nil, nil, fmt.Errorf("keyschedule: sender_data_nonce: %w", err)
	}
	return key, nonce, nil
}

// ApplyReuseGuard returns a copy of nonce with its first four bytes XORed with
// reuseGuard (RFC 9420, Section 6.3.1).
func ApplyReuseGuard(nonce []byte, reuseGuard [4]byte) []byte {
	out := append([]byte(nil), nonce...)
	for i := 0; i < len(reuseGuard) && i < len(out); i++ {
		out[i] ^= reuseGuard[i]
	}
	return out
}
