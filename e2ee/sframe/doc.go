// Package sframe implements SFrame, RFC 9605: end-to-end encryption of media
// frames, with the MLS key binding of its Section 5.2 and the clear-prefix
// rules Conclave uses for VP8, Opus and H.264.
//
// It implements:
//   - the five cipher suites of Section 4.5, including the AES-CTR + HMAC
//     compound AEAD of Section 4.5.1 (CipherSuite);
//   - the header encoding of Section 4.3 (Header, ParseHeader);
//   - key and salt derivation (Section 4.4.2), encryption and decryption with
//     metadata (Sections 4.4.3, 4.4.4);
//   - per-sender counters that never repeat (Section 9.1) and per-KID replay
//     windows (Section 9.3);
//   - the MLS binding (Section 5.2): base key per epoch from an Exporter, KIDs
//     from context ID, leaf index and low epoch bits (KIDLayout);
//
// The package has no network code, goroutines, timers or logging; time comes
// in as a parameter. It sees media plaintext and keys, so it must never log,
// print or keep more of either than one frame's scratch space and the
// derived keys it was given.
//
// # Use
//
// A sender encrypts with one KID and one counter for all its tracks:
//
//	s, err := sframe.NewSender(sframe.AES128GCMSHA256_128, kid, baseKey)
//	wire, err := s.Encrypt(buf[:0], metadata, plaintext) // header || ciphertext
//
// A receiver holds a key and a replay window per KID:
//
//	r, err := sframe.NewReceiver(sframe.AES128GCMSHA256_128)
//	err = r.AddKey(kid, baseKey)
//	plain, err := r.Decrypt(out[:0], metadata, wire)
//
// For media, EncryptFrame and DecryptFrame split the codec's clear prefix
// (which becomes the metadata) from the part that is encrypted; the wire frame
// is clear prefix || header || ciphertext:
//
//	wire, err := sframe.EncryptFrame(s, sframe.CodecVP8, buf[:0], frame)
//	frame, err := sframe.DecryptFrame(r, sframe.CodecVP8, out[:0], wire)
//
// With MLS, NewMLSSender and NewMLSReceiver derive keys from each epoch's
// exporter; the receiver derives each KID's key lazily, and retires old
// epochs after a grace period when the caller calls Expire with its clock.
//
// # Errors
//
// Every error wraps one sentinel of errors.go. A frame that fails
// authentication returns ErrAuth and nothing more; ErrUnknownKey is the only
// failure after which keeping the frame for later makes sense.
//
// # Performance
//
// Encrypt, Decrypt, EncryptFrame and DecryptFrame write into the caller's
// buffer and allocate nothing when it is large enough. AEAD objects are built
// once per key.
package sframe
