package ciphersuite

import "errors"

// Errors returned by this package; test with errors.Is.
var (
	// ErrUnsupportedSuite means the cipher suite is not one of RFC 9420,
	// Section 17.1 (or is GREASE or reserved).
	ErrUnsupportedSuite = errors.New("ciphersuite: unsupported cipher suite")
	// ErrLength means a requested KDF output length is negative or too long
	// for the KDF (more than 255*Nh bytes) or the KDFLabel (uint16).
	ErrLength = errors.New("ciphersuite: invalid output length")
	// ErrDecrypt is the single error for any failure to open an AEAD or HPKE
	// ciphertext.
	ErrDecrypt = errors.New("ciphersuite: decryption failed")
	// ErrVerify is the single error for any signature that does not verify.
	ErrVerify = errors.New("ciphersuite: signature verification failed")
	// ErrPublicKey means a public key is malformed or not valid for the
	// suite's KEM or signature scheme.
	ErrPublicKey = errors.New("ciphersuite: invalid public key")
	// ErrPrivateKey means a private key is malformed, invalid for the suite,
	// or belongs to another suite.
	ErrPrivateKey = errors.New("ciphersuite: invalid private key")
	// ErrKeySize means an AEAD key or nonce has the wrong length.
	ErrKeySize = errors.New("ciphersuite: wrong AEAD key or nonce size")
)
