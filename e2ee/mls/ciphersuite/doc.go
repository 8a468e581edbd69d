// Package ciphersuite implements the cryptographic primitives of the seven MLS
// cipher suites of RFC 9420, Section 17.1: the suite's hash, HKDF with the MLS
// labels (ExpandWithLabel, DeriveSecret, DeriveTreeSecret; Sections 8 and 9),
// HMAC, the AEAD, HPKE base mode with EncryptWithLabel/DecryptWithLabel
// (RFC 9180; RFC 9420, Section 5.1.3), DeriveKeyPair (Section 5.1),
// signatures with SignWithLabel/VerifyWithLabel (Section 5.1.2) and the hash
// references of Section 5.2.
//
// HPKE for X25519 and the NIST curves, ECDSA, Ed25519, HKDF, HMAC and the
// AEADs come from the Go standard library; X448 (HPKE) and Ed448 come from
// github.com/cloudflare/circl.
//
// Randomness. Key generation takes an io.Reader, so a test can replay it.
// HPKE encapsulation and ECDSA signing draw from crypto/rand because Go 1.26's
// crypto/hpke and crypto/ecdsa accept no other source; tests make them
// deterministic with testing/cryptotest.SetGlobalRandom. Ed25519 and Ed448
// signatures are deterministic.
//
// Secrets. The package sees private keys, secrets and plaintexts. It never
// logs, stores or prints them: HPKEPrivateKey and SignaturePrivateKey redact
// themselves in fmt and log/slog output, MACs are compared in constant time,
// and every failure to decrypt or verify is one opaque error (ErrDecrypt,
// ErrVerify) that says nothing about why.
//
// A Suite is immutable and safe for concurrent use. The package has no global
// mutable state, goroutines or I/O.
package ciphersuite
